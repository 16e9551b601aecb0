//! WebSocket at `/ws` (subprotocol `mcp`): one JSON-RPC message per text frame. The connection
//! runs on the engine loop like stdio, so it can hold a legacy session or carry modern
//! stateless requests. The server pings every keep-alive interval; close codes say why a
//! connection ended (1000 normal, 1009 message too big, 1011 server error).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use super::HttpState;
use crate::engine::Origin;
use crate::server::Principal;
use crate::transport::{FrameReader, FrameWriter, ReadFrame};

pub(crate) async fn upgrade(
    State(state): State<HttpState>,
    caller: Option<Extension<Principal>>,
    origin: Option<Extension<Arc<Origin>>>,
    ws: WebSocketUpgrade,
) -> Response {
    let max = state.server.limits().max_message_bytes;
    // Whoever authenticated the upgrade is who the whole connection acts for.
    let caller = caller.map(|Extension(p)| p).unwrap_or_default();
    // The upgrade's request id and trace stand for every request on the connection.
    let origin = origin.map(|Extension(o)| o);
    let span = tracing::Span::current();
    ws.protocols(["mcp"])
        .max_message_size(max.saturating_add(1))
        .on_upgrade(move |socket| tracing::Instrument::instrument(serve(state, socket, caller, origin), span))
}

async fn serve(state: HttpState, socket: WebSocket, caller: Principal, origin: Option<Arc<Origin>>) {
    state.websockets.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let _open = OpenSocket(state.clone());
    let (sink, stream) = socket.split();
    let (out_tx, out_rx) = mpsc::channel::<Message>(256);
    let liveness = Liveness::new();
    let writer = tokio::spawn(write(sink, out_rx, state.config.keep_alive, liveness.clone()));
    let max = state.server.limits().max_message_bytes;
    let reader = WsReader { stream, max, pongs: out_tx.clone(), liveness };
    let result = state.server.serve_from(reader, WsWriter(out_tx.clone()), caller, origin).await;
    let close = match result {
        Ok(()) => CloseFrame { code: 1000, reason: Utf8Bytes::from_static("bye") },
        Err(_) => CloseFrame { code: 1011, reason: Utf8Bytes::from_static("server error") },
    };
    let _ = out_tx.send(Message::Close(Some(close))).await;
    drop(out_tx);
    let _ = writer.await;
}

/// When the peer was last heard from; a peer silent through two pings is gone (its TCP
/// connection may still look open), and the connection is closed.
#[derive(Clone)]
struct Liveness {
    started: tokio::time::Instant,
    /// Milliseconds after `started` of the last frame received.
    last_heard_ms: Arc<std::sync::atomic::AtomicU64>,
    gone: tokio_util::sync::CancellationToken,
}

impl Liveness {
    fn new() -> Self {
        Self {
            started: tokio::time::Instant::now(),
            last_heard_ms: Arc::default(),
            gone: tokio_util::sync::CancellationToken::new(),
        }
    }

    fn heard(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_heard_ms.store(now, std::sync::atomic::Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_heard_ms.load(std::sync::atomic::Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Message>,
    keep_alive: Duration,
    liveness: Liveness,
) {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + keep_alive, keep_alive);
    loop {
        let message = tokio::select! {
            m = rx.recv() => match m {
                Some(m) => m,
                None => break,
            },
            _ = ping.tick() => {
                if liveness.silent_for() > keep_alive * 2 {
                    tracing::debug!(target: "switchboard::http", "closing a WebSocket whose peer answered no ping");
                    liveness.gone.cancel();
                    let _ = sink.send(Message::Close(Some(CloseFrame { code: 1001, reason: Utf8Bytes::from_static("no pong") }))).await;
                    break;
                }
                Message::Ping(Default::default())
            }
        };
        let closing = matches!(message, Message::Close(_));
        if sink.send(message).await.is_err() || closing {
            break;
        }
    }
    let _ = sink.close().await;
}

struct WsReader {
    stream: SplitStream<WebSocket>,
    max: usize,
    pongs: mpsc::Sender<Message>,
    liveness: Liveness,
}

impl FrameReader for WsReader {
    async fn read_frame(&mut self) -> std::io::Result<Option<ReadFrame>> {
        loop {
            let next = tokio::select! {
                next = self.stream.next() => next,
                _ = self.liveness.gone.cancelled() => return Ok(None),
            };
            if next.is_some() {
                self.liveness.heard();
            }
            match next {
                None | Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Err(e)) => {
                    // An oversized frame surfaces as an error from the protocol layer.
                    let _ = self
                        .pongs
                        .send(Message::Close(Some(CloseFrame {
                            code: 1009,
                            reason: Utf8Bytes::from_static("message too big"),
                        })))
                        .await;
                    return Err(std::io::Error::other(e));
                }
                Some(Ok(Message::Text(text))) => {
                    let bytes = text.as_bytes();
                    if bytes.len() > self.max {
                        return Ok(Some(ReadFrame::TooLarge(bytes.len())));
                    }
                    return Ok(Some(ReadFrame::Message(bytes.to_vec())));
                }
                Some(Ok(Message::Binary(b))) => return Ok(Some(ReadFrame::Message(b.to_vec()))),
                Some(Ok(Message::Ping(p))) => {
                    let _ = self.pongs.send(Message::Pong(p)).await;
                }
                Some(Ok(Message::Pong(_))) => {}
            }
        }
    }
}

struct WsWriter(mpsc::Sender<Message>);

impl FrameWriter for WsWriter {
    async fn write_frame(&mut self, frame: &[u8]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(frame).into_owned();
        self.0.send(Message::Text(text.into())).await.map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
    async fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    async fn close(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Counts the connection as open until dropped.
struct OpenSocket(HttpState);

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.websockets.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}
