//! TEMPORARY, for the before/after measurement of the raw hyper client (`http.rs`): the old
//! Streamable HTTP clients through one shared reqwest pool (`SWITCHBOARD_BENCH_HTTP=reqwest`). Modern: stateless POSTs with `_meta` in the body and the routing
//! headers (`Mcp-Protocol-Version`, `Mcp-Method`, `Mcp-Name`) the server checks against it.
//! Legacy: one session per virtual client (`initialize`, `notifications/initialized`, then
//! requests carrying `Mcp-Session-Id`; `DELETE` at the end). Replies may be JSON or SSE.

use reqwest::header::CONTENT_TYPE;

use super::args::Era;
use super::http::sse_message;
use super::message::{self, Failure, Outgoing, INITIALIZED, LEGACY, MODERN};

/// The shared HTTP/1.1 client: one pool of at most `connections` kept-alive connections.
pub(crate) fn client(connections: usize) -> anyhow::Result<reqwest::Client> {
    use anyhow::Context;
    // rustls needs a crypto provider; installing ring is idempotent process-wide.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(connections)
        .no_proxy()
        .build()
        .context("building the HTTP client")
}

/// One virtual client of a Streamable HTTP endpoint.
#[derive(Debug)]
pub(crate) struct HttpConn {
    client: reqwest::Client,
    url: String,
    era: Era,
    /// The legacy session and its negotiated revision.
    session: Option<(String, String)>,
}

impl HttpConn {
    /// A client of `url` sharing `client`'s pool.
    pub(crate) fn new(client: reqwest::Client, url: String, era: Era) -> Self {
        Self { client, url, era, session: None }
    }

    /// Opens the legacy session (nothing to do in the modern era).
    pub(crate) async fn open(&mut self) -> Result<(), Failure> {
        if self.era == Era::Modern {
            return Ok(());
        }
        let response = self.post(message::initialize(), &[("mcp-protocol-version", LEGACY)]).await?;
        let session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| Failure::new("no session", "initialize answered without Mcp-Session-Id"))?;
        let body = reply_body(response, 0).await?;
        let version = message::check_initialize(&body)?;
        let headers = [("mcp-session-id", session.as_str()), ("mcp-protocol-version", version.as_str())];
        let ack = self.post(INITIALIZED.to_owned(), &headers).await?;
        if !ack.status().is_success() {
            return Err(Failure::new(format!("http {}", ack.status().as_u16()), "notifications/initialized refused"));
        }
        self.session = Some((session, version));
        Ok(())
    }

    /// Sends one request and returns the body of its response (the matching message of an SSE
    /// stream).
    ///
    /// Cancel-safe: dropping the future abandons the request (its connection is not reused).
    pub(crate) async fn call(&self, out: &Outgoing) -> Result<bytes::Bytes, Failure> {
        let response = match (&self.session, self.era) {
            (Some((session, version)), _) => {
                self.post(out.body.clone(), &[("mcp-session-id", session), ("mcp-protocol-version", version)]).await?
            }
            (None, Era::Legacy) => return Err(Failure::new("no session", "the session was not opened")),
            (None, Era::Modern) => {
                let mut headers = vec![("mcp-protocol-version", MODERN), ("mcp-method", out.method)];
                if let Some(name) = &out.name {
                    headers.push(("mcp-name", name));
                }
                self.post(out.body.clone(), &headers).await?
            }
        };
        reply_body(response, out.id).await
    }

    /// Ends the legacy session (best effort).
    pub(crate) async fn close(&self) {
        if let Some((session, version)) = &self.session {
            let _ = self
                .client
                .delete(&self.url)
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", version)
                .send()
                .await;
        }
    }

    async fn post(&self, body: String, headers: &[(&str, &str)]) -> Result<reqwest::Response, Failure> {
        let mut request = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send().await.map_err(transport_failure)
    }
}

/// Turns a response into the JSON-RPC message answering `id`: the body of a JSON response, or
/// the `data:` of the SSE event that carries `id`. A non-2xx status is a failure of kind
/// `http <status>`, with the JSON-RPC error code when the body has one.
async fn reply_body(response: reqwest::Response, id: u64) -> Result<bytes::Bytes, Failure> {
    let status = response.status();
    let sse = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let body = response.bytes().await.map_err(transport_failure)?;
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
    if !sse {
        return Ok(body);
    }
    sse_message(body, id)
        .ok_or_else(|| Failure::new("no response", format!("the SSE stream ended without a message for id {id}")))
}

fn transport_failure(e: reqwest::Error) -> Failure {
    let kind = if e.is_connect() {
        "connect"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "http transport"
    };
    Failure::new(kind, format!("{e:#}"))
}
