//! Modern (2026-07-28) Streamable HTTP: each POST is one stateless request. The routing headers
//! are checked against the body, then the request runs; the answer is plain JSON unless
//! something must be sent before the result (progress, logs, a listen stream), in which case it
//! becomes a request-scoped SSE stream. Closing that stream cancels the request.

use std::pin::Pin;
use std::sync::Arc;

use axum::response::Response;
use bytes::Bytes;
use futures_util::Future;
use http::request::Parts;
use http::StatusCode;
use serde_json::value::RawValue;
use switchboard_protocol::jsonrpc::{self, DecodeError, Decoded, Inbound, RawRequest};
use switchboard_protocol::{ErrorObject, ProtocolVersion};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::headers::{self, header};
use super::peek::Routing;
use super::{sse, HttpState};
use crate::engine::{run_request, Frame, Reply, RequestHandle};

pub(crate) async fn post(state: HttpState, parts: Parts, body: &[u8], routing: Option<Routing<'_>>) -> Response {
    let request = match jsonrpc::decode(body, &state.server.limits().decode()) {
        Ok(Decoded::Single(Inbound::Request(r))) => r,
        Ok(Decoded::Single(Inbound::Notification(_))) => return sse::accepted(),
        Ok(Decoded::Single(Inbound::Response(_))) => {
            let e = ErrorObject::invalid_request("clients do not send responses in protocol 2026-07-28");
            return sse::error(StatusCode::BAD_REQUEST, None, &e);
        }
        Ok(Decoded::Batch(_)) => {
            let e = ErrorObject::invalid_request(
                "JSON-RPC batches are not allowed in protocol 2026-07-28; send one request per POST",
            );
            return sse::error(StatusCode::BAD_REQUEST, None, &e);
        }
        Err(DecodeError { id, error }) => return sse::error(StatusCode::BAD_REQUEST, id.as_ref(), &error),
    };
    // The routing fields come from the body's peek; parse them from the params only when the
    // peek could not read them.
    let routing = routing.unwrap_or_else(|| Routing::parse(request.params.as_deref().map_or("{}", RawValue::get)));
    if let Err(error) = validate(&state, &parts, &request, &routing) {
        return sse::error(StatusCode::BAD_REQUEST, Some(&request.id), &error);
    }
    run(state, &parts, request).await
}

/// The checks the transport owns, in the order the spec's probes require.
fn validate(state: &HttpState, parts: &Parts, request: &RawRequest, routing: &Routing<'_>) -> Result<(), ErrorObject> {
    let header_version = header(&parts.headers, headers::PROTOCOL_VERSION)?
        .ok_or_else(|| ErrorObject::header_mismatch("missing header MCP-Protocol-Version"))?;
    let meta = routing.meta.as_ref().ok_or_else(|| {
        ErrorObject::invalid_params(format!(
            "{}: params._meta is required on every {} request",
            request.method,
            ProtocolVersion::LATEST
        ))
    })?;
    let Some(body_version) = meta.version.as_deref() else {
        return Err(ErrorObject::invalid_params(format!(
            "{}: params._meta[\"io.modelcontextprotocol/protocolVersion\"] is required",
            request.method
        )));
    };
    if !meta.capabilities {
        return Err(ErrorObject::invalid_params(format!(
            "{}: params._meta[\"io.modelcontextprotocol/clientCapabilities\"] is required (send {{}} to declare none)",
            request.method
        )));
    }
    if header_version != body_version {
        return Err(ErrorObject::header_mismatch(format!(
            "header MCP-Protocol-Version {header_version:?} does not match the body's protocol version {body_version:?}"
        )));
    }
    let mirrored = match headers::mirrored_field(&request.method) {
        Some(headers::Mirrored::Name) => Some(routing.name.as_deref()),
        Some(headers::Mirrored::Uri) => Some(routing.uri.as_deref()),
        Some(headers::Mirrored::TaskId) => Some(routing.task_id.as_deref()),
        None => None,
    };
    headers::check_routing(&parts.headers, &request.method, mirrored)?;
    if request.method == "tools/call" {
        let catalog = state.server.catalog();
        if let Some(entry) = routing.name.as_deref().and_then(|n| catalog.tool(n)) {
            if !entry.header_params().is_empty() {
                let args: Option<serde_json::Value> =
                    routing.arguments.and_then(|a| serde_json::from_str(a.get()).ok());
                headers::check_params(&parts.headers, entry.header_params(), args.as_ref())?;
            }
        }
    }
    Ok(())
}

type Work = Pin<Box<dyn Future<Output = Option<Reply>> + Send>>;

/// Runs the request, answering with JSON if the result comes first, else with SSE.
async fn run(state: HttpState, parts: &Parts, request: RawRequest) -> Response {
    let (tx, mut rx) = mpsc::channel::<Frame>(64);
    let token = CancellationToken::new();
    let guard = token.clone().drop_guard();
    let mut handle = RequestHandle::detached(request.id.clone(), state.server.limits(), tx, token, None);
    if let Some(caller) = parts.extensions.get::<crate::server::Principal>() {
        handle.set_caller(Arc::new(caller.clone()));
    }
    if let Some(origin) = super::origin::of(parts) {
        handle.set_origin(origin);
    }
    let mut work: Work = Box::pin(run_request(state.stateless.clone(), request, handle));
    let streaming = sse::accepts_sse(&parts.headers);
    tokio::select! {
        biased;
        frame = &mut work => {
            let queued = drain(&mut rx);
            match frame {
                Some(reply) if queued.is_empty() || !streaming => answer(reply),
                Some(reply) => {
                    let mut chunk: Vec<u8> = queued.iter().flat_map(|f| sse::event(None, f)).collect();
                    chunk.extend_from_slice(&sse::event(None, &reply.frame));
                    sse::stream(futures_util::stream::iter([Bytes::from(chunk)]), None)
                }
                None => StatusCode::NO_CONTENT.into_response_compat(),
            }
        }
        first = rx.recv(), if streaming => match first {
            Some(first) => sse::stream(stream(first, rx, work, guard, state.config.keep_alive), None),
            None => match work.await {
                Some(reply) => answer(reply),
                None => StatusCode::NO_CONTENT.into_response_compat(),
            },
        },
    }
}

/// A whole reply as one JSON response: its status from its outcome, and `Retry-After` (whole
/// seconds, rounded up) when the caller was rate limited.
fn answer(reply: Reply) -> Response {
    let mut response = sse::json(sse::modern_status(reply.error), reply.frame);
    if let Some(ms) = reply.retry_after_ms {
        response.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(ms.div_ceil(1000).max(1)));
    }
    response
}

fn drain(rx: &mut mpsc::Receiver<Frame>) -> Vec<Frame> {
    let mut out = Vec::new();
    while let Ok(f) = rx.try_recv() {
        out.push(f);
    }
    out
}

enum Phase {
    Running { rx: mpsc::Receiver<Frame>, work: Work, guard: DropGuard, keep_alive: tokio::time::Interval },
    Done,
}

/// The SSE body: notifications as they come, keep-alives while idle, then the result. Dropping
/// it (the client closed the stream) drops the guard, which cancels the request.
fn stream(
    first: Frame,
    rx: mpsc::Receiver<Frame>,
    work: Work,
    guard: DropGuard,
    keep_alive: std::time::Duration,
) -> impl futures_util::Stream<Item = Bytes> + Send {
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + keep_alive, keep_alive);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let head = futures_util::stream::iter([sse::event(None, &first)]);
    let rest =
        futures_util::stream::unfold(Phase::Running { rx, work, guard, keep_alive: interval }, |phase| async move {
            let Phase::Running { mut rx, mut work, guard, mut keep_alive } = phase else { return None };
            tokio::select! {
                biased;
                note = rx.recv() => match note {
                    Some(f) => Some((sse::event(None, &f), Phase::Running { rx, work, guard, keep_alive })),
                    None => {
                        let last = work.await.map(|r| sse::event(None, &r.frame)).unwrap_or_default();
                        drop(guard);
                        Some((last, Phase::Done))
                    }
                },
                frame = &mut work => {
                    let mut chunk: Vec<u8> = drain(&mut rx).iter().flat_map(|f| sse::event(None, f)).collect();
                    if let Some(reply) = frame {
                        chunk.extend_from_slice(&sse::event(None, &reply.frame));
                    }
                    drop(guard);
                    Some((Bytes::from(chunk), Phase::Done))
                }
                _ = keep_alive.tick() => Some((sse::keep_alive(), Phase::Running { rx, work, guard, keep_alive })),
            }
        });
    futures_util::StreamExt::chain(head, rest)
}

trait IntoResponseCompat {
    fn into_response_compat(self) -> Response;
}

impl IntoResponseCompat for StatusCode {
    fn into_response_compat(self) -> Response {
        axum::response::IntoResponse::into_response(self)
    }
}
