//! Streamable HTTP clients on raw hyper HTTP/1 connections: each virtual client owns one TCP
//! connection (`TCP_NODELAY`, kept alive) and sends its requests on it one after another, so the
//! load generator spends as little CPU per request as it can (no shared pool, no per-request
//! URL parsing or header-map building beyond the request's own headers).
//!
//! Modern: stateless POSTs with `_meta` in the body and the routing headers
//! (`Mcp-Protocol-Version`, `Mcp-Method`, `Mcp-Name`) the server checks against it. Legacy: one
//! session per virtual client (`initialize`, `notifications/initialized`, then requests carrying
//! `Mcp-Session-Id`; `DELETE` at the end). Replies may be JSON or SSE.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::args::Era;
use super::message::{self, Failure, Outgoing, INITIALIZED, LEGACY, MODERN};

const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");

/// Where the requests go: resolved once, shared by every virtual client.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// The server's socket address.
    addr: SocketAddr,
    /// The `Host` header.
    host: HeaderValue,
    /// The request target (path and query).
    path: Uri,
    /// Headers added to every request (`--header`).
    extra: Vec<(HeaderName, HeaderValue)>,
}

impl Endpoint {
    /// Parses and resolves an `http://host:port/path` URL (no TLS: the load goes to local
    /// servers); every request also carries `headers` (`Name: value`).
    pub(crate) async fn resolve(url: &str, headers: &[String]) -> anyhow::Result<Arc<Self>> {
        use anyhow::Context;
        let uri: Uri = url.parse().with_context(|| format!("invalid URL {url:?}"))?;
        if uri.scheme_str() != Some("http") {
            anyhow::bail!("--url must be an http:// URL (the load generator speaks plain HTTP/1.1): {url}");
        }
        let authority = uri.authority().with_context(|| format!("no host in {url:?}"))?;
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .with_context(|| format!("resolving {}", authority.host()))?
            .next()
            .with_context(|| format!("{} has no address", authority.host()))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).parse().context("the URL's path")?;
        let host = HeaderValue::from_str(authority.as_str()).context("the URL's host")?;
        let mut extra = Vec::new();
        for h in headers {
            let (name, value) = h.split_once(':').with_context(|| format!("--header {h:?} is not 'Name: value'"))?;
            let name = HeaderName::from_bytes(name.trim().as_bytes()).with_context(|| format!("--header {h:?}"))?;
            let value = HeaderValue::from_str(value.trim()).with_context(|| format!("--header {h:?}"))?;
            extra.push((name, value));
        }
        Ok(Arc::new(Self { addr, host, path, extra }))
    }

    /// A request to this endpoint with the headers every request carries.
    fn request(&self, method: Method, body: Bytes) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = self.path.clone();
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json, text/event-stream"));
        for (name, value) in &self.extra {
            headers.insert(name.clone(), value.clone());
        }
        request
    }
}

/// One kept-alive HTTP/1.1 connection. When the server closes it between requests (an idle
/// timeout, `Connection: close`), the next request reconnects first, as a pool would.
#[derive(Debug)]
pub(crate) struct Link {
    endpoint: Arc<Endpoint>,
    sender: SendRequest<Full<Bytes>>,
}

impl Link {
    /// Connects to `endpoint`.
    pub(crate) async fn connect(endpoint: &Arc<Endpoint>) -> Result<Self, Failure> {
        Ok(Self { endpoint: Arc::clone(endpoint), sender: handshake(endpoint.addr).await? })
    }

    /// Sends `request` and returns the response head (its body is still to be read, to the end,
    /// before the next request can go out).
    async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, Failure> {
        if self.sender.is_closed() || self.sender.ready().await.is_err() {
            self.sender = handshake(self.endpoint.addr).await?;
            self.sender.ready().await.map_err(|e| Failure::new("closed", e.to_string()))?;
        }
        self.sender.send_request(request).await.map_err(|e| {
            let kind = if e.is_canceled() || e.is_closed() || e.is_incomplete_message() { "closed" } else { "io" };
            Failure::new(kind, e.to_string())
        })
    }

    /// POSTs `body` with the extra `headers`.
    async fn post(
        &mut self,
        body: Bytes,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<Response<Incoming>, Failure> {
        let mut request = self.endpoint.request(Method::POST, body);
        for (name, value) in headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        self.send(request).await
    }
}

/// A new HTTP/1 connection to `addr`; its I/O runs on a task of its own.
async fn handshake(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, Failure> {
    let stream = TcpStream::connect(addr).await.map_err(|e| Failure::new("connect", format!("{addr}: {e}")))?;
    stream.set_nodelay(true).map_err(|e| Failure::new("connect", e.to_string()))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Failure::new("connect", e.to_string()))?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes the connection.
        let _ = connection.await;
    });
    Ok(sender)
}

/// A legacy session: its id and the negotiated revision (as header values).
#[derive(Debug, Clone)]
pub(crate) struct Session {
    id: HeaderValue,
    version: HeaderValue,
}

impl Session {
    /// Opens a session on `link`: `initialize`, then `notifications/initialized`.
    pub(crate) async fn open(link: &mut Link) -> Result<Self, Failure> {
        let response = link
            .post(Bytes::from(message::initialize()), &[(MCP_PROTOCOL_VERSION, HeaderValue::from_static(LEGACY))])
            .await?;
        let id = response
            .headers()
            .get(MCP_SESSION_ID)
            .cloned()
            .ok_or_else(|| Failure::new("no session", "initialize answered without Mcp-Session-Id"))?;
        let body = reply_body(response, 0).await?;
        let version = message::check_initialize(&body)?;
        let version = HeaderValue::from_str(&version)
            .map_err(|_| Failure::new("wrong result", format!("protocolVersion {version:?} is not a header value")))?;
        let session = Self { id, version };
        let ack = link.post(Bytes::from_static(INITIALIZED.as_bytes()), &session.headers()).await?;
        let status = ack.status();
        drain(ack).await?;
        if !status.is_success() {
            return Err(Failure::new(format!("http {}", status.as_u16()), "notifications/initialized refused"));
        }
        Ok(session)
    }

    /// Ends the session with `DELETE` (best effort).
    pub(crate) async fn close(&self, link: &mut Link) {
        let mut request = link.endpoint.request(Method::DELETE, Bytes::new());
        for (name, value) in self.headers() {
            request.headers_mut().insert(name, value);
        }
        if let Ok(response) = link.send(request).await {
            let _ = drain(response).await;
        }
    }

    fn headers(&self) -> [(HeaderName, HeaderValue); 2] {
        [(MCP_SESSION_ID, self.id.clone()), (MCP_PROTOCOL_VERSION, self.version.clone())]
    }
}

/// One virtual client of a Streamable HTTP endpoint: its own connection and, in the legacy
/// era, its own session.
#[derive(Debug)]
pub(crate) struct HttpConn {
    link: Link,
    era: Era,
    session: Option<Session>,
}

impl HttpConn {
    /// Connects and, in the legacy era, opens the session.
    pub(crate) async fn open(endpoint: &Arc<Endpoint>, era: Era) -> Result<Self, Failure> {
        let mut link = Link::connect(endpoint).await?;
        let session = match era {
            Era::Modern => None,
            Era::Legacy => Some(Session::open(&mut link).await?),
        };
        Ok(Self { link, era, session })
    }

    /// Sends one request and returns the body of its response (the matching message of an SSE
    /// stream).
    ///
    /// Not cancel-safe: dropping the future mid-exchange leaves the connection unusable; the
    /// caller drops the connection after a timeout.
    pub(crate) async fn call(&mut self, out: Outgoing) -> Result<Bytes, Failure> {
        let response = match (&self.session, self.era) {
            (Some(session), _) => self.link.post(Bytes::from(out.body), &session.headers()).await?,
            (None, Era::Legacy) => return Err(Failure::new("no session", "the session was not opened")),
            (None, Era::Modern) => {
                let mut headers = Vec::with_capacity(3);
                headers.push((MCP_PROTOCOL_VERSION, HeaderValue::from_static(MODERN)));
                headers.push((MCP_METHOD, HeaderValue::from_static(out.method)));
                if let Some(name) = &out.name {
                    let value = HeaderValue::from_str(name).map_err(|_| {
                        Failure::new("bad request", format!("tool name {name:?} is not a header value"))
                    })?;
                    headers.push((MCP_NAME, value));
                }
                self.link.post(Bytes::from(out.body), &headers).await?
            }
        };
        reply_body(response, out.id).await
    }

    /// Ends the legacy session (best effort).
    pub(crate) async fn close(mut self) {
        if let Some(session) = self.session.take() {
            session.close(&mut self.link).await;
        }
    }
}

/// Reads a response to its end and discards it (so the connection can carry the next request).
async fn drain(response: Response<Incoming>) -> Result<(), Failure> {
    response.into_body().collect().await.map(drop).map_err(body_failure)
}

/// Turns a response into the JSON-RPC message answering `id`: the body of a JSON response, or
/// the `data:` of the SSE event that carries `id` (decoded with `sse-stream`, the SSE decoder the
/// client and the testkit use too). A non-2xx status is a failure of kind `http <status>`, with
/// the JSON-RPC error code when the body has one. The body is always read to its end, so the
/// connection stays usable.
async fn reply_body(response: Response<Incoming>, id: u64) -> Result<Bytes, Failure> {
    let status = response.status();
    let sse = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if status.is_success() && sse {
        let mut events = sse_stream::SseStream::new(response.into_body());
        let mut reply = None;
        while let Some(event) = events.next().await {
            let event = event.map_err(sse_failure)?;
            if let Some(data) = event.data.filter(|d| reply.is_none() && message::reply_id(d.as_bytes()) == Some(id)) {
                reply = Some(Bytes::from(data));
            }
        }
        return reply
            .ok_or_else(|| Failure::new("no response", format!("the SSE stream ended without a message for id {id}")));
    }
    let body = response.into_body().collect().await.map_err(body_failure)?.to_bytes();
    if !status.is_success() {
        let code = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.pointer("/error/code").and_then(serde_json::Value::as_i64));
        let kind = match code {
            Some(code) => format!("http {} (rpc {code})", status.as_u16()),
            None => format!("http {}", status.as_u16()),
        };
        return Err(Failure::new(kind, String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()));
    }
    Ok(body)
}

fn sse_failure(e: sse_stream::Error) -> Failure {
    match e {
        // The connection broke: the worker reconnects.
        sse_stream::Error::Body(e) => Failure::new("io", e.to_string()),
        other => Failure::new("bad SSE", other.to_string()),
    }
}

fn body_failure(e: hyper::Error) -> Failure {
    Failure::new(if e.is_incomplete_message() || e.is_closed() { "closed" } else { "body" }, e.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::{json, Value};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::args::Scenario;
    use crate::message::Messages;

    /// A minimal HTTP/1.1 MCP server: answers `initialize` with a session, notifications with
    /// 202, `tools/call echo` with the message (as SSE with a priming event when `sse`), and
    /// closes each connection after one answer when `close_each`. Counts the connections.
    async fn server(sse: bool, close_each: bool) -> (Arc<Endpoint>, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/mcp", listener.local_addr().expect("addr"));
        let connections = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    while let Some((head, body)) = read_request(&mut stream, &mut buf).await {
                        let answer = answer(&head, &body, sse, close_each);
                        if stream.write_all(answer.as_bytes()).await.is_err() || close_each {
                            return;
                        }
                    }
                });
            }
        });
        (Endpoint::resolve(&url, &[]).await.expect("endpoint"), connections)
    }

    async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
        let mut chunk = [0u8; 4096];
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
        let len: usize =
            head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap_or(0));
        while buf.len() < end + len {
            let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = buf[end..end + len].to_vec();
        buf.drain(..end + len);
        Some((head, body))
    }

    fn answer(head: &str, body: &[u8], sse: bool, close_each: bool) -> String {
        let close = if close_each { "connection: close\r\n" } else { "" };
        let empty = |status: &str| format!("HTTP/1.1 {status}\r\n{close}content-length: 0\r\n\r\n");
        if head.starts_with("delete") {
            return empty("200 OK");
        }
        let request: Value = serde_json::from_slice(body).unwrap_or_default();
        let Some(id) = request.get("id") else { return empty("202 Accepted") };
        let (result, session) = match request["method"].as_str() {
            Some("initialize") => (json!({"protocolVersion": "2025-11-25"}), "mcp-session-id: s-1\r\n"),
            _ => {
                let text = request.pointer("/params/arguments/message").cloned().unwrap_or_default();
                (json!({"content": [{"type": "text", "text": text}]}), "")
            }
        };
        let reply = json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string();
        let (kind, payload) = if sse {
            ("text/event-stream", format!("id: prime\ndata:\n\nid: e-1\ndata: {reply}\n\n"))
        } else {
            ("application/json", reply)
        };
        format!(
            "HTTP/1.1 200 OK\r\n{close}{session}content-type: {kind}\r\ncontent-length: {}\r\n\r\n{payload}",
            payload.len()
        )
    }

    async fn three_calls(endpoint: &Arc<Endpoint>, era: Era) {
        let messages = Messages::new(Scenario::Echo, era);
        let mut conn = HttpConn::open(endpoint, era).await.expect("open");
        for id in 1..=3 {
            let reply = conn.call(messages.request(id)).await.expect("call");
            messages.check(id, &reply).expect("a right answer");
        }
        conn.close().await;
    }

    #[tokio::test]
    async fn one_kept_alive_connection_carries_every_request() {
        let (endpoint, connections) = server(false, false).await;
        three_calls(&endpoint, Era::Modern).await;
        assert_eq!(connections.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_connection_the_server_closes_is_reopened_before_the_next_request() {
        let (endpoint, connections) = server(false, true).await;
        three_calls(&endpoint, Era::Modern).await;
        assert_eq!(connections.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn legacy_sessions_read_the_answer_from_an_sse_stream() {
        let (endpoint, connections) = server(true, false).await;
        three_calls(&endpoint, Era::Legacy).await;
        // initialize, initialized, three calls and the DELETE on one connection.
        assert_eq!(connections.load(Ordering::Relaxed), 1);
    }
}
