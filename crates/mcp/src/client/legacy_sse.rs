//! The deprecated 2024-11-05 HTTP+SSE transport, for servers that predate Streamable HTTP:
//! `GET` opens the stream, whose first `endpoint` event says where to POST; every answer and
//! server request arrives on the stream. The stream is one long-lived connection, so it runs on
//! the engine like stdio: the reader yields the stream's `message` events, the writer POSTs.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use tokio::sync::mpsc;

use super::inbound::Inbound;
use super::sse::{self, SseError};
use super::stream::StreamConnection;
use super::ClientError;
use crate::transport::{FrameReader, FrameWriter, ReadFrame};

/// How long the server has to announce its endpoint.
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the stream, waits for the `endpoint` event, and starts the connection.
pub(crate) async fn connect(
    server: &str,
    http: &reqwest::Client,
    url: &reqwest::Url,
    headers: &HeaderMap,
    inbound: Arc<Inbound>,
    max_message_bytes: usize,
) -> Result<StreamConnection, ClientError> {
    let fail = |reason: String| ClientError::Connect { server: server.to_owned(), reason };
    let response = http
        .get(url.clone())
        .headers(headers.clone())
        .header(ACCEPT, "text/event-stream")
        .send()
        .await
        .map_err(|e| fail(format!("GET {url}: {e}")))?;
    let is_sse = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !response.status().is_success() || !is_sse {
        return Err(fail(format!(
            "neither Streamable HTTP nor HTTP+SSE: GET {url} answered {} ({})",
            response.status(),
            response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("no content type")
        )));
    }
    let (frames_tx, frames_rx) = mpsc::channel(64);
    let (endpoint_tx, endpoint_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(read_stream(response, frames_tx, endpoint_tx, max_message_bytes));
    let endpoint = tokio::time::timeout(ENDPOINT_TIMEOUT, endpoint_rx)
        .await
        .map_err(|_| fail(format!("GET {url} opened a stream but announced no endpoint")))?
        .map_err(|_| fail(format!("GET {url}: the stream ended before the endpoint event")))?;
    let endpoint = url.join(endpoint.trim()).map_err(|e| fail(format!("invalid endpoint {endpoint:?}: {e}")))?;
    if endpoint.origin() != url.origin() {
        return Err(fail(format!("the server announced an endpoint on another origin: {endpoint}")));
    }
    tracing::debug!(target: "switchboard::client", %server, %endpoint, "using the HTTP+SSE transport");
    let writer = PostWriter { http: http.clone(), endpoint, headers: headers.clone() };
    let why = Arc::new(|| -> BoxFuture<'static, String> { Box::pin(async { "the SSE stream closed".to_owned() }) });
    Ok(StreamConnection::start(server.to_owned(), StreamReader(frames_rx), writer, inbound, max_message_bytes, why)
        .await)
}

/// Splits the stream into the endpoint announcement and the messages.
async fn read_stream(
    response: reqwest::Response,
    frames: mpsc::Sender<io::Result<Option<ReadFrame>>>,
    endpoint: tokio::sync::oneshot::Sender<String>,
    max_message_bytes: usize,
) {
    let mut endpoint = Some(endpoint);
    let mut events = std::pin::pin!(sse::events(response.bytes_stream(), max_message_bytes));
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(SseError::TooLarge(_)) => {
                let _ = frames.send(Ok(Some(ReadFrame::TooLarge(max_message_bytes + 1)))).await;
                break;
            }
            Err(_) => break,
        };
        let is_message = matches!(event.event.as_deref(), None | Some("message"));
        let data = event.data.unwrap_or_default();
        if event.event.as_deref() == Some("endpoint") {
            if let Some(tx) = endpoint.take() {
                let _ = tx.send(data);
            }
        } else if is_message && !data.trim().is_empty() {
            let frame = ReadFrame::Message(data.into_bytes());
            if frames.send(Ok(Some(frame))).await.is_err() {
                return;
            }
        }
    }
    let _ = frames.send(Ok(None)).await;
}

struct StreamReader(mpsc::Receiver<io::Result<Option<ReadFrame>>>);

impl FrameReader for StreamReader {
    async fn read_frame(&mut self) -> io::Result<Option<ReadFrame>> {
        self.0.recv().await.unwrap_or(Ok(None))
    }
}

/// Each outbound frame is one POST to the endpoint.
struct PostWriter {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    headers: HeaderMap,
}

impl FrameWriter for PostWriter {
    async fn write_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        let response = self
            .http
            .post(self.endpoint.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(frame.to_vec())
            .send()
            .await
            .map_err(io::Error::other)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("POST {} answered {}", self.endpoint, response.status())))
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    async fn close(&mut self) -> io::Result<()> {
        Ok(())
    }
}
