//! WebSocket clients: one socket per virtual client (subprotocol `mcp`), one request in flight
//! on it. In the legacy era each socket is its own session (`initialize` first).

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::args::Era;
use super::message::{self, Failure, Outgoing, INITIALIZED};

/// One virtual client's socket.
#[derive(Debug)]
pub(crate) struct WsConn {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsConn {
    /// Connects to `url` and, in the legacy era, performs the handshake.
    pub(crate) async fn open(url: &str, era: Era) -> Result<Self, Failure> {
        let mut request = url.into_client_request().map_err(|e| Failure::new("connect", e.to_string()))?;
        request.headers_mut().insert("sec-websocket-protocol", http_value("mcp"));
        let (socket, _) =
            tokio_tungstenite::connect_async(request).await.map_err(|e| Failure::new("connect", e.to_string()))?;
        let mut conn = Self { socket };
        if era == Era::Legacy {
            let reply = conn.round_trip(0, message::initialize()).await?;
            message::check_initialize(&reply)?;
            conn.send(INITIALIZED.to_owned()).await?;
        }
        Ok(conn)
    }

    /// Sends one request and returns the message that answers it (notifications and other
    /// messages in between are skipped).
    ///
    /// Not cancel-safe: dropping the future mid-read leaves the reply on the socket; the caller
    /// drops the connection after a timeout.
    pub(crate) async fn call(&mut self, out: Outgoing) -> Result<bytes::Bytes, Failure> {
        self.round_trip(out.id, out.body).await.map(bytes::Bytes::from)
    }

    /// Closes the socket (best effort).
    pub(crate) async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }

    async fn send(&mut self, body: String) -> Result<(), Failure> {
        self.socket.send(Message::Text(body.into())).await.map_err(|e| Failure::new("io", e.to_string()))
    }

    async fn round_trip(&mut self, id: u64, body: String) -> Result<Vec<u8>, Failure> {
        self.send(body).await?;
        loop {
            let frame = match self.socket.next().await {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Err(Failure::new("io", e.to_string())),
                None => return Err(Failure::new("closed", "the server closed the socket")),
            };
            let bytes = match frame {
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Binary(b) => b.to_vec(),
                Message::Close(c) => return Err(Failure::new("closed", format!("close frame {c:?}"))),
                _ => continue,
            };
            if message::reply_id(&bytes) == Some(id) {
                return Ok(bytes);
            }
        }
    }
}

fn http_value(s: &'static str) -> tokio_tungstenite::tungstenite::http::HeaderValue {
    tokio_tungstenite::tungstenite::http::HeaderValue::from_static(s)
}
