//! [`HttpPeer`]: drives a real server over HTTP (Streamable HTTP in both eras) and checks every
//! message it receives, JSON or SSE, against the schema of the revision in use.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use switchboard_protocol::ProtocolVersion;

use crate::peer::modern_meta;
use crate::schema::SchemaValidator;

/// One SSE event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// The `id:` field.
    pub id: Option<String>,
    /// The `data:` payload (empty for priming events).
    pub data: String,
}

/// What one HTTP exchange returned.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// Response headers (lower-case names).
    pub headers: HashMap<String, String>,
    /// The JSON-RPC messages, in order (one for JSON bodies).
    pub messages: Vec<Value>,
    /// The SSE events as received (empty for JSON bodies).
    pub events: Vec<SseEvent>,
}

impl Reply {
    /// The last message (the response, for a request).
    pub fn last(&self) -> &Value {
        self.messages.last().unwrap_or(&Value::Null)
    }

    /// The content type.
    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").map_or("", String::as_str)
    }
}

/// A client of one MCP endpoint.
#[derive(Debug, Clone)]
pub struct HttpPeer {
    client: reqwest::Client,
    /// The endpoint URL, e.g. `http://127.0.0.1:1234/mcp`.
    pub url: String,
    /// The legacy session, once initialized.
    pub session: Option<String>,
    /// The legacy revision negotiated (modern requests are checked against 2026-07-28).
    pub version: ProtocolVersion,
    /// Sent as `X-API-Key` with every request, when set.
    pub api_key: Option<String>,
    /// Sent as `Authorization: Bearer …` with every request, when set.
    pub bearer: Option<String>,
    /// Sent with every request.
    pub headers: Vec<(String, String)>,
    next_id: i64,
}

/// Installs rustls's ring provider (idempotent); every reqwest client in the workspace needs one.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl HttpPeer {
    /// A client of `url`.
    pub fn new(url: impl Into<String>) -> Self {
        install_tls_provider();
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("HTTP client");
        Self {
            client,
            url: url.into(),
            session: None,
            version: ProtocolVersion::LATEST_LEGACY,
            api_key: None,
            bearer: None,
            headers: Vec::new(),
            next_id: 1,
        }
    }

    /// The same client, authenticating with an access token (as `Authorization: Bearer`).
    pub fn with_bearer(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }

    /// The same client, sending `name: value` with every request.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The same client, authenticating with `key` (as `X-API-Key`).
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    fn id(&mut self) -> Value {
        self.next_id += 1;
        json!(self.next_id)
    }

    /// POSTs `body` with `headers` and collects the answer, validating every message against
    /// `version` (`answered` is the method of the request, for result checks).
    pub async fn post(
        &self,
        body: &Value,
        headers: &[(&str, String)],
        version: ProtocolVersion,
        answered: Option<&str>,
    ) -> Reply {
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        for (k, v) in &self.headers {
            request = request.header(k, v);
        }
        if let Some(key) = &self.api_key {
            request = request.header("x-api-key", key);
        }
        if let Some(token) = &self.bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.expect("POST reaches the server");
        collect(response, version, answered, None).await
    }

    /// A modern request with correct routing headers.
    pub async fn modern(&mut self, method: &str, params: Value, capabilities: Value) -> Reply {
        self.modern_with_meta(method, params, capabilities, json!({})).await
    }

    /// A modern request whose `_meta` also carries the keys of `meta` (a `traceparent`, say).
    pub async fn modern_with_meta(
        &mut self,
        method: &str,
        mut params: Value,
        capabilities: Value,
        meta: Value,
    ) -> Reply {
        params["_meta"] = modern_meta(capabilities);
        if let (Some(all), Value::Object(extra)) = (params["_meta"].as_object_mut(), meta) {
            all.extend(extra);
        }
        let id = self.id();
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut headers = vec![("mcp-protocol-version", "2026-07-28".to_owned()), ("mcp-method", method.to_owned())];
        let name = match method {
            "tools/call" | "prompts/get" => params.get("name"),
            "resources/read" => params.get("uri"),
            "tasks/get" | "tasks/update" | "tasks/cancel" => params.get("taskId"),
            _ => None,
        };
        if let Some(name) = name.and_then(Value::as_str) {
            headers.push(("mcp-name", name.to_owned()));
        }
        self.post(&body, &headers, ProtocolVersion::LATEST, Some(method)).await
    }

    /// The legacy handshake; remembers the session and the negotiated revision.
    pub async fn initialize(&mut self, version: ProtocolVersion, capabilities: Value) -> Reply {
        let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": version.as_str(), "capabilities": capabilities, "clientInfo": {"name": "switchboard-tests", "version": "0"}}});
        let reply = self.post(&body, &[], version, Some("initialize")).await;
        self.session = reply.headers.get("mcp-session-id").cloned();
        if let Some(v) =
            reply.last().pointer("/result/protocolVersion").and_then(Value::as_str).and_then(|s| s.parse().ok())
        {
            self.version = v;
        }
        let _ = self.legacy_notify("notifications/initialized", json!({})).await;
        reply
    }

    fn legacy_headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![("mcp-protocol-version", self.version.as_str().to_owned())];
        if let Some(s) = &self.session {
            h.push(("mcp-session-id", s.clone()));
        }
        h
    }

    /// A legacy request in the session.
    pub async fn legacy(&mut self, method: &str, params: Value) -> Reply {
        let id = self.id();
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.post(&body, &self.legacy_headers(), self.version, Some(method)).await
    }

    /// A legacy notification (or a response to the server) in the session.
    pub async fn legacy_notify(&self, method: &str, params: Value) -> Reply {
        let body = json!({"jsonrpc": "2.0", "method": method, "params": params});
        self.post(&body, &self.legacy_headers(), self.version, None).await
    }

    /// POSTs a raw message in the session (e.g. a response to a server request).
    pub async fn legacy_raw(&self, body: &Value) -> Reply {
        self.post(body, &self.legacy_headers(), self.version, None).await
    }

    /// Starts a legacy request and returns its open SSE stream.
    pub async fn legacy_stream(&mut self, method: &str, params: Value) -> SseReader {
        let id = self.id();
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream, application/json")
            .body(body.to_string());
        for (k, v) in self.legacy_headers() {
            request = request.header(k, v);
        }
        if let Some(key) = &self.api_key {
            request = request.header("x-api-key", key);
        }
        if let Some(token) = &self.bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.expect("POST reaches the server");
        SseReader::new(response, self.version, Some(method.to_owned()))
    }

    /// GET on the endpoint: the standalone stream, or with `last_event_id` the resumption of
    /// a request's stream (`answered` names that request's method, to check its result).
    pub async fn get(&self, last_event_id: Option<&str>, answered: Option<&str>) -> SseReader {
        let mut request = self.client.get(&self.url).header("accept", "text/event-stream");
        for (k, v) in self.legacy_headers() {
            request = request.header(k, v);
        }
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        if let Some(key) = &self.api_key {
            request = request.header("x-api-key", key);
        }
        if let Some(token) = &self.bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.expect("GET reaches the server");
        SseReader::new(response, self.version, answered.map(str::to_owned))
    }

    /// DELETE the session; returns the status.
    pub async fn delete(&self) -> u16 {
        let mut request = self.client.delete(&self.url);
        for (k, v) in self.legacy_headers() {
            request = request.header(k, v);
        }
        request.send().await.expect("DELETE reaches the server").status().as_u16()
    }
}

async fn collect(
    response: reqwest::Response,
    version: ProtocolVersion,
    answered: Option<&str>,
    _: Option<()>,
) -> Reply {
    let status = response.status().as_u16();
    let headers: HashMap<String, String> =
        response.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())).collect();
    let is_sse = headers.get("content-type").is_some_and(|c| c.starts_with("text/event-stream"));
    let text = response.text().await.unwrap_or_default();
    let (messages, events) = if is_sse {
        let events = parse_sse(&text);
        let messages = events.iter().filter(|e| !e.data.is_empty()).map(|e| parse_json(&e.data)).collect();
        (messages, events)
    } else if text.trim().is_empty() {
        (Vec::new(), Vec::new())
    } else {
        (vec![parse_json(&text)], Vec::new())
    };
    for m in &messages {
        check(version, m, answered);
    }
    Reply { status, headers, messages, events }
}

fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("server sent non-JSON {text:?}: {e}"))
}

/// Validates one message: results against `answered`, everything else by its method.
fn check(version: ProtocolVersion, msg: &Value, answered: Option<&str>) {
    let answered = if msg.get("method").is_some() { None } else { answered };
    let v = if msg.pointer("/params/_meta/io.modelcontextprotocol~1subscriptionId").is_some() {
        ProtocolVersion::LATEST
    } else {
        version
    };
    if let Err(e) = SchemaValidator::global().check_message(v, msg, answered) {
        panic!("server sent a message that violates the {v} schema:\n  {msg}\n  {e}");
    }
}

/// Splits an SSE body into events (with the `sse-stream` decoder the client and the load
/// generator use too). Blocks with neither an id nor data (a lone `retry:`) are left out, and
/// so is an unfinished last block.
pub fn parse_sse(text: &str) -> Vec<SseEvent> {
    use futures_util::FutureExt;
    let body =
        futures_util::stream::iter([Ok::<_, std::convert::Infallible>(bytes::Bytes::copy_from_slice(text.as_bytes()))]);
    // The input is all there, so the stream never waits.
    let events: Vec<_> = sse_stream::SseByteStream::new(body)
        .collect::<Vec<_>>()
        .now_or_never()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.unwrap_or_else(|e| panic!("the server sent an invalid SSE stream: {e}\n{text}")))
        .collect();
    events.into_iter().filter_map(event).collect()
}

/// An `sse-stream` block as an [`SseEvent`], unless it has neither an id nor data.
fn event(block: sse_stream::Sse) -> Option<SseEvent> {
    (block.id.is_some() || block.data.is_some())
        .then(|| SseEvent { id: block.id, data: block.data.unwrap_or_default() })
}

/// Reads an SSE response incrementally.
pub struct SseReader {
    /// The status.
    pub status: u16,
    /// The `content-type`.
    pub content_type: String,
    /// Response headers (lower-case names).
    pub headers: HashMap<String, String>,
    events: std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<sse_stream::Sse, sse_stream::Error>> + Send>>,
    version: ProtocolVersion,
    answered: Option<String>,
}

impl std::fmt::Debug for SseReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseReader").field("status", &self.status).finish_non_exhaustive()
    }
}

impl SseReader {
    fn new(response: reqwest::Response, version: ProtocolVersion, answered: Option<String>) -> Self {
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let events = Box::pin(sse_stream::SseByteStream::new(response.bytes_stream()));
        Self { status, content_type, headers, events, version, answered }
    }

    /// The next event (validated if it carries a message), or `None` when the stream ends or
    /// nothing arrives within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseEvent> {
        loop {
            let block = match tokio::time::timeout(timeout, self.events.next()).await {
                Ok(Some(Ok(block))) => block,
                _ => return None,
            };
            let Some(event) = event(block) else { continue };
            if !event.data.is_empty() {
                check(self.version, &parse_json(&event.data), self.answered.as_deref());
            }
            return Some(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_sse_keeps_priming_events_and_drops_an_unfinished_block() {
        let events = parse_sse("id: p-1\ndata:\n\nretry: 10\n\nid: 7\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\ndata: {\"cut");
        assert_eq!(
            events,
            [
                SseEvent { id: Some("p-1".into()), data: String::new() },
                SseEvent { id: Some("7".into()), data: "{\"a\":\n1}".into() },
            ]
        );
    }
}
