//! The 2024-11-05 HTTP+SSE transport: `GET /sse` opens the session's only stream and announces
//! where to POST; `POST /messages?sessionId=…` carries the client's messages (202), and every
//! answer travels on the stream. A session here is exactly a connection, so it runs on the
//! same engine loop as stdio.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use http::StatusCode;
use switchboard_protocol::ErrorObject;
use tokio::sync::mpsc;

use super::{sse, HttpState};
use crate::engine::Origin;
use crate::server::Principal;
use crate::transport::{FrameReader, FrameWriter, ReadFrame};

/// Open HTTP+SSE sessions: where to deliver each session's POSTs.
#[derive(Default)]
pub(crate) struct SseSessions {
    inboxes: Mutex<HashMap<String, Inbox>>,
}

/// Where one session's POSTs go, and the id of the principal that opened it (only that one may
/// post to it).
#[derive(Clone)]
struct Inbox {
    owner: String,
    tx: mpsc::Sender<Vec<u8>>,
}

impl SseSessions {
    /// How many streams are open.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Inbox>> {
        self.inboxes.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct ChannelReader(mpsc::Receiver<Vec<u8>>);

impl FrameReader for ChannelReader {
    async fn read_frame(&mut self) -> std::io::Result<Option<ReadFrame>> {
        Ok(self.0.recv().await.map(ReadFrame::Message))
    }
}

struct SseWriter(mpsc::Sender<Bytes>);

impl FrameWriter for SseWriter {
    async fn write_frame(&mut self, frame: &[u8]) -> std::io::Result<()> {
        self.0.send(sse::event(None, frame)).await.map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
    async fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    async fn close(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `GET /sse`.
pub(crate) async fn open(
    State(state): State<HttpState>,
    caller: Option<Extension<Principal>>,
    origin: Option<Extension<Arc<Origin>>>,
) -> Response {
    let caller = caller.map(|Extension(p)| p).unwrap_or_default();
    // The stream's request id and trace stand for every message posted to the session.
    let origin = origin.map(|Extension(o)| o);
    let mut id_bytes = [0u8; 16];
    if getrandom::fill(&mut id_bytes).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let id: String = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let (inbox_tx, inbox_rx) = mpsc::channel::<Vec<u8>>(64);
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(256);
    state.sse_sessions.lock().insert(id.clone(), Inbox { owner: caller.id().to_owned(), tx: inbox_tx });
    let endpoint = Bytes::from(format!("event: endpoint\ndata: /messages?sessionId={id}\n\n"));
    let server = state.server.clone();
    let sessions = state.sse_sessions.clone();
    let session_id = id.clone();
    let session = async move {
        let _ = server.serve_from(ChannelReader(inbox_rx), SseWriter(out_tx), caller, origin).await;
        sessions.lock().remove(&session_id);
    };
    tokio::spawn(tracing::Instrument::instrument(session, tracing::Span::current()));
    let keep_alive = state.config.keep_alive;
    let events = futures_util::stream::unfold(
        (out_rx, Some(endpoint), SessionGuard(state.sse_sessions.clone(), id)),
        move |(mut rx, first, guard)| async move {
            if let Some(first) = first {
                return Some((first, (rx, None, guard)));
            }
            tokio::select! {
                frame = rx.recv() => frame.map(|f| (f, (rx, None, guard))),
                _ = tokio::time::sleep(keep_alive) => Some((sse::keep_alive(), (rx, None, guard))),
            }
        },
    );
    sse::stream(events, None)
}

/// Removes the session when its stream is dropped, which ends the engine loop.
struct SessionGuard(Arc<SseSessions>, String);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.lock().remove(&self.1);
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct SessionQuery {
    #[serde(rename = "sessionId", default)]
    session_id: Option<String>,
}

/// `POST /messages?sessionId=…`.
pub(crate) async fn message(
    State(state): State<HttpState>,
    caller: Option<Extension<Principal>>,
    Query(q): Query<SessionQuery>,
    body: axum::body::Body,
) -> Response {
    let body = match super::read_body(&state, body).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    let caller = caller.map(|Extension(p)| p).unwrap_or_default();
    let Some(session_id) = q.session_id else {
        return sse::error(
            StatusCode::BAD_REQUEST,
            None,
            &ErrorObject::invalid_request("missing ?sessionId=: use the endpoint announced on /sse"),
        );
    };
    // Malformed JSON is refused here, where the client can see it, not sent down the stream.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
        return sse::error(StatusCode::BAD_REQUEST, None, &ErrorObject::parse_error(e));
    }
    // Another principal's session answers as one that does not exist.
    let inbox = state.sse_sessions.lock().get(&session_id).filter(|i| i.owner == caller.id()).map(|i| i.tx.clone());
    match inbox {
        Some(inbox) => match inbox.send(body.to_vec()).await {
            Ok(()) => (StatusCode::ACCEPTED, "Accepted").into_response(),
            Err(_) => session_missing(&session_id),
        },
        None => session_missing(&session_id),
    }
}

fn session_missing(id: &str) -> Response {
    sse::error(
        StatusCode::NOT_FOUND,
        None,
        &ErrorObject::invalid_request(format!("no open SSE session {id:?}; GET /sse first")),
    )
}
