//! Entry points for the fuzz targets in `fuzz/` (not a stable API): this module's
//! crate-private parsers and encoders — the POST body peek, the routing-header checks, the
//! header value sentinel and SSE framing — behind plain public functions.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::value::RawValue;
use serde_json::Value;
use switchboard_protocol::jsonrpc::{decode, DecodeLimits, Decoded, Inbound};
use switchboard_protocol::ErrorObject;

use super::peek::{classify, slow, Body, Routing};
use crate::server::HeaderParam;

/// What the peek made of a POST body, in a comparable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeekView {
    /// A modern request, with its routing fields when the body decodes to one request.
    Modern(Option<RoutingFields>),
    /// `initialize` without modern `_meta`.
    Initialize,
    /// Anything else.
    Other,
}

/// The routing fields of a modern request, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingFields {
    /// `_meta`: the protocol version (when a string) and whether capabilities are present.
    pub meta: Option<(Option<String>, bool)>,
    /// `params.name`, when a string.
    pub name: Option<String>,
    /// `params.uri`, when a string.
    pub uri: Option<String>,
    /// `params.taskId`, when a string.
    pub task_id: Option<String>,
    /// `params.arguments`, as written.
    pub arguments: Option<String>,
}

fn fields(r: &Routing<'_>) -> RoutingFields {
    RoutingFields {
        meta: r.meta.as_ref().map(|m| (m.version.as_deref().map(str::to_owned), m.capabilities)),
        name: r.name.as_deref().map(str::to_owned),
        uri: r.uri.as_deref().map(str::to_owned),
        task_id: r.task_id.as_deref().map(str::to_owned),
        arguments: r.arguments.map(|a| a.get().to_owned()),
    }
}

/// The params text the modern path sees, when the body decodes to one request.
fn decoded_params(body: &[u8]) -> Option<String> {
    match decode(body, &DecodeLimits::default()) {
        Ok(Decoded::Single(Inbound::Request(r))) => Some(r.params.as_deref().map_or("{}", RawValue::get).to_owned()),
        _ => None,
    }
}

/// The server's one-pass peek (falling back to the strict params parse when it cannot read
/// the routing fields itself).
pub fn peek(body: &[u8]) -> PeekView {
    match classify(body) {
        Body::Modern(Some(r)) => PeekView::Modern(decoded_params(body).map(|_| fields(&r))),
        Body::Modern(None) => PeekView::Modern(decoded_params(body).map(|p| fields(&Routing::parse(&p)))),
        Body::Initialize => PeekView::Initialize,
        Body::Other => PeekView::Other,
    }
}

/// The two parses the one-pass peek replaces: a lenient era peek, then the strict parse of the
/// decoded params. [`peek`] must always agree with it.
pub fn peek_reference(body: &[u8]) -> PeekView {
    match slow(body) {
        Body::Modern(_) => PeekView::Modern(decoded_params(body).map(|p| fields(&Routing::parse(&p)))),
        Body::Initialize => PeekView::Initialize,
        Body::Other => PeekView::Other,
    }
}

/// Decodes an `Mcp-Name`/`Mcp-Param-*` value (the `=?base64?…?=` sentinel, or literal).
pub fn decode_header_value(raw: &str) -> Result<Cow<'_, str>, ErrorObject> {
    super::headers::decode_value(raw)
}

/// The params field `Mcp-Name` mirrors for `method` (`"name"`, `"uri"`, `"taskId"`), if any.
pub fn mirrored_field(method: &str) -> Option<&'static str> {
    use super::headers::Mirrored;
    super::headers::mirrored_field(method).map(|m| match m {
        Mirrored::Name => "name",
        Mirrored::Uri => "uri",
        Mirrored::TaskId => "taskId",
    })
}

/// Checks `Mcp-Method` and `Mcp-Name` against the body's method and mirrored field.
pub fn check_routing(headers: &HeaderMap, method: &str, mirrored: Option<Option<&str>>) -> Result<(), ErrorObject> {
    super::headers::check_routing(headers, method, mirrored)
}

/// Checks the `Mcp-Param-*` headers of a `tools/call` against its arguments.
pub fn check_params(headers: &HeaderMap, params: &[HeaderParam], arguments: Option<&Value>) -> Result<(), ErrorObject> {
    super::headers::check_params(headers, params, arguments)
}

/// One SSE `message` event carrying `data`, with an optional id.
pub fn sse_event(id: Option<&str>, data: &[u8]) -> Bytes {
    super::sse::event(id, data)
}

/// The SSE priming event: an id, empty data and the reconnection delay.
pub fn sse_priming(id: &str, retry: Duration) -> Bytes {
    super::sse::priming(id, retry)
}

/// The SSE keep-alive comment.
pub fn sse_keep_alive() -> Bytes {
    super::sse::keep_alive()
}
