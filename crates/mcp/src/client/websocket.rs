//! WebSocket (subprotocol `mcp`): one JSON-RPC message per text frame, run by the engine like
//! stdio.

use std::io;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::channel::{Channel, Outgoing};
use super::inbound::Inbound;
use super::stream::StreamConnection;
use super::ClientError;
use crate::transport::{FrameReader, FrameWriter, ReadFrame};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A server reached over WebSocket.
#[derive(Debug, Clone)]
pub struct WsTarget {
    /// `ws://host:port/path`.
    pub url: String,
    /// Headers for the upgrade request (e.g. `Authorization`).
    pub headers: Vec<(String, String)>,
    /// The largest message accepted.
    pub max_message_bytes: usize,
}

impl WsTarget {
    /// An endpoint with no extra headers.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), headers: Vec::new(), max_message_bytes: 16 * 1024 * 1024 }
    }
}

pub(crate) async fn connect(target: WsTarget, inbound: Arc<Inbound>) -> Result<WsChannel, ClientError> {
    let fail = |reason: String| ClientError::Connect { server: target.url.clone(), reason };
    let mut request = target.url.as_str().into_client_request().map_err(|e| fail(format!("invalid URL: {e}")))?;
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("mcp"));
    for (name, value) in &target.headers {
        let name = HeaderName::try_from(name.as_str()).map_err(|e| fail(format!("header {name:?}: {e}")))?;
        let value = HeaderValue::try_from(value.as_str()).map_err(|e| fail(format!("header {name}: {e}")))?;
        request.headers_mut().append(name, value);
    }
    let (socket, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| fail(e.to_string()))?;
    let (sink, stream) = socket.split();
    let server = target.url.clone();
    let why = Arc::new(|| -> BoxFuture<'static, String> { Box::pin(async { "the WebSocket closed".to_owned() }) });
    let conn = StreamConnection::start(
        server.clone(),
        WsReader { stream, max: target.max_message_bytes },
        WsWriter { sink },
        inbound,
        target.max_message_bytes,
        why,
    )
    .await;
    Ok(WsChannel { server, conn })
}

/// The channel over one WebSocket.
pub(crate) struct WsChannel {
    server: String,
    conn: StreamConnection,
}

impl Channel for WsChannel {
    fn server(&self) -> &str {
        &self.server
    }

    fn request(&self, out: Outgoing) -> BoxFuture<'_, Result<Value, ClientError>> {
        Box::pin(self.conn.request(out))
    }

    fn notify(
        &self,
        method: &str,
        params: Value,
        _headers: Vec<(String, String)>,
    ) -> BoxFuture<'_, Result<(), ClientError>> {
        let method = method.to_owned();
        Box::pin(async move { self.conn.notify(&method, params).await })
    }

    fn era_key(&self) -> String {
        format!("ws:{}", self.server)
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.conn.close())
    }
}

struct WsReader {
    stream: SplitStream<Socket>,
    max: usize,
}

impl FrameReader for WsReader {
    async fn read_frame(&mut self) -> io::Result<Option<ReadFrame>> {
        loop {
            let Some(message) = self.stream.next().await else { return Ok(None) };
            let bytes = match message.map_err(io::Error::other)? {
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Binary(b) => b.to_vec(),
                Message::Close(_) => return Ok(None),
                _ => continue,
            };
            if bytes.len() > self.max {
                return Ok(Some(ReadFrame::TooLarge(bytes.len())));
            }
            return Ok(Some(ReadFrame::Message(bytes)));
        }
    }
}

struct WsWriter {
    sink: SplitSink<Socket, Message>,
}

impl FrameWriter for WsWriter {
    async fn write_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(frame).into_owned();
        self.sink.feed(Message::Text(text.into())).await.map_err(io::Error::other)
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.sink.flush().await.map_err(io::Error::other)
    }

    async fn close(&mut self) -> io::Result<()> {
        let _ = self.sink.send(Message::Close(None)).await;
        self.sink.close().await.map_err(io::Error::other)
    }
}
