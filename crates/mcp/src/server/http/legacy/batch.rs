//! 2025-03-26 JSON-RPC batches over legacy Streamable HTTP: every request of the batch runs on a
//! stream of its own, and the answers come back together as one JSON array.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::response::Response;
use http::StatusCode;
use switchboard_protocol::jsonrpc::{self, DecodeError, Inbound};
use switchboard_protocol::ErrorObject;

use super::{deliver, start, with_session, Live};
use crate::engine::Origin;
use crate::server::http::{sse, HttpState};

/// A 2025-03-26 batch: every request runs, the answers come back as one JSON array.
pub(super) async fn batch(
    state: &HttpState,
    live: &Arc<Live>,
    items: Vec<Result<Inbound, DecodeError>>,
    origin: Option<Arc<Origin>>,
) -> Response {
    if !live.session.version.allows_batches() {
        let e = ErrorObject::invalid_request(format!(
            "JSON-RPC batches are not allowed in protocol {}",
            live.session.version
        ));
        return sse::error(StatusCode::BAD_REQUEST, None, &e);
    }
    let mut answers = Vec::new();
    let mut started = Vec::new();
    for item in items {
        match item {
            Ok(Inbound::Request(r)) => {
                if let Ok(s) = start(state, live, r, origin.clone()) {
                    started.push(s);
                }
            }
            // A batch's messages are not routed to other replicas (2025-03-26 clients only).
            Ok(other) => {
                let _ = deliver(live, other);
            }
            Err(DecodeError { id, error }) => {
                let mut f = Vec::new();
                jsonrpc::write_error(&mut f, id.as_ref(), &error);
                answers.push(f);
            }
        }
    }
    for (name, stream) in started {
        loop {
            let notified = stream.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if stream.finished.load(Ordering::Acquire) {
                if let Some(answer) = stream.take_sole_answer() {
                    answers.push(answer);
                    break;
                }
                let events = state.sessions.store.events_after(&live.id, &name, 0).await.unwrap_or_default();
                if let Some((_, last)) = events.last() {
                    answers.push(last.to_vec());
                }
                // Answered as JSON: nothing to resume.
                let _ = state.sessions.store.forget_stream(&live.id, &name).await;
                break;
            }
            notified.await;
        }
    }
    if answers.is_empty() {
        return sse::accepted();
    }
    let mut out = b"[".to_vec();
    out.extend(answers.join(&b","[..]));
    out.push(b']');
    with_session(sse::json(StatusCode::OK, out), &live.id)
}
