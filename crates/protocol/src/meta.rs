//! `_meta` objects: the per-request metadata of the modern era, the server identity on results,
//! and the subscription id on notifications.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::capabilities::{ClientCapabilities, Implementation};
use crate::{JsonObject, RequestId};

/// `_meta` key: the protocol version of a modern request.
pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key: the client capabilities of a modern request.
pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key: the client's implementation info.
pub const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// `_meta` key: the log level a modern request opts in to.
pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
/// `_meta` key: the server's implementation info on a result.
pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
/// `_meta` key: the subscription a notification was delivered on.
pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// A progress token: a string or an integer, like a request id.
pub type ProgressToken = RequestId;

/// The `_meta` of a request. In the modern era `protocolVersion` and `clientCapabilities` are
/// required; legacy requests carry at most a `progressToken`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestMeta {
    /// The protocol version this request speaks (modern era).
    #[serde(rename = "io.modelcontextprotocol/protocolVersion", default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// The capabilities the client has for this request (modern era).
    #[serde(rename = "io.modelcontextprotocol/clientCapabilities", default, skip_serializing_if = "Option::is_none")]
    pub client_capabilities: Option<ClientCapabilities>,
    /// The client's self-reported identity.
    #[serde(rename = "io.modelcontextprotocol/clientInfo", default, skip_serializing_if = "Option::is_none")]
    pub client_info: Option<Implementation>,
    /// The log level this request opts in to; absent means no log notifications.
    #[serde(rename = "io.modelcontextprotocol/logLevel", default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LoggingLevel>,
    /// Set when the caller wants progress notifications.
    #[serde(rename = "progressToken", default, skip_serializing_if = "Option::is_none")]
    pub progress_token: Option<ProgressToken>,
    /// Any other keys, kept as they came.
    #[serde(flatten)]
    pub other: JsonObject,
}

/// The `_meta` of a result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultMeta {
    /// The server's identity (modern era).
    #[serde(rename = "io.modelcontextprotocol/serverInfo", default, skip_serializing_if = "Option::is_none")]
    pub server_info: Option<Arc<Implementation>>,
    /// Any other keys.
    #[serde(flatten)]
    pub other: JsonObject,
}

impl ResultMeta {
    /// Whether nothing would be serialized.
    pub fn is_empty(&self) -> bool {
        self.server_info.is_none() && self.other.is_empty()
    }
}

/// The `_meta` of a notification.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NotificationMeta {
    /// The `subscriptions/listen` request this notification was delivered on.
    #[serde(rename = "io.modelcontextprotocol/subscriptionId", default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<RequestId>,
    /// Any other keys.
    #[serde(flatten)]
    pub other: JsonObject,
}

/// Params that carry nothing but `_meta` (e.g. `server/discover`, `ping`, list requests
/// without a cursor).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestParams {
    /// The request metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<RequestMeta>,
}

/// Params of a paginated list request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaginatedRequestParams {
    /// The request metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<RequestMeta>,
    /// Where the previous page ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Syslog severity levels (RFC 5424), least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoggingLevel {
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Notice.
    Notice,
    /// Warning.
    Warning,
    /// Error.
    Error,
    /// Critical.
    Critical,
    /// Alert.
    Alert,
    /// Emergency.
    Emergency,
}

/// `_meta` key: the W3C trace context of the caller (the OpenTelemetry convention for MCP).
pub const TRACEPARENT: &str = "traceparent";

impl RequestMeta {
    /// The caller's trace context from `_meta.traceparent`, when it is present and well formed.
    pub fn trace_parent(&self) -> Option<TraceParent> {
        self.other.get(TRACEPARENT)?.as_str()?.parse().ok()
    }
}

/// A W3C `traceparent` (version 00): the trace a request belongs to and the span that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace's id; never all zeros.
    pub trace_id: [u8; 16],
    /// The calling span's id; never all zeros.
    pub parent_id: [u8; 8],
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
}

/// Why a `traceparent` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a W3C traceparent (want 00-<32 hex>-<16 hex>-<2 hex>, ids not all zero)")]
pub struct BadTraceParent;

impl TraceParent {
    /// Whether the caller sampled this trace.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }
}

impl std::str::FromStr for TraceParent {
    type Err = BadTraceParent;

    /// Parses version `00`; a higher version is read by its first four fields, as the
    /// specification asks of parsers that do not know it.
    fn from_str(s: &str) -> Result<Self, BadTraceParent> {
        let mut parts = s.trim().split('-');
        let version = parts.next().ok_or(BadTraceParent)?;
        let (trace, parent, flags) = (
            parts.next().ok_or(BadTraceParent)?,
            parts.next().ok_or(BadTraceParent)?,
            parts.next().ok_or(BadTraceParent)?,
        );
        let [v] = unhex::<1>(version).ok_or(BadTraceParent)?;
        if v == 0xff || (v == 0 && parts.next().is_some()) {
            return Err(BadTraceParent);
        }
        let trace_id = unhex::<16>(trace).ok_or(BadTraceParent)?;
        let parent_id = unhex::<8>(parent).ok_or(BadTraceParent)?;
        let [flags] = unhex::<1>(flags).ok_or(BadTraceParent)?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return Err(BadTraceParent);
        }
        Ok(Self { trace_id, parent_id, flags })
    }
}

impl std::fmt::Display for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "00-{}-{}-{:02x}", hex(&self.trace_id), hex(&self.parent_id), self.flags)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Exactly `N` bytes from `2N` lowercase hex digits (the specification forbids upper case).
fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod trace_tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_and_rejects_malformed_values() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let tp: TraceParent = text.parse().expect("valid");
        assert!(tp.sampled());
        assert_eq!(tp.to_string(), text);
        assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(bad.parse::<TraceParent>(), Err(BadTraceParent), "{bad:?}");
        }
        // A future version's extra fields are ignored.
        assert!("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more".parse::<TraceParent>().is_ok());
    }
}
