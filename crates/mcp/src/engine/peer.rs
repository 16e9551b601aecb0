//! Handles for talking back to the peer: [`PeerHandle`] for the connection, [`RequestHandle`]
//! for one inbound request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;
use switchboard_protocol::jsonrpc::{self, RawResponse, RequestId};
use switchboard_protocol::ErrorObject;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{Deadline, Frame};

/// Why a request we sent to the peer did not produce a result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The peer answered with an error.
    #[error("peer answered with an error: {0}")]
    Rpc(ErrorObject),
    /// No answer came in time.
    #[error("no answer to {method} within {timeout:?}")]
    Timeout {
        /// The method we called.
        method: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The connection closed first.
    #[error("the connection closed before the answer arrived")]
    Closed,
    /// The params could not be encoded, or the result could not be decoded.
    #[error("could not encode or decode {0}")]
    Codec(String),
}

/// A cloneable handle to one connection: send notifications, send requests and await their
/// answers. Sending is cancel-safe: a dropped send loses at most that one message.
#[derive(Debug, Clone)]
pub struct PeerHandle {
    pub(super) out: mpsc::Sender<Frame>,
    pub(super) route: RequestRoute,
    pub(super) request_timeout: Duration,
}

/// Where requests to the peer are correlated with their answers.
#[derive(Debug, Clone)]
pub(super) enum RequestRoute {
    /// A table the connection resolves answers against: the event loop's, or an HTTP
    /// session's (where answers arrive on other requests).
    Table(Arc<PendingTable>),
    /// The peer cannot be asked anything (modern HTTP requests).
    None,
}

/// Where the answer to one request to the peer is delivered.
type Reply = oneshot::Sender<Result<Box<RawValue>, ErrorObject>>;

/// Requests sent to a peer whose answers arrive out of band (e.g. as later HTTP POSTs).
#[derive(Debug, Default)]
pub struct PendingTable {
    next_id: AtomicI64,
    waiting: Mutex<HashMap<RequestId, Reply>>,
}

impl PendingTable {
    /// An empty table.
    pub fn new() -> Self {
        Self { next_id: AtomicI64::new(1), waiting: Mutex::new(HashMap::new()) }
    }

    /// Waits for the answer to `id`; the entry is removed when the returned guard drops, so a
    /// request whose caller times out or goes away leaves nothing behind.
    fn register(&self, id: RequestId) -> (Registered<'_>, oneshot::Receiver<Result<Box<RawValue>, ErrorObject>>) {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id.clone(), tx);
        (Registered { table: self, id }, rx)
    }

    fn next_id(&self) -> RequestId {
        RequestId::String(format!("s-{}", self.next_id.fetch_add(1, Ordering::Relaxed)))
    }

    /// Fails every waiting request (its waiter sees the connection closed): no answer can
    /// arrive any more.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many requests are waiting for answers.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no request is waiting for an answer.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn forget(&self, id: &RequestId) {
        self.lock().remove(id);
    }

    /// Delivers an answer; `false` when no request with that id is waiting.
    pub fn resolve(&self, response: RawResponse) -> bool {
        let Some(id) = response.id else { return false };
        match self.lock().remove(&id) {
            Some(tx) => tx.send(response.outcome).is_ok(),
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RequestId, Reply>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl PeerHandle {
    /// A handle outside an event loop: frames go to `out`; requests are correlated through
    /// `pending` (or refused when it is `None`).
    pub fn detached(out: mpsc::Sender<Frame>, pending: Option<Arc<PendingTable>>, request_timeout: Duration) -> Self {
        Self { out, route: pending.map_or(RequestRoute::None, RequestRoute::Table), request_timeout }
    }

    /// Queues an already-encoded frame for writing.
    pub async fn send_frame(&self, frame: Frame) -> Result<(), PeerError> {
        self.out.send(frame).await.map_err(|_| PeerError::Closed)
    }

    /// Sends a notification.
    pub async fn notify<P: Serialize + ?Sized>(&self, method: &str, params: Option<&P>) -> Result<(), PeerError> {
        let mut frame = Vec::with_capacity(128);
        jsonrpc::write_notification(&mut frame, method, params).map_err(|e| PeerError::Codec(e.to_string()))?;
        self.send_frame(frame).await
    }

    /// Sends a request and waits for its result (raw JSON), up to the connection's peer-request
    /// timeout. Cancel-safe: dropping the future abandons the answer.
    pub async fn request<P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: Option<&P>,
    ) -> Result<Box<RawValue>, PeerError> {
        self.request_with_timeout(method, params, self.request_timeout).await
    }

    /// Like [`PeerHandle::request`] with an explicit timeout.
    pub async fn request_with_timeout<P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: Option<&P>,
        timeout: Duration,
    ) -> Result<Box<RawValue>, PeerError> {
        let params = match params {
            Some(p) => Some(serde_json::value::to_raw_value(p).map_err(|e| PeerError::Codec(e.to_string()))?),
            None => None,
        };
        let RequestRoute::Table(table) = &self.route else { return Err(PeerError::Closed) };
        let (registered, answer) = table.register(table.next_id());
        let mut frame = Vec::with_capacity(128);
        jsonrpc::write_request(&mut frame, &registered.id, method, params.as_deref())
            .map_err(|e| PeerError::Codec(e.to_string()))?;
        self.send_frame(frame).await?;
        let outcome = match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(outcome)) => outcome.map_err(PeerError::Rpc),
            Ok(Err(_)) => Err(PeerError::Closed),
            Err(_) => Err(PeerError::Timeout { method: method.to_owned(), timeout }),
        };
        drop(registered);
        outcome
    }
}

impl PeerHandle {
    /// Like [`PeerHandle::request_with_timeout`], but a request that is abandoned (the future
    /// dropped, or the timeout reached) is cancelled at the peer with `notifications/cancelled`,
    /// as the spec asks of a requester that stops waiting.
    pub async fn request_cancellable(
        &self,
        method: &str,
        params: Option<Box<RawValue>>,
        timeout: Duration,
    ) -> Result<Box<RawValue>, PeerError> {
        static NEXT: AtomicI64 = AtomicI64::new(1);
        let id = RequestId::String(format!("c-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
        let RequestRoute::Table(table) = &self.route else { return Err(PeerError::Closed) };
        let (registered, answer) = table.register(id.clone());
        let mut frame = Vec::with_capacity(128);
        jsonrpc::write_request(&mut frame, &id, method, params.as_deref())
            .map_err(|e| PeerError::Codec(e.to_string()))?;
        self.send_frame(frame).await?;
        let mut guard = CancelOnDrop { peer: self, id: Some(id), _registered: registered };
        let outcome = match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(outcome)) => {
                guard.id = None;
                outcome.map_err(PeerError::Rpc)
            }
            Ok(Err(_)) => {
                guard.id = None;
                Err(PeerError::Closed)
            }
            Err(_) => Err(PeerError::Timeout { method: method.to_owned(), timeout }),
        };
        drop(guard);
        outcome
    }
}

/// A request's entry in a [`PendingTable`], removed on drop.
struct Registered<'a> {
    table: &'a PendingTable,
    id: RequestId,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.table.forget(&self.id);
    }
}

/// Cancels an abandoned request at the peer (its pending entry goes with `_registered`).
struct CancelOnDrop<'a> {
    peer: &'a PeerHandle,
    id: Option<RequestId>,
    _registered: Registered<'a>,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let params = serde_json::json!({ "requestId": id, "reason": "the client stopped waiting" });
        let mut frame = Vec::with_capacity(96);
        if jsonrpc::write_notification(&mut frame, switchboard_protocol::methods::NOTIFICATION_CANCELLED, Some(&params))
            .is_ok()
        {
            // Best effort: a full queue or a closed connection means there is no one to tell.
            let _ = self.peer.out.try_send(frame);
        }
    }
}

/// The engine's view of one inbound request, handed to the [`Handler`](super::Handler).
///
/// Transports that run requests outside a connection loop (HTTP) make one with
/// [`RequestHandle::detached`].
#[derive(Debug, Clone)]
pub struct RequestHandle {
    pub(super) id: RequestId,
    pub(super) token: CancellationToken,
    pub(super) peer: PeerHandle,
    pub(super) deadline: Arc<Deadline>,
    /// Who sent the request, as the transport authenticated it; opaque to the engine (the server
    /// keeps its `Principal` here when the caller differs per request, as on stateless HTTP).
    pub(super) caller: Option<Arc<dyn std::any::Any + Send + Sync>>,
    /// The transport request that carried it (HTTP: its `X-Request-Id` and `traceparent`).
    pub(crate) origin: Option<Arc<Origin>>,
}

/// Where a request came from, as its transport saw it: the id that correlates it across logs,
/// audit rows and the client's own records (`X-Request-Id` on HTTP), and the caller's trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The correlation id: the client's `X-Request-Id`, or one made up for it.
    pub request_id: Arc<str>,
    /// The W3C `traceparent` the transport request carried.
    pub trace_parent: Option<switchboard_protocol::meta::TraceParent>,
}

impl RequestHandle {
    /// A handle for a request served outside an event loop: frames for the request (progress,
    /// logs, requests to the peer) go to `out`; requests to the peer are correlated through
    /// `pending` (or refused when it is `None`).
    pub fn detached(
        id: RequestId,
        limits: &crate::Limits,
        out: mpsc::Sender<Frame>,
        token: CancellationToken,
        pending: Option<Arc<PendingTable>>,
    ) -> Self {
        let route = pending.map_or(RequestRoute::None, RequestRoute::Table);
        Self {
            id,
            token,
            peer: PeerHandle { out, route, request_timeout: limits.peer_request_timeout },
            deadline: Arc::new(Deadline::new(limits.request_timeout, limits.max_request_timeout)),
            caller: None,
            origin: None,
        }
    }

    /// Records the transport request that carried this one (see [`origin`](Self::origin)).
    pub fn set_origin(&mut self, origin: Arc<Origin>) {
        self.origin = Some(origin);
    }

    /// The transport request that carried this one, when the transport recorded it.
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_deref()
    }

    /// Records who sent the request (see [`caller`](Self::caller)).
    pub fn set_caller<T: std::any::Any + Send + Sync>(&mut self, caller: Arc<T>) {
        self.caller = Some(caller);
    }

    /// Who sent the request, when the transport recorded it as a `T`.
    pub fn caller<T: std::any::Any>(&self) -> Option<&T> {
        self.caller.as_deref()?.downcast_ref()
    }

    /// A handle for work that outlives the request (a task): same id and peer, its own
    /// cancellation token, and no deadline.
    pub fn fork(&self, token: CancellationToken) -> Self {
        let deadline = Arc::new(Deadline::new(self.deadline.idle(), self.deadline.hard()));
        deadline.disable();
        Self {
            id: self.id.clone(),
            token,
            peer: self.peer.clone(),
            deadline,
            caller: self.caller.clone(),
            origin: self.origin.clone(),
        }
    }

    /// The request's id.
    pub fn id(&self) -> &RequestId {
        &self.id
    }

    /// The connection.
    pub fn peer(&self) -> &PeerHandle {
        &self.peer
    }

    /// Whether the request was cancelled (by the peer, a timeout or shutdown).
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// A token that fires when the request is cancelled; hand it to work that should stop too.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.token
    }

    /// The request's deadline; [`Deadline::bump`] extends it.
    pub fn deadline(&self) -> &Deadline {
        &self.deadline
    }

    /// Sends a frame that belongs to this request (progress, log) unless it was cancelled:
    /// after cancellation nothing more may be sent for it.
    pub async fn send_scoped(&self, frame: Frame) -> Result<(), PeerError> {
        if self.token.is_cancelled() {
            return Err(PeerError::Closed);
        }
        self.peer.send_frame(frame).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> (PeerHandle, Arc<PendingTable>, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(16);
        let table = Arc::new(PendingTable::new());
        (PeerHandle::detached(tx, Some(table.clone()), Duration::from_secs(60)), table, rx)
    }

    #[tokio::test]
    async fn a_request_that_times_out_leaves_nothing_pending() {
        let (peer, table, _rx) = peer();
        for _ in 0..3 {
            let e = peer.request_with_timeout::<()>("roots/list", None, Duration::from_millis(5)).await;
            assert!(matches!(e, Err(PeerError::Timeout { .. })), "{e:?}");
        }
        let e = peer.request_cancellable("roots/list", None, Duration::from_millis(5)).await;
        assert!(matches!(e, Err(PeerError::Timeout { .. })), "{e:?}");
        assert!(table.is_empty(), "{} requests still pending", table.len());
    }

    #[tokio::test]
    async fn a_request_whose_caller_goes_away_leaves_nothing_pending() {
        let (peer, table, mut rx) = peer();
        let waiting = tokio::spawn(async move { peer.request::<()>("sampling/createMessage", None).await });
        assert!(rx.recv().await.is_some(), "the request was sent");
        assert_eq!(table.len(), 1);
        waiting.abort();
        let _ = waiting.await;
        assert!(table.is_empty(), "{} requests still pending", table.len());
    }
}
