//! The connection event loop.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use switchboard_protocol::jsonrpc::{self, DecodeError, Decoded, Inbound, RawNotification, RawRequest, RequestId};
use switchboard_protocol::notifications::CancelledParams;
use switchboard_protocol::{methods, ErrorObject};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::peer::{PeerHandle, PendingTable, RequestHandle};
use super::{Deadline, Frame, Handler, Reply};
use crate::transport::{FrameReader, FrameWriter, ReadFrame};
use crate::Limits;

/// How long in-flight requests may run on after the input closes before they are cancelled.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How many decoded requests may wait for a concurrency slot before reading pauses.
const QUEUE_DEPTH: usize = 64;

/// Why a connection ended abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// Reading failed.
    #[error("reading from the peer failed")]
    Read(#[source] std::io::Error),
    /// Writing failed.
    #[error("writing to the peer failed")]
    Write(#[source] std::io::Error),
}

pub(crate) enum Event {
    Done(RequestId),
}

enum Input {
    Frame(ReadFrame),
    Failed(std::io::Error),
}

/// Serves one connection until the peer closes its input or `shutdown` fires, then lets
/// in-flight requests finish (up to a grace period), cancels the rest, and flushes.
///
/// Returns the [`PeerHandle`] through `on_ready` as soon as the loop runs, so callers (the
/// client runtime, subscription forwarders) can send to the peer.
pub async fn serve_connection<H, R, W>(
    reader: R,
    writer: W,
    handler: Arc<H>,
    limits: Limits,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(PeerHandle),
) -> Result<(), ConnectionError>
where
    H: Handler,
    R: FrameReader,
    W: FrameWriter,
{
    let (out_tx, out_rx) = mpsc::channel::<Frame>(1024);
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    let (in_tx, mut in_rx) = mpsc::channel::<Input>(16);
    let pending = Arc::new(PendingTable::new());
    let peer = PeerHandle::detached(out_tx, Some(pending.clone()), limits.peer_request_timeout);
    on_ready(peer.clone());

    let closing = CancellationToken::new();
    let writer_task = tokio::spawn(write_loop(writer, out_rx, closing.clone()));
    let reader_task = tokio::spawn(read_loop(reader, in_tx));

    let mut state = LoopState {
        handler,
        peer,
        events: ev_tx,
        limits,
        inflight: HashMap::new(),
        pending,
        queue: VecDeque::new(),
        barrier: None,
    };
    let mut read_error = None;
    let mut input_open = true;
    loop {
        let can_read = input_open && state.queue.len() < QUEUE_DEPTH;
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            Some(event) = ev_rx.recv() => state.on_event(event).await,
            input = in_rx.recv(), if can_read => match input {
                Some(Input::Frame(frame)) => state.on_frame(frame).await,
                Some(Input::Failed(e)) => {
                    read_error = Some(e);
                    input_open = false;
                }
                None => input_open = false,
            },
        }
        if !input_open && state.queue.is_empty() {
            break;
        }
    }
    reader_task.abort();
    // Nothing the peer sends can arrive now: requests waiting for its answers fail at once.
    state.pending.clear();
    state.handler.input_closed();

    // Drain: let in-flight requests finish, still answering their peer requests.
    let grace = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(grace);
    while !state.inflight.is_empty() {
        tokio::select! {
            Some(event) = ev_rx.recv() => state.on_event(event).await,
            _ = &mut grace => {
                debug!(target: "switchboard::engine", remaining = state.inflight.len(), "cancelling requests still running at shutdown");
                for token in state.inflight.values() {
                    token.cancel();
                }
                break;
            }
        }
    }
    state.pending.clear();
    state.handler.closed();
    drop(state);
    // Handles may outlive the loop (held by forwarders); closing ends the writer regardless.
    closing.cancel();
    let write_result = writer_task.await.unwrap_or(Ok(()));
    if let Some(e) = read_error {
        return Err(ConnectionError::Read(e));
    }
    write_result.map_err(ConnectionError::Write)
}

struct LoopState<H> {
    handler: Arc<H>,
    peer: PeerHandle,
    events: mpsc::UnboundedSender<Event>,
    limits: Limits,
    inflight: HashMap<RequestId, CancellationToken>,
    /// Requests to the peer awaiting answers (the same table HTTP sessions use).
    pending: Arc<PendingTable>,
    queue: VecDeque<Queued>,
    /// A request everything behind it waits for (see [`Handler::is_barrier`]).
    barrier: Option<RequestId>,
}

/// An inbound message waiting for a concurrency slot or a barrier.
enum Queued {
    /// A request, alone or one of a batch's (its answer then goes into the batch's array).
    Request(RawRequest, Option<Arc<Batch>>),
    Notification(RawNotification),
}

impl Queued {
    fn id(&self) -> Option<&RequestId> {
        match self {
            Queued::Request(r, _) => Some(&r.id),
            Queued::Notification(_) => None,
        }
    }
}

/// A 2025-03-26 batch whose requests are running: each runs like a lone request (queued,
/// counted against the concurrency limit, tracked in flight until done) and its answer is kept
/// here; the last one to finish sends them all as one array.
struct Batch {
    peer: PeerHandle,
    state: std::sync::Mutex<BatchState>,
}

struct BatchState {
    /// Items still to answer (or to be dropped, when cancelled).
    waiting: usize,
    frames: Vec<Frame>,
}

impl Batch {
    fn new(peer: PeerHandle, items: usize) -> Self {
        Self { peer, state: std::sync::Mutex::new(BatchState { waiting: items, frames: Vec::new() }) }
    }

    /// One item is done (`None`: cancelled, nothing to send for it). The last sends the array.
    async fn finish(&self, frame: Option<Frame>) {
        let frames = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.frames.extend(frame);
            state.waiting = state.waiting.saturating_sub(1);
            if state.waiting > 0 {
                return;
            }
            std::mem::take(&mut state.frames)
        };
        if frames.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(frames.iter().map(|f| f.len() + 1).sum::<usize>() + 2);
        out.push(b'[');
        for (i, f) in frames.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(f);
        }
        out.push(b']');
        let _ = self.peer.send_frame(out).await;
    }
}

impl<H: Handler> LoopState<H> {
    async fn on_event(&mut self, event: Event) {
        match event {
            Event::Done(id) => {
                self.inflight.remove(&id);
                if self.barrier.as_ref() == Some(&id) {
                    self.barrier = None;
                }
                self.start_queued();
            }
        }
    }

    async fn on_frame(&mut self, frame: ReadFrame) {
        let bytes = match frame {
            ReadFrame::Message(bytes) => bytes,
            ReadFrame::TooLarge(len) => {
                let error = jsonrpc::oversized(len, self.limits.max_message_bytes);
                self.send_error(None, &error).await;
                return;
            }
        };
        match jsonrpc::decode(&bytes, &self.limits.decode()) {
            Ok(Decoded::Single(message)) => self.on_message(message).await,
            Ok(Decoded::Batch(items)) => match self.handler.batch_allowed() {
                Ok(()) => self.on_batch(items).await,
                Err(error) => self.send_error(None, &error).await,
            },
            Err(DecodeError { id, error }) => self.send_error(id.as_ref(), &error).await,
        }
    }

    async fn on_message(&mut self, message: Inbound) {
        match message {
            Inbound::Request(request) => {
                if let Some(error) = self.duplicate(&request.id) {
                    self.send_error(Some(&request.id), &error).await;
                    return;
                }
                self.queue.push_back(Queued::Request(request, None));
                self.start_queued();
            }
            Inbound::Notification(n) if n.method == methods::NOTIFICATION_CANCELLED => {
                let params = n.params.as_deref().and_then(|p| serde_json::from_str::<CancelledParams>(p.get()).ok());
                if let Some(id) = params.and_then(|p| p.request_id) {
                    if let Some(token) = self.inflight.get(&id) {
                        debug!(target: "switchboard::engine", %id, "request cancelled by peer");
                        token.cancel();
                    } else {
                        self.queue.retain(|q| q.id() != Some(&id));
                    }
                }
            }
            // Behind a barrier, notifications keep their place in line.
            Inbound::Notification(n) if self.barrier.is_some() || !self.queue.is_empty() => {
                self.queue.push_back(Queued::Notification(n));
                self.start_queued();
            }
            Inbound::Notification(n) => self.handler.notification(n, &self.peer),
            Inbound::Response(response) => {
                if !self.pending.resolve(response) {
                    debug!(target: "switchboard::engine", "dropping a response to no pending request");
                }
            }
        }
    }

    /// Why `id` may not be used now: a request with it is running or waiting on this
    /// connection (earlier items of the same batch included).
    fn duplicate(&self, id: &RequestId) -> Option<ErrorObject> {
        (self.inflight.contains_key(id) || self.queue.iter().any(|q| q.id() == Some(id))).then(|| {
            ErrorObject::invalid_request(format!(
                "request id {id} is already in flight on this connection; ids must be unique"
            ))
        })
    }

    /// A batch's requests join the queue like lone ones; its answers come back as one array.
    async fn on_batch(&mut self, items: Vec<Result<Inbound, DecodeError>>) {
        let answered = items.iter().filter(|i| matches!(i, Ok(Inbound::Request(_)) | Err(_))).count();
        let batch = Arc::new(Batch::new(self.peer.clone(), answered));
        for item in items {
            match item {
                Ok(Inbound::Request(request)) => match self.duplicate(&request.id) {
                    Some(error) => batch.finish(Some(Reply::error(Some(&request.id), &error).frame)).await,
                    None => self.queue.push_back(Queued::Request(request, Some(batch.clone()))),
                },
                Ok(other) => self.on_message(other).await,
                Err(DecodeError { id, error }) => batch.finish(Some(Reply::error(id.as_ref(), &error).frame)).await,
            }
        }
        self.start_queued();
    }

    fn new_handle(&self, id: &RequestId) -> (RequestHandle, CancellationToken) {
        let token = CancellationToken::new();
        let deadline = Arc::new(Deadline::new(self.limits.request_timeout, self.limits.max_request_timeout));
        (
            RequestHandle {
                id: id.clone(),
                token: token.clone(),
                peer: self.peer.clone(),
                deadline,
                caller: None,
                origin: None,
            },
            token,
        )
    }

    /// Starts queued requests while concurrency slots are free and no barrier is in flight.
    fn start_queued(&mut self) {
        while self.barrier.is_none() && self.inflight.len() < self.limits.max_concurrent_requests {
            let (request, batch) = match self.queue.pop_front() {
                None => break,
                Some(Queued::Notification(n)) => {
                    self.handler.notification(n, &self.peer);
                    continue;
                }
                Some(Queued::Request(r, batch)) => (r, batch),
            };
            if self.handler.is_barrier(&request.method) {
                self.barrier = Some(request.id.clone());
            }
            let (handle, token) = self.new_handle(&request.id);
            self.inflight.insert(request.id.clone(), token);
            let handler = self.handler.clone();
            let peer = self.peer.clone();
            let events = self.events.clone();
            let id = request.id.clone();
            tokio::spawn(async move {
                let reply = run_request(handler, request, handle).await;
                match batch {
                    Some(batch) => batch.finish(reply.map(|r| r.frame)).await,
                    None => {
                        if let Some(reply) = reply {
                            let _ = peer.send_frame(reply.frame).await;
                        }
                    }
                }
                let _ = events.send(Event::Done(id));
            });
        }
    }

    async fn send_error(&self, id: Option<&RequestId>, error: &ErrorObject) {
        let mut frame = Vec::with_capacity(96 + error.message.len());
        jsonrpc::write_error(&mut frame, id, error);
        let _ = self.peer.send_frame(frame).await;
    }
}

/// Runs one request under its cancellation token and deadline, turning a handler panic into an
/// internal error. `None` means it was cancelled and nothing may be sent for it. Transports that
/// serve requests outside a connection loop (HTTP) call this with a [`RequestHandle::detached`].
///
/// The handler runs inside this future rather than in a task of its own: a panic is caught
/// around each poll, and dropping this future drops the handler (which is how a request is
/// cancelled). Cancellation and the deadline are checked before each poll of the handler, in
/// that order, so they win over a result that is ready at the same moment; their wake-ups are
/// armed only once the handler has to wait, so a request answered on its first poll costs no
/// timer and no waiter.
pub async fn run_request<H: Handler>(handler: Arc<H>, request: RawRequest, handle: RequestHandle) -> Option<Reply> {
    let id = request.id.clone();
    let method = request.method.clone();
    let token = handle.token.clone();
    let deadline = handle.deadline.clone();
    let mut work = std::pin::pin!(Some(handler.request(request, handle)));
    let mut cancelled = std::pin::pin!(token.cancelled());
    let mut expired = std::pin::pin!(deadline.expired());
    let outcome = std::future::poll_fn(|cx| {
        if token.is_cancelled() {
            return Poll::Ready(Outcome::Cancelled);
        }
        if deadline.has_expired() {
            return Poll::Ready(Outcome::TimedOut);
        }
        if let Some(w) = work.as_mut().as_pin_mut() {
            // A panic in a handler becomes an internal error for that request, never a dead
            // connection. The future that panicked is dropped at once (a panic in its drop is
            // caught too) and never polled again.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.poll(cx))) {
                Ok(Poll::Ready(reply)) => return Poll::Ready(Outcome::Done(reply)),
                Ok(Poll::Pending) => {}
                Err(payload) => {
                    let message = panic_message(payload.as_ref());
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work.set(None)));
                    return Poll::Ready(Outcome::Panicked(message));
                }
            }
        }
        if cancelled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Outcome::Cancelled);
        }
        if expired.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Outcome::TimedOut);
        }
        Poll::Pending
    })
    .await;
    match outcome {
        Outcome::Done(reply) => Some(reply),
        Outcome::Cancelled => None,
        Outcome::TimedOut => {
            token.cancel();
            let which = if deadline.hard_limit_reached() {
                format!("the hard limit of {:?}", deadline.hard())
            } else {
                format!("{:?} without progress", deadline.idle())
            };
            let error = ErrorObject::internal(format!("{method} timed out after {which}")).with_data(
                serde_json::json!({ "reason": "timeout", "elapsedMs": deadline.elapsed().as_millis() as u64 }),
            );
            Some(Reply::error(Some(&id), &error))
        }
        Outcome::Panicked(message) => {
            warn!(target: "switchboard::engine", %method, error = %message, "request handler panicked");
            Some(Reply::error(Some(&id), &ErrorObject::internal(format!("internal error while handling {method}"))))
        }
    }
}

/// How [`run_request`] ended.
enum Outcome {
    Done(Reply),
    Cancelled,
    TimedOut,
    Panicked(String),
}

/// The message of a panic payload (`panic!` with a literal or a formatted string).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload");
    format!("panicked with message {text:?}")
}

async fn read_loop<R: FrameReader>(mut reader: R, tx: mpsc::Sender<Input>) {
    loop {
        let input = match reader.read_frame().await {
            Ok(Some(frame)) => Input::Frame(frame),
            Ok(None) => return,
            Err(e) => Input::Failed(e),
        };
        let failed = matches!(input, Input::Failed(_));
        if tx.send(input).await.is_err() || failed {
            return;
        }
    }
}

async fn write_loop<W: FrameWriter>(
    mut writer: W,
    mut rx: mpsc::Receiver<Frame>,
    closing: CancellationToken,
) -> std::io::Result<()> {
    loop {
        let frame = tokio::select! {
            biased;
            frame = rx.recv() => frame,
            _ = closing.cancelled() => rx.try_recv().ok(),
        };
        let Some(frame) = frame else { break };
        writer.write_frame(&frame).await?;
        // Batch writes: flush only when nothing else is queued.
        while let Ok(frame) = rx.try_recv() {
            writer.write_frame(&frame).await?;
        }
        writer.flush().await?;
    }
    writer.close().await
}
