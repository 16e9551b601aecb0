//! A channel over a bidirectional message stream (a child's stdin/stdout, a WebSocket), run by
//! the same engine as the server: one loop correlates our requests with their answers and
//! serves the server's requests (sampling, elicitation, roots) through the handler.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;
use switchboard_protocol::jsonrpc::{self, RawNotification, RawRequest};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::channel::Outgoing;
use super::inbound::Inbound;
use super::ClientError;
use crate::engine::{self, Handler, PeerError, PeerHandle, Reply, RequestHandle};
use crate::transport::{FrameReader, FrameWriter};
use crate::Limits;

/// Explains why a stream ended (e.g. a process's exit status), for the errors of the calls it
/// broke.
pub(crate) type WhyClosed = Arc<dyn Fn() -> BoxFuture<'static, String> + Send + Sync>;

/// One running connection over a stream.
pub(crate) struct StreamConnection {
    server: String,
    peer: PeerHandle,
    shutdown: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
    why_closed: WhyClosed,
}

impl StreamConnection {
    /// Starts the engine loop over `reader`/`writer`.
    pub(crate) async fn start<R: FrameReader, W: FrameWriter>(
        server: String,
        reader: R,
        writer: W,
        inbound: Arc<Inbound>,
        max_message_bytes: usize,
        why_closed: WhyClosed,
    ) -> Self {
        // Server requests wait on people (elicitation) or models (sampling): allow them time.
        let limits = Limits::default()
            .with_max_message_bytes(max_message_bytes)
            .with_request_timeout(Duration::from_secs(600))
            .with_max_request_timeout(Duration::from_secs(3600));
        let shutdown = CancellationToken::new();
        let (ready_tx, ready_rx) = oneshot::channel();
        let handler = Arc::new(ClientLoop { inbound });
        let stop = shutdown.clone();
        let name = server.clone();
        let task = tokio::spawn(async move {
            let result = engine::serve_connection(reader, writer, handler, limits, stop, move |peer| {
                let _ = ready_tx.send(peer);
            })
            .await;
            if let Err(e) = result {
                tracing::debug!(target: "switchboard::client", server = %name, error = %e, "connection ended with an error");
            }
        });
        // `on_ready` runs before the loop's first await, so the handle always arrives.
        let peer = match ready_rx.await {
            Ok(peer) => peer,
            Err(_) => unreachable_peer(),
        };
        Self { server, peer, shutdown, task: Mutex::new(Some(task)), why_closed }
    }

    pub(crate) async fn request(&self, out: Outgoing) -> Result<Value, ClientError> {
        let params = serde_json::value::to_raw_value(&out.params).map_err(|e| ClientError::Protocol {
            server: self.server.clone(),
            reason: format!("could not encode {} params: {e}", out.method),
        })?;
        match self.peer.request_cancellable(&out.method, Some(params), out.timeout).await {
            Ok(raw) => serde_json::from_str(raw.get()).map_err(|e| ClientError::Protocol {
                server: self.server.clone(),
                reason: format!("the result of {} is not JSON: {e}", out.method),
            }),
            Err(PeerError::Rpc(error)) => {
                Err(ClientError::Rpc { server: self.server.clone(), method: out.method, error, http_status: None })
            }
            Err(PeerError::Timeout { method, timeout }) => {
                Err(ClientError::Timeout { server: self.server.clone(), method, timeout })
            }
            Err(PeerError::Closed) => {
                Err(ClientError::Disconnected { server: self.server.clone(), reason: (self.why_closed)().await })
            }
            Err(e) => Err(ClientError::Protocol { server: self.server.clone(), reason: e.to_string() }),
        }
    }

    pub(crate) async fn notify(&self, method: &str, params: Value) -> Result<(), ClientError> {
        let params = (!params.is_null()).then_some(params);
        match self.peer.notify(method, params.as_ref()).await {
            Ok(()) => Ok(()),
            Err(_) => Err(ClientError::Disconnected { server: self.server.clone(), reason: (self.why_closed)().await }),
        }
    }

    /// Stops the loop: closes our output (the server sees end of input) and waits for the loop.
    pub(crate) async fn close(&self) {
        self.shutdown.cancel();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

impl Drop for StreamConnection {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A handle whose requests all fail as closed; used only if the engine could not start.
fn unreachable_peer() -> PeerHandle {
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    PeerHandle::detached(tx, None, Duration::from_secs(1))
}

/// The engine [`Handler`] of a client connection.
struct ClientLoop {
    inbound: Arc<Inbound>,
}

impl Handler for ClientLoop {
    fn request(
        self: &Arc<Self>,
        request: RawRequest,
        _handle: RequestHandle,
    ) -> impl Future<Output = Reply> + Send + 'static {
        let inbound = self.inbound.clone();
        async move {
            let params = request.params.as_deref().and_then(|p| serde_json::from_str::<Value>(p.get()).ok());
            match inbound.request(&request.method, params).await {
                Ok(result) => {
                    let mut frame = Vec::with_capacity(256);
                    match jsonrpc::write_result(&mut frame, &request.id, &result) {
                        Ok(()) => Reply::result(frame),
                        Err(e) => Reply::error(
                            Some(&request.id),
                            &switchboard_protocol::ErrorObject::internal(format!("could not encode the answer: {e}")),
                        ),
                    }
                }
                Err(error) => Reply::error(Some(&request.id), &error),
            }
        }
    }

    fn notification(&self, notification: RawNotification, _peer: &PeerHandle) {
        let params = notification
            .params
            .as_deref()
            .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
            .unwrap_or(Value::Null);
        self.inbound.notification(&notification.method, params);
    }
}
