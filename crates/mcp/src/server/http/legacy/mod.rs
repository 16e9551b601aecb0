//! Legacy Streamable HTTP (2025-03-26 … 2025-11-25): sessions minted on `initialize`, POSTs
//! that answer with JSON or a resumable SSE stream, the standalone GET stream, DELETE, and
//! resumption with `Last-Event-ID`.
//!
//! Every request gets a stream (`r<n>`); the session's unsolicited messages go on stream `g`.
//! A request's frames are appended to the session store's event log as they are produced, and
//! HTTP responses read from that log, so a dropped connection loses nothing: the request goes
//! on (in the legacy era a disconnect is not a cancellation) and a GET with `Last-Event-ID`
//! `<stream>-<seq>` replays exactly what followed on that stream, then continues live.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::Stream;
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use switchboard_protocol::jsonrpc::{self, DecodeError, Decoded, Inbound, RawRequest, RequestId};
use switchboard_protocol::{ErrorObject, ProtocolVersion};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::headers::{self, header};
use super::session::{SessionRecord, SessionStore};
use super::{sse, HttpState};
use crate::engine::{run_request, Frame, Origin, PeerHandle, PendingTable, RequestHandle};
use crate::server::Principal;
use crate::server::{ServerConnection, Session};

mod batch;
mod replicas;

use self::batch::batch;
use self::replicas::route;
pub(crate) use self::replicas::spawn_expiry;

/// The live sessions of this process, in front of the store.
pub(crate) struct Sessions {
    pub(crate) store: Arc<dyn SessionStore>,
    live: Mutex<HashMap<String, Arc<Live>>>,
    idle: Duration,
}

/// One session's in-process half: its connection, in-flight requests and streams.
pub(crate) struct Live {
    id: String,
    /// The id of the principal that opened the session.
    owner: String,
    conn: Arc<ServerConnection>,
    session: Arc<Session>,
    pending: Arc<PendingTable>,
    inflight: Mutex<HashMap<RequestId, CancellationToken>>,
    streams: Mutex<HashMap<String, Arc<StreamState>>>,
    next_stream: AtomicU64,
    /// Makes this process's stream names unique in a shared store (replicas each count from 1);
    /// empty for a store of one process.
    stream_tag: String,
    standalone_open: AtomicBool,
    closed: CancellationToken,
}

#[derive(Default)]
struct StreamState {
    notify: Notify,
    finished: AtomicBool,
    /// Set when the request was refused by a rate limit: how long the client should wait (ms).
    retry_after_ms: AtomicU64,
    /// The response, when it is the only frame the request produced: kept here, not logged,
    /// since it can only be answered as JSON (nothing on the stream ever had an event id to
    /// resume from), which saves the store's round trips on the common path.
    sole_answer: Mutex<Option<Vec<u8>>>,
}

impl StreamState {
    fn take_sole_answer(&self) -> Option<Vec<u8>> {
        self.sole_answer.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl Sessions {
    pub(crate) fn new(store: Arc<dyn SessionStore>, idle: Duration) -> Self {
        Self { store, live: Mutex::new(HashMap::new()), idle }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Live>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live session, rebuilt from the store if this process does not hold it, when `caller`
    /// owns it: to anyone else a session does not exist.
    async fn find(&self, state: &HttpState, id: &str, caller: &Principal) -> Option<Arc<Live>> {
        let found = self.lock().get(id).cloned();
        if let Some(live) = found {
            if live.owner != caller.id() {
                return None;
            }
            // Keep the store's idle clock in step with activity; with replicas, the record may have
            // changed elsewhere (log level, subscriptions), and this copy follows it.
            match self.store.load(id).await {
                Ok(Some(record)) if self.store.is_shared() => live.session.sync(record.log_level, record.subscriptions),
                // Ended or expired on another replica.
                Ok(None) if self.store.is_shared() => {
                    self.remove(id);
                    live.close();
                    return None;
                }
                _ => {}
            }
            return Some(live);
        }
        let record = self.store.load(id).await.ok().flatten()?;
        if record.owner != caller.id() {
            return None;
        }
        let version = record.version.parse::<ProtocolVersion>().ok()?;
        let session = Arc::new(Session::restore(
            version,
            record.capabilities,
            record.client_info,
            record.log_level,
            record.subscriptions,
        ));
        let mut conn = state.server.connection_with_session(session.clone());
        conn.principal = caller.clone();
        let conn = Arc::new(conn);
        let pending = Arc::new(PendingTable::new());
        let (tx, rx) = mpsc::channel::<Frame>(256);
        let peer = PeerHandle::detached(tx, Some(pending.clone()), state.server.limits().peer_request_timeout);
        let _ = conn.unsolicited.set(peer.clone());
        conn.spawn_legacy_forwarder(session.clone(), peer);
        let live = Live::new(record.id.clone(), record.owner.clone(), conn, session, pending, self.store.is_shared());
        live.pump_standalone(self.store.clone(), rx);
        self.lock().insert(record.id, live.clone());
        Some(live)
    }

    /// How many sessions this process holds.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn remove(&self, id: &str) -> Option<Arc<Live>> {
        self.lock().remove(id)
    }
}

impl Live {
    fn new(
        id: String,
        owner: String,
        conn: Arc<ServerConnection>,
        session: Arc<Session>,
        pending: Arc<PendingTable>,
        shared: bool,
    ) -> Arc<Self> {
        if shared {
            // Tasks created in this session belong to it on every replica.
            let _ = session.shared_id.set(id.clone());
        }
        Arc::new(Self {
            id,
            owner,
            conn,
            session,
            pending,
            inflight: Mutex::new(HashMap::new()),
            streams: Mutex::new(HashMap::new()),
            next_stream: AtomicU64::new(1),
            stream_tag: if shared { new_session_id()[..8].to_owned() } else { String::new() },
            standalone_open: AtomicBool::new(false),
            closed: CancellationToken::new(),
        })
    }

    fn stream(&self, name: &str) -> Arc<StreamState> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).entry(name.to_owned()).or_default().clone()
    }

    fn known_stream(&self, name: &str) -> Option<Arc<StreamState>> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    fn record(&self) -> SessionRecord {
        SessionRecord {
            id: self.id.clone(),
            version: self.session.version.as_str().to_owned(),
            capabilities: (*self.session.capabilities).clone(),
            client_info: (*self.session.client_info).clone(),
            log_level: self.session.log_level(),
            subscriptions: self.session.subscriptions.lock().map(|s| s.iter().cloned().collect()).unwrap_or_default(),
            owner: self.owner.clone(),
        }
    }

    fn close(&self) {
        self.closed.cancel();
        self.conn.closing.cancel();
        for token in self.inflight.lock().unwrap_or_else(|p| p.into_inner()).values() {
            token.cancel();
        }
        for s in self.streams.lock().unwrap_or_else(|p| p.into_inner()).values() {
            s.finished.store(true, Ordering::Release);
            s.notify.notify_waiters();
        }
    }
}

/// A session id: 128 random bits, hex (visible ASCII only).
fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: refuse to mint guessable ids.
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `initialize` without a session: start one.
pub(crate) async fn initialize(state: HttpState, parts: Parts, body: Bytes) -> Response {
    let request = match jsonrpc::decode(&body, &state.server.limits().decode()) {
        Ok(Decoded::Single(Inbound::Request(r))) => r,
        Ok(_) => {
            return sse::error(
                StatusCode::BAD_REQUEST,
                None,
                &ErrorObject::invalid_request("initialize must be sent alone"),
            )
        }
        Err(DecodeError { id, error }) => return sse::error(StatusCode::BAD_REQUEST, id.as_ref(), &error),
    };
    let held = state.sessions.len();
    if held >= state.config.max_sessions {
        warn!(target: "switchboard::http", held, "refusing a new legacy session: the session limit is reached");
        let e = ErrorObject::internal(format!(
            "this server holds its limit of {} sessions; end sessions you no longer use (DELETE) or try again later",
            state.config.max_sessions
        ));
        let mut response = sse::error(StatusCode::SERVICE_UNAVAILABLE, Some(&request.id), &e);
        response.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from_static("30"));
        return response;
    }
    let id = new_session_id();
    if id.is_empty() {
        return sse::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some(&request.id),
            &ErrorObject::internal("no source of randomness for session ids"),
        );
    }
    let caller = super::caller(&parts);
    let mut conn = state.server.connection();
    conn.principal = caller.clone();
    let conn = Arc::new(conn);
    // Unsolicited messages of the session (from the forwarder `initialize` starts) go to `g`.
    let pending = Arc::new(PendingTable::new());
    let (g_tx, g_rx) = mpsc::channel::<Frame>(256);
    let _ = conn.unsolicited.set(PeerHandle::detached(
        g_tx,
        Some(pending.clone()),
        state.server.limits().peer_request_timeout,
    ));
    let (tx, _rx) = mpsc::channel::<Frame>(16);
    let mut handle =
        RequestHandle::detached(request.id.clone(), state.server.limits(), tx, CancellationToken::new(), None);
    if let Some(origin) = super::origin::of(&parts) {
        handle.set_origin(origin);
    }
    let Some(crate::engine::Reply { frame, .. }) = run_request(conn.clone(), request, handle).await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let Some(session) = conn.session.get().cloned() else {
        // initialize failed (bad params): no session.
        return sse::json(StatusCode::BAD_REQUEST, frame);
    };
    let live = Live::new(id.clone(), caller.id().to_owned(), conn, session, pending, state.sessions.store.is_shared());
    live.pump_standalone(state.sessions.store.clone(), g_rx);
    if let Err(e) = state.sessions.store.save(live.record()).await {
        warn!(target: "switchboard::http", error = %e, "could not store a new session");
        return sse::error(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            &ErrorObject::internal("the session store is unavailable"),
        );
    }
    state.sessions.lock().insert(id.clone(), live);
    debug!(target: "switchboard::http", session = %id, "legacy session created");
    drop(parts);
    let mut response = sse::json(StatusCode::OK, frame);
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(headers::SESSION_ID, v);
    }
    response
}

/// A legacy POST with no session and no `initialize`.
pub(crate) fn without_session(body: &[u8]) -> Response {
    let id = match jsonrpc::decode(body, &Default::default()) {
        Ok(Decoded::Single(Inbound::Request(r))) => Some(r.id),
        _ => None,
    };
    sse::error(
        StatusCode::BAD_REQUEST,
        id.as_ref(),
        &ErrorObject::invalid_request(
            "missing Mcp-Session-Id: send initialize first (legacy), or include params._meta with io.modelcontextprotocol/protocolVersion (2026-07-28)",
        ),
    )
}

/// The session a request names; errors answer `request_id` when the body had one.
async fn session_for(state: &HttpState, parts: &Parts, request_id: Option<&RequestId>) -> Result<Arc<Live>, Response> {
    let id = header(&parts.headers, headers::SESSION_ID).ok().flatten().unwrap_or_default();
    let live = state.sessions.find(state, id, &super::caller(parts)).await.ok_or_else(|| {
        let e =
            ErrorObject::invalid_request(format!("session {id:?} does not exist or has ended; initialize a new one"));
        sse::error(StatusCode::NOT_FOUND, request_id, &e)
    })?;
    if let Ok(Some(v)) = header(&parts.headers, headers::PROTOCOL_VERSION) {
        if v != live.session.version.as_str() {
            let e = ErrorObject::invalid_request(format!(
                "MCP-Protocol-Version {v:?} does not match this session's {}",
                live.session.version
            ));
            return Err(sse::error(StatusCode::BAD_REQUEST, request_id, &e));
        }
    }
    Ok(live)
}

/// The id of a single request in `body`, for answering errors found before decoding it.
fn peek_id(body: &[u8]) -> Option<RequestId> {
    #[derive(serde::Deserialize)]
    struct Peek {
        id: Option<RequestId>,
    }
    serde_json::from_slice::<Peek>(body).ok()?.id
}

/// A POST within a session: a request, a notification, a response, or (2025-03-26) a batch.
pub(crate) async fn post(state: HttpState, parts: Parts, body: Bytes) -> Response {
    let live = match session_for(&state, &parts, peek_id(&body).as_ref()).await {
        Ok(live) => live,
        Err(response) => return response,
    };
    let decoded = match jsonrpc::decode(&body, &state.server.limits().decode()) {
        Ok(d) => d,
        Err(DecodeError { id, error }) => return sse::error(StatusCode::BAD_REQUEST, id.as_ref(), &error),
    };
    let before = live.record();
    let response = match decoded {
        Decoded::Single(Inbound::Request(request)) => {
            let sse_ok = sse::accepts_sse(&parts.headers);
            match start(&state, &live, request, super::origin::of(&parts)) {
                Ok(stream) => respond(state.clone(), live.clone(), stream, sse_ok).await,
                Err(response) => *response,
            }
        }
        Decoded::Single(other) => {
            if let Some(unapplied) = deliver(&live, other) {
                route(&state, &live, unapplied, body.clone());
            }
            sse::accepted()
        }
        Decoded::Batch(items) => batch(&state, &live, items, super::origin::of(&parts)).await,
    };
    // Finding the session marked it active; only a change (log level, subscriptions) is saved.
    let after = live.record();
    if after != before {
        let _ = state.sessions.store.save(after).await;
    }
    response
}

/// A client's message this process could not apply: what it was, for routing.
#[derive(Debug, Clone, Copy)]
enum Unapplied {
    Response,
    Cancellation,
}

/// Notifications and responses from the client; `Some` when the message belongs to a request
/// this process does not hold (another replica's, with a shared store).
fn deliver(live: &Live, message: Inbound) -> Option<Unapplied> {
    match message {
        Inbound::Response(r) => {
            if !live.pending.resolve(r) {
                debug!(target: "switchboard::http", "a response matched no pending request here");
                return Some(Unapplied::Response);
            }
        }
        Inbound::Notification(n) if n.method == switchboard_protocol::methods::NOTIFICATION_CANCELLED => {
            let id = n
                .params
                .as_deref()
                .and_then(|p| {
                    serde_json::from_str::<switchboard_protocol::notifications::CancelledParams>(p.get()).ok()
                })
                .and_then(|p| p.request_id);
            match id.and_then(|id| live.inflight.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()) {
                Some(token) => token.cancel(),
                None => return Some(Unapplied::Cancellation),
            }
        }
        Inbound::Notification(n) => live.conn.on_notification(&n),
        Inbound::Request(_) => {}
    }
    None
}

/// Starts a request on a new stream.
fn start(
    state: &HttpState,
    live: &Arc<Live>,
    request: RawRequest,
    origin: Option<Arc<Origin>>,
) -> Result<(String, Arc<StreamState>), Box<Response>> {
    let token = CancellationToken::new();
    {
        let mut inflight = live.inflight.lock().unwrap_or_else(|p| p.into_inner());
        if inflight.contains_key(&request.id) {
            let e =
                ErrorObject::invalid_request(format!("request id {} is already in flight in this session", request.id));
            return Err(Box::new(sse::error(StatusCode::BAD_REQUEST, Some(&request.id), &e)));
        }
        // Each request runs on after its POST is gone (a disconnect is not a cancellation in
        // this era), so the work a session may start is counted here.
        let most = state.server.limits().max_concurrent_requests;
        if inflight.len() >= most {
            let e = ErrorObject::internal(format!(
                "this session already has {most} requests running; wait for some to finish"
            ));
            let mut response = sse::error(StatusCode::TOO_MANY_REQUESTS, Some(&request.id), &e);
            response.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Err(Box::new(response));
        }
        inflight.insert(request.id.clone(), token.clone());
    }
    let name = format!("r{}{}", live.stream_tag, live.next_stream.fetch_add(1, Ordering::Relaxed));
    let stream = live.stream(&name);
    let (tx, mut rx) = mpsc::channel::<Frame>(64);
    let id = request.id.clone();
    let mut handle = RequestHandle::detached(id.clone(), state.server.limits(), tx, token, Some(live.pending.clone()));
    if let Some(origin) = origin {
        handle.set_origin(origin);
    }
    let live = live.clone();
    let store = state.sessions.store.clone();
    let (task_stream, task_name) = (stream.clone(), name.clone());
    // The request outlives the POST that carried it, and keeps its span (its log lines name
    // the POST's request id).
    let span = tracing::Span::current();
    let task = async move {
        let retry_after = &task_stream.retry_after_ms;
        let work = async {
            let reply = run_request(live.conn.clone(), request, handle).await?;
            if let Some(ms) = reply.retry_after_ms {
                retry_after.store(ms.max(1), Ordering::Relaxed);
            }
            Some(reply.frame)
        };
        tokio::pin!(work);
        let mut open = true;
        let mut logged = false;
        let final_frame = loop {
            tokio::select! {
                biased;
                frame = rx.recv(), if open => match frame {
                    Some(frame) => {
                        let _ = store.append(&live.id, &task_name, Bytes::from(frame)).await;
                        logged = true;
                        task_stream.notify.notify_waiters();
                    }
                    // The handler let go of its handle; only the result is left to come.
                    None => open = false,
                },
                done = &mut work => break done,
            }
        };
        while let Ok(frame) = rx.try_recv() {
            let _ = store.append(&live.id, &task_name, Bytes::from(frame)).await;
            logged = true;
        }
        if let Some(frame) = final_frame {
            if logged {
                let _ = store.append(&live.id, &task_name, Bytes::from(frame)).await;
            } else {
                *task_stream.sole_answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(frame);
            }
        }
        // Finished is set before the wake-up, so a reader that sees one event and `finished`
        // knows that event is the response.
        task_stream.finished.store(true, Ordering::Release);
        task_stream.notify.notify_waiters();
        // Readers on other replicas learn it from the store (after this process's own readers,
        // which need no round trip); a stream that logged nothing has none.
        if store.is_shared() && logged {
            let _ = store.finish_stream(&live.id, &task_name).await;
        }
        live.inflight.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        // Readers hold the stream already; a later resumption of a finished stream needs only
        // the store's log, so the session stops tracking it.
        live.streams.lock().unwrap_or_else(|p| p.into_inner()).remove(&task_name);
    };
    tokio::spawn(tracing::Instrument::instrument(task, span));
    Ok((name, stream))
}

/// Answers a POSTed request: JSON when the response is the only thing on its stream, SSE
/// otherwise (or when the client takes nothing but SSE).
async fn respond(
    state: HttpState,
    live: Arc<Live>,
    (name, stream): (String, Arc<StreamState>),
    sse_ok: bool,
) -> Response {
    let store = state.sessions.store.clone();
    loop {
        let notified = stream.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // `finished` is read before the events: once it is set, every event is in the log, so
        // the read that follows cannot miss the response.
        let finished = stream.finished.load(Ordering::Acquire);
        if finished {
            if let Some(answer) = stream.take_sole_answer() {
                live.streams.lock().unwrap_or_else(|p| p.into_inner()).remove(&name);
                return json_answer(&live.id, &stream, answer, true);
            }
        }
        let events = store.events_after(&live.id, &name, 0).await.unwrap_or_default();
        if finished && (events.len() == 1 || !sse_ok) {
            let last = events.last().map(|(_, b)| b.to_vec()).unwrap_or_default();
            // A JSON answer has no event ids to resume from: the stream's log is not kept.
            if store.is_shared() {
                // Off the answer's path: a round trip the client need not wait for.
                let (store, id, name) = (store.clone(), live.id.clone(), name.clone());
                tokio::spawn(async move {
                    let _ = store.forget_stream(&id, &name).await;
                });
            } else {
                let _ = store.forget_stream(&live.id, &name).await;
            }
            live.streams.lock().unwrap_or_else(|p| p.into_inner()).remove(&name);
            return json_answer(&live.id, &stream, last, events.len() == 1);
        }
        if finished && events.is_empty() {
            // Cancelled: nothing may be sent for it.
            return with_session(StatusCode::ACCEPTED.into_response(), &live.id);
        }
        if !events.is_empty() && sse_ok {
            let priming = (live.session.version >= ProtocolVersion::V2025_11_25)
                .then(|| sse::priming(&format!("{name}-0"), state.config.sse_retry));
            let body = tail(state, live.clone(), name, stream.clone(), 0, priming, false);
            return sse::stream(body, Some(&live.id));
        }
        notified.await;
    }
}

/// A request's answer as JSON; `alone` when it is all the request produced, so a rate limit's
/// refusal is said in HTTP too (`429` with `Retry-After`).
fn json_answer(session: &str, stream: &StreamState, answer: Vec<u8>, alone: bool) -> Response {
    let retry_after = stream.retry_after_ms.load(Ordering::Relaxed);
    if retry_after > 0 && alone {
        let mut response = sse::json(StatusCode::TOO_MANY_REQUESTS, answer);
        response.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from(retry_after.div_ceil(1000)));
        return with_session(response, session);
    }
    with_session(sse::json(StatusCode::OK, answer), session)
}

fn with_session(mut response: Response, id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(id) {
        response.headers_mut().insert(headers::SESSION_ID, v);
    }
    response
}

/// How often a stream produced on another replica is read again from the shared store.
const REMOTE_POLL: Duration = Duration::from_millis(100);

/// A stream's events after `after`, then live ones until it finishes (or the session ends).
/// A `remote` stream is produced by another replica: no local wake-up comes for it, so the store
/// is polled, and it ends when the store says its producer finished it.
fn tail(
    state: HttpState,
    live: Arc<Live>,
    name: String,
    stream: Arc<StreamState>,
    after: u64,
    priming: Option<Bytes>,
    remote: bool,
) -> impl Stream<Item = Bytes> + Send {
    let keep_alive = state.config.keep_alive;
    let store = state.sessions.store.clone();
    let head = futures_util::stream::iter(priming);
    // A live producer logs something (progress, a request, the response) or times the request
    // out well within this; a remote stream silent for longer lost its producer with its replica.
    let limits = state.server.limits();
    let stale_after = limits.request_timeout.max(limits.peer_request_timeout) + Duration::from_secs(10);
    let started = std::time::Instant::now();
    let rest = futures_util::stream::unfold((after, false, started), move |(cursor, done, last_event)| {
        let (store, live, name, stream) = (store.clone(), live.clone(), name.clone(), stream.clone());
        async move {
            if done {
                return None;
            }
            let waiting_since = std::time::Instant::now();
            loop {
                let notified = stream.notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                // Read before the events, like `respond` does: a finished stream's log is complete.
                let finished = stream.finished.load(Ordering::Acquire);
                let events = store.events_after(&live.id, &name, cursor).await.unwrap_or_default();
                if let Some((last, _)) = events.last() {
                    let last = *last;
                    let chunk: Vec<u8> =
                        events.iter().flat_map(|(n, data)| sse::event(Some(&format!("{name}-{n}")), data)).collect();
                    return Some((Bytes::from(chunk), (last, false, std::time::Instant::now())));
                }
                if live.closed.is_cancelled() {
                    return None;
                }
                if finished {
                    // Delivered in full: the log is kept only for a resumption now, and goes
                    // first when the session is over its byte budget.
                    let _ = store.release_stream(&live.id, &name).await;
                    return None;
                }
                if remote {
                    // The producer logs the response before marking the stream finished, so one
                    // more read after seeing the mark finds everything.
                    if store.is_finished(&live.id, &name).await.unwrap_or(false) {
                        stream.finished.store(true, Ordering::Release);
                        continue;
                    }
                    if last_event.elapsed() >= stale_after {
                        debug!(target: "switchboard::http", session = %live.id, stream = %name,
                            "a stream produced on another replica went silent: its replica is gone");
                        return None;
                    }
                    if waiting_since.elapsed() >= keep_alive {
                        return Some((sse::keep_alive(), (cursor, false, last_event)));
                    }
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep(REMOTE_POLL) => {}
                    }
                    continue;
                }
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(keep_alive) => return Some((sse::keep_alive(), (cursor, false, last_event))),
                }
            }
        }
    });
    futures_util::StreamExt::chain(head, rest)
}

/// GET: the standalone stream, or a resumption with `Last-Event-ID`.
pub(crate) async fn get(state: HttpState, parts: Parts) -> Response {
    let live = match session_for(&state, &parts, None).await {
        Ok(live) => live,
        Err(response) => return response,
    };
    if !sse::accepts_sse(&parts.headers) {
        return (StatusCode::NOT_ACCEPTABLE, "GET needs Accept: text/event-stream").into_response();
    }
    if let Ok(Some(last)) = header(&parts.headers, headers::LAST_EVENT_ID) {
        let Some((name, seq)) = last.rsplit_once('-').and_then(|(n, s)| Some((n.to_owned(), s.parse::<u64>().ok()?)))
        else {
            return sse::error(
                StatusCode::BAD_REQUEST,
                None,
                &ErrorObject::invalid_request(format!("Last-Event-ID {last:?} was not issued by this server")),
            );
        };
        // A stream this process never saw replays what the store has; with replicas it may
        // still be produced elsewhere, and is followed until its producer finishes it.
        let remote = state.sessions.store.is_shared();
        let known = live.known_stream(&name);
        let is_remote = known.is_none() && remote;
        let stream = known.unwrap_or_else(|| {
            let s = Arc::new(StreamState::default());
            s.finished.store(!remote, Ordering::Release);
            s
        });
        if name == "g" {
            // The client listens here now: this replica logs the session's notifications.
            let _ = state.sessions.store.claim_unsolicited(&live.id, true).await;
        }
        return sse::stream(tail(state, live.clone(), name, stream, seq, None, is_remote), Some(&live.id));
    }
    if live.standalone_open.swap(true, Ordering::AcqRel) {
        return (StatusCode::CONFLICT, "this session already has a standalone stream open").into_response();
    }
    let stream = live.stream("g");
    // The client listens here now: this replica logs the session's notifications.
    let _ = state.sessions.store.claim_unsolicited(&live.id, true).await;
    let start = state
        .sessions
        .store
        .events_after(&live.id, "g", 0)
        .await
        .ok()
        .and_then(|e| e.last().map(|(n, _)| *n))
        .unwrap_or(0);
    let guard = StandaloneGuard(live.clone());
    let priming = (live.session.version >= ProtocolVersion::V2025_11_25)
        .then(|| sse::priming(&format!("g-{start}"), state.config.sse_retry));
    let body =
        futures_util::StreamExt::map(tail(state, live.clone(), "g".into(), stream, start, priming, false), move |b| {
            let _ = &guard;
            b
        });
    sse::stream(body, Some(&live.id))
}

struct StandaloneGuard(Arc<Live>);

impl Drop for StandaloneGuard {
    fn drop(&mut self) {
        self.0.standalone_open.store(false, Ordering::Release);
    }
}

/// DELETE: end the session.
pub(crate) async fn delete(state: HttpState, parts: Parts) -> Response {
    let id = header(&parts.headers, headers::SESSION_ID).ok().flatten().unwrap_or_default().to_owned();
    let existed_live = state.sessions.remove(&id);
    if let Some(live) = &existed_live {
        live.close();
    }
    let existed = state.sessions.store.delete(&id).await.unwrap_or(false);
    if existed || existed_live.is_some() {
        StatusCode::OK.into_response()
    } else {
        sse::error(StatusCode::NOT_FOUND, None, &ErrorObject::invalid_request(format!("session {id:?} does not exist")))
    }
}
