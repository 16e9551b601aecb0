//! Streamable HTTP, both eras: every message is a POST whose answer is JSON or an SSE stream.
//! Legacy sessions add `Mcp-Session-Id`, a standalone `GET` stream, server requests on SSE
//! streams (answered with a POST), resumption with `Last-Event-ID` after the server's `retry`
//! delay, and `DELETE` on close.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_protocol::ErrorObject;
use tokio::task::JoinHandle;

use super::channel::{Channel, Outgoing};
use super::inbound::Inbound;
use super::sse::{self, SseError, SseEvent, SseState};
use super::stream::StreamConnection;
use super::wire::{self, read_capped, Response, SendError, Wire};
use super::ClientError;

const SESSION_ID: &str = "mcp-session-id";
const PROTOCOL_VERSION: &str = "mcp-protocol-version";
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
/// How often a broken legacy stream is resumed before the call fails.
const MAX_RESUMES: usize = 5;
/// The reconnection delay when the server gave no `retry`.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// How often one request is sent again after new credentials: a first authorization and one
/// step-up. More would loop against a server that will never accept us.
const MAX_REAUTHORIZATIONS: u32 = 2;

/// Supplies credentials for an HTTP server and gets new ones when the server refuses them: the
/// seam the OAuth client ([`super::oauth::OAuth`]) plugs into. Implementations serialize their
/// own re-authorizations.
pub trait HttpAuth: Send + Sync + std::fmt::Debug {
    /// The credential headers for a `method` request to `url` (`Authorization`, and a `DPoP`
    /// proof for sender-constrained tokens); none before the first authorization. An expired
    /// token is refreshed first.
    fn authorization<'a>(
        &'a self,
        method: &'a str,
        url: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(&'static str, String)>, ClientError>>;

    /// The server refused a request: `Ok(true)` when there are new credentials worth one more
    /// try, `Ok(false)` when the refusal is not about credentials (the caller reports it as is).
    fn refused(&self, refusal: AuthRefusal) -> BoxFuture<'_, Result<bool, ClientError>>;
}

/// A `401` or `403` from the server, as the authorizer needs it.
#[derive(Debug, Clone)]
pub struct AuthRefusal {
    /// The HTTP status.
    pub status: u16,
    /// The `WWW-Authenticate` challenges, joined with `, ` when there were several fields.
    pub challenge: String,
    /// The `Authorization` value the refused request carried.
    pub sent: Option<String>,
    /// The server's `DPoP-Nonce`, when it sent one.
    pub nonce: Option<String>,
    /// 1 for the request's first refusal, 2 for the second.
    pub attempt: u32,
}

/// A server reached over HTTP.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    /// The MCP endpoint.
    pub url: String,
    /// Headers sent with every request (e.g. `Authorization`).
    pub headers: Vec<(String, String)>,
    /// The name used in logs and errors (default: the URL's host and port).
    pub name: Option<String>,
    /// The largest message accepted from the server.
    pub max_message_bytes: usize,
    /// Credentials that are obtained and renewed while connected (OAuth), beside `headers`.
    pub auth: Option<Arc<dyn HttpAuth>>,
    /// The URL is a 2024-11-05 HTTP+SSE endpoint: connect to it that way at once (a legacy
    /// session), without first trying Streamable HTTP.
    pub sse: bool,
}

impl HttpTarget {
    /// An endpoint with no extra headers.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            headers: Vec::new(),
            name: None,
            max_message_bytes: 16 * 1024 * 1024,
            auth: None,
            sse: false,
        }
    }
}

/// A request as sent, serialized from borrowed parts (no `Value` tree built for the envelope).
#[derive(serde::Serialize)]
struct RequestFrame<'a> {
    jsonrpc: &'static str,
    id: &'a Value,
    method: &'a str,
    params: &'a Value,
}

/// Where a message on an SSE stream belongs.
enum Message {
    Response { id: Value, outcome: Result<Value, ErrorObject> },
    Request { id: Value, method: String, params: Option<Value> },
    Notification { method: String, params: Value },
}

fn classify(value: Value) -> Option<Message> {
    let Value::Object(mut m) = value else { return None };
    let method = m.remove("method").and_then(|v| v.as_str().map(str::to_owned));
    let id = m.remove("id");
    match (method, id) {
        (Some(method), Some(id)) => Some(Message::Request { id, method, params: m.remove("params") }),
        (Some(method), None) => {
            Some(Message::Notification { method, params: m.remove("params").unwrap_or(Value::Null) })
        }
        (None, Some(id)) => {
            let outcome = match (m.remove("result"), m.remove("error")) {
                (Some(result), _) => Ok(result),
                (None, Some(error)) => Err(serde_json::from_value(error)
                    .unwrap_or_else(|e| ErrorObject::internal(format!("malformed error object: {e}")))),
                (None, None) => Err(ErrorObject::internal("a response with neither result nor error")),
            };
            Some(Message::Response { id, outcome })
        }
        (None, None) => None,
    }
}

/// Shared by the channel and its background tasks.
pub(crate) struct HttpShared {
    server: String,
    url: reqwest::Url,
    wire: Wire,
    headers: HeaderMap,
    inbound: Arc<Inbound>,
    session: Mutex<Option<String>>,
    version: Mutex<Option<String>>,
    max_message_bytes: usize,
    auth: Option<Arc<dyn HttpAuth>>,
}

/// The channel to a Streamable HTTP endpoint.
pub(crate) struct HttpChannel {
    shared: Arc<HttpShared>,
    next_id: AtomicU64,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// Set when the server turned out to speak only the 2024-11-05 HTTP+SSE transport.
    sse: tokio::sync::RwLock<Option<Arc<StreamConnection>>>,
}

impl HttpChannel {
    pub(crate) fn new(target: HttpTarget, inbound: Arc<Inbound>) -> Result<Self, ClientError> {
        let connect_error = |reason: String| ClientError::Connect { server: target.url.clone(), reason };
        let url = reqwest::Url::parse(&target.url).map_err(|e| connect_error(format!("invalid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(connect_error("the URL must be http:// or https://".into()));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &target.headers {
            let name =
                HeaderName::try_from(name.as_str()).map_err(|e| connect_error(format!("header {name:?}: {e}")))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| connect_error(format!("header {name}: invalid value: {e}")))?;
            headers.append(name, value);
        }
        let wire = Wire::new(url.clone(), Duration::from_secs(10)).map_err(connect_error)?;
        let server = target.name.clone().unwrap_or_else(|| match (url.host_str(), url.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}{}", url.path().trim_end_matches('/')),
            _ => target.url.clone(),
        });
        Ok(Self {
            shared: Arc::new(HttpShared {
                server,
                url,
                wire,
                headers,
                inbound,
                session: Mutex::new(None),
                version: Mutex::new(None),
                max_message_bytes: target.max_message_bytes,
                auth: target.auth.clone(),
            }),
            next_id: AtomicU64::new(1),
            listener: Mutex::new(None),
            sse: tokio::sync::RwLock::new(None),
        })
    }
}

impl HttpShared {
    fn session(&self) -> Option<String> {
        self.session.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn version(&self) -> Option<String> {
        self.version.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn transport_error(&self, method: &str, e: &SendError) -> ClientError {
        let cause = root_cause(e.as_error());
        if e.is_connect() {
            ClientError::Connect { server: self.server.clone(), reason: format!("{}: {cause}", self.url) }
        } else {
            ClientError::Disconnected { server: self.server.clone(), reason: format!("{method}: {cause}") }
        }
    }

    fn body_error(&self, method: &str, e: &reqwest::Error) -> ClientError {
        ClientError::Disconnected { server: self.server.clone(), reason: format!("{method}: {}", root_cause(e)) }
    }

    /// A request's headers: the user's, the session's, `extra` (checked when the request is
    /// made) and the protocol version unless `extra` has one.
    fn request_headers(&self, extra: &[(HeaderName, HeaderValue)]) -> HeaderMap {
        let mut headers = self.headers.clone();
        if let Some(session) = self.session().and_then(|s| HeaderValue::try_from(s).ok()) {
            headers.insert(SESSION_ID, session);
        }
        let mut has_version = false;
        for (name, value) in extra {
            has_version |= name.as_str() == PROTOCOL_VERSION;
            headers.append(name.clone(), value.clone());
        }
        if !has_version {
            if let Some(version) = self.version().and_then(|v| HeaderValue::try_from(v).ok()) {
                headers.insert(PROTOCOL_VERSION, version);
            }
        }
        headers
    }

    /// `name: value` as a header field, or the error naming a field that cannot be sent.
    fn header_field(&self, method: &str, name: &str, value: &str) -> Result<(HeaderName, HeaderValue), ClientError> {
        let field = HeaderName::try_from(name).ok().zip(HeaderValue::try_from(value).ok());
        field.ok_or_else(|| ClientError::Refused(format!("{method}: header {name:?} cannot be sent as it is")))
    }

    async fn post(
        &self,
        method: &str,
        body: &impl serde::Serialize,
        headers: &[(String, String)],
    ) -> Result<Response, ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::Protocol {
            server: self.server.clone(),
            reason: format!("cannot encode {method}: {e}"),
        })?;
        let mut extra = headers
            .iter()
            .map(|(name, value)| self.header_field(method, name, value))
            .collect::<Result<Vec<_>, _>>()?;
        extra.push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        extra.push((ACCEPT, HeaderValue::from_static("application/json, text/event-stream")));
        self.send(method, Method::POST, &extra, bytes::Bytes::from(body)).await
    }

    /// Sends a `verb` request with the common headers, `extra` and the authorizer's credentials;
    /// when the server refuses them (`401`, or `403` with a challenge) and the authorizer gets
    /// new ones, sends it again.
    async fn send(
        &self,
        method: &str,
        verb: Method,
        extra: &[(HeaderName, HeaderValue)],
        body: bytes::Bytes,
    ) -> Result<Response, ClientError> {
        let mut attempt = 0;
        loop {
            let mut sent = None;
            let mut credentials = Vec::new();
            if let Some(auth) = &self.auth {
                for (name, value) in auth.authorization(verb.as_str(), self.url.as_str()).await? {
                    if name == AUTHORIZATION.as_str() {
                        sent = Some(value.clone());
                    }
                    credentials.push(self.header_field(method, name, &value)?);
                }
            }
            let headers = || {
                let mut headers = self.request_headers(extra);
                for (name, value) in &credentials {
                    headers.insert(name.clone(), value.clone());
                }
                headers
            };
            let response = self
                .wire
                .send(verb.clone(), headers, body.clone())
                .await
                .map_err(|e| self.transport_error(method, &e))?;
            let status = response.status();
            let Some(auth) = &self.auth else { return Ok(response) };
            if !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) || attempt >= MAX_REAUTHORIZATIONS {
                return Ok(response);
            }
            attempt += 1;
            let challenge = response
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(", ");
            let nonce = response.headers().get("dpop-nonce").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let refusal = AuthRefusal { status: status.as_u16(), challenge, sent, nonce, attempt };
            if !auth.refused(refusal).await? {
                return Ok(response);
            }
        }
    }

    /// Turns a non-success status into the right error.
    async fn refused(&self, method: &str, response: Response) -> ClientError {
        let status = response.status();
        if status == StatusCode::NOT_FOUND && self.session().is_some() {
            return ClientError::SessionExpired { server: self.server.clone() };
        }
        // An error body worth reading is small; more is not read at all.
        let body = match read_capped(response, ERROR_BODY_LIMIT).await {
            Ok(Some(body)) => body,
            _ => Vec::new(),
        };
        if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&body) {
            if let Some(error) = m.get("error").and_then(|e| serde_json::from_value::<ErrorObject>(e.clone()).ok()) {
                return ClientError::Rpc {
                    server: self.server.clone(),
                    method: method.to_owned(),
                    error,
                    http_status: Some(status.as_u16()),
                };
            }
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_owned();
        ClientError::Http {
            server: self.server.clone(),
            method: method.to_owned(),
            status: status.as_u16(),
            body: text,
        }
    }

    /// Reads one request's answer from a response (JSON or SSE), resuming a legacy stream that
    /// breaks off before the answer.
    async fn answer(self: &Arc<Self>, method: &str, id: &Value, response: Response) -> Result<Value, ClientError> {
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_sse {
            let body = read_capped(response, self.max_message_bytes)
                .await
                .map_err(|e| self.body_error(method, &e))?
                .ok_or_else(|| {
                    self.protocol(format!("the answer to {method} is larger than {} bytes", self.max_message_bytes))
                })?;
            let value: Value = serde_json::from_slice(&body)
                .map_err(|e| self.protocol(format!("the answer to {method} is not JSON: {e}")))?;
            return match classify(value) {
                Some(Message::Response { outcome, .. }) => self.outcome(method, outcome),
                _ => Err(self.protocol(format!("the answer to {method} is not a JSON-RPC response"))),
            };
        }
        let mut state = SseState::default();
        let mut stream = Some(response);
        let mut resumes = 0;
        loop {
            if let Some(response) = stream.take() {
                if let Some(outcome) = self.read_events(response, &mut state, Some(id)).await? {
                    return self.outcome(method, outcome);
                }
            }
            // The stream ended without the answer. Legacy servers let us resume it.
            let resumable = self.session().is_some() || self.version().is_some();
            let Some(last) = state.last_event_id.clone().filter(|_| resumable && resumes < MAX_RESUMES) else {
                return Err(ClientError::Disconnected {
                    server: self.server.clone(),
                    reason: format!("the server closed the stream before answering {method}"),
                });
            };
            resumes += 1;
            let delay = state.retry_ms.map_or(DEFAULT_RETRY, Duration::from_millis);
            tokio::time::sleep(delay).await;
            let last = HeaderValue::try_from(last).map_err(|_| self.protocol("an unsendable SSE event id".into()))?;
            let extra = [(ACCEPT, HeaderValue::from_static("text/event-stream")), (LAST_EVENT_ID, last)];
            let response = self.send(method, Method::GET, &extra, bytes::Bytes::new()).await?;
            if !response.status().is_success() {
                return Err(self.refused(method, response).await);
            }
            stream = Some(response);
        }
    }

    fn outcome(&self, method: &str, outcome: Result<Value, ErrorObject>) -> Result<Value, ClientError> {
        outcome.map_err(|error| ClientError::Rpc {
            server: self.server.clone(),
            method: method.to_owned(),
            error,
            http_status: None,
        })
    }

    fn protocol(&self, reason: String) -> ClientError {
        ClientError::Protocol { server: self.server.clone(), reason }
    }

    /// Dispatches the events of one SSE body until it ends or (with `want`) the answer arrives.
    async fn read_events(
        self: &Arc<Self>,
        response: Response,
        state: &mut SseState,
        want: Option<&Value>,
    ) -> Result<Option<Result<Value, ErrorObject>>, ClientError> {
        let mut events = std::pin::pin!(sse::events(wire::chunks(response), self.max_message_bytes));
        while let Some(event) = events.next().await {
            let event = match event {
                Ok(event) => event,
                // A broken stream is resumed like a closed one.
                Err(SseError::Broken(_)) => break,
                Err(e) => return Err(self.protocol(e.to_string())),
            };
            state.observe(&event);
            match self.dispatch(event, want) {
                Some(Message::Response { outcome, .. }) => return Ok(Some(outcome)),
                // A request on one of our requests' streams is about that request: answered here,
                // in the caller's task, so the handler knows which call asks (and the server,
                // waiting for the answer, sends nothing else on this stream meanwhile).
                Some(Message::Request { id, method, params }) if want.is_some() => {
                    self.clone().answer_server_request(id, method, params).await;
                }
                Some(Message::Request { id, method, params }) => {
                    let shared = self.clone();
                    tokio::spawn(async move { shared.answer_server_request(id, method, params).await });
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// Handles one SSE event's notification; returns the wanted answer or a server request.
    fn dispatch(self: &Arc<Self>, event: SseEvent, want: Option<&Value>) -> Option<Message> {
        let data = event.data.as_deref().unwrap_or_default();
        if data.trim().is_empty() || event.event.as_deref().is_some_and(|e| e != "message") {
            return None; // Priming events and foreign event types carry no message.
        }
        let Ok(value) = serde_json::from_str::<Value>(data) else {
            tracing::debug!(target: "switchboard::client", server = %self.server, "ignoring a non-JSON SSE event");
            return None;
        };
        match classify(value)? {
            Message::Response { id, outcome } if want == Some(&id) => Some(Message::Response { id, outcome }),
            Message::Response { id, .. } => {
                tracing::debug!(target: "switchboard::client", server = %self.server, %id, "dropping a response to no pending request");
                None
            }
            Message::Notification { method, params } => {
                self.inbound.notification(&method, params);
                None
            }
            request @ Message::Request { .. } => Some(request),
        }
    }

    /// Answers a legacy server-to-client request and POSTs the response back.
    async fn answer_server_request(self: Arc<Self>, id: Value, method: String, params: Option<Value>) {
        let body = match self.inbound.request(&method, params).await {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(error) => json!({"jsonrpc": "2.0", "id": id, "error": error}),
        };
        match self.post(&method, &body, &[]).await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                tracing::warn!(target: "switchboard::client", server = %self.server, %method, status = %r.status(), "the server refused our answer")
            }
            Err(e) => {
                tracing::warn!(target: "switchboard::client", server = %self.server, %method, error = %e, "could not send our answer")
            }
        }
    }

    /// Reads the standalone stream until it ends for good, resuming after the server's delay.
    async fn listen(self: Arc<Self>, first: Response) {
        let mut state = SseState::default();
        let mut response = Some(first);
        loop {
            if let Some(r) = response.take() {
                let _ = self.read_events(r, &mut state, None).await;
            }
            tokio::time::sleep(state.retry_ms.map_or(DEFAULT_RETRY, Duration::from_millis)).await;
            let last = state.last_event_id.clone();
            let mut extra = vec![(ACCEPT, HeaderValue::from_static("text/event-stream"))];
            extra.extend(last.and_then(|l| HeaderValue::try_from(l).ok()).map(|l| (LAST_EVENT_ID, l)));
            let resumed = self.send("GET", Method::GET, &extra, bytes::Bytes::new()).await;
            match resumed {
                Ok(r) if r.status().is_success() => response = Some(r),
                Ok(r) => {
                    tracing::info!(target: "switchboard::client", server = %self.server, status = %r.status(), "notification stream ended");
                    return;
                }
                Err(e) => {
                    tracing::info!(target: "switchboard::client", server = %self.server, error = %e, "notification stream lost");
                    return;
                }
            }
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    if text == e.to_string() {
        text
    } else {
        format!("{e}: {text}")
    }
}

impl Channel for HttpChannel {
    fn server(&self) -> &str {
        &self.shared.server
    }

    fn request(&self, out: Outgoing) -> BoxFuture<'_, Result<Value, ClientError>> {
        Box::pin(async move {
            let sse = self.sse.read().await.clone();
            if let Some(sse) = sse {
                return sse.request(out).await;
            }
            let id = json!(self.next_id.fetch_add(1, Ordering::Relaxed));
            let body = RequestFrame { jsonrpc: "2.0", id: &id, method: &out.method, params: &out.params };
            let shared = self.shared.clone();
            let method = out.method.clone();
            let exchange = async {
                let response = shared.post(&method, &body, &out.headers).await?;
                if method == switchboard_protocol::methods::INITIALIZE {
                    if let Some(session) = response.headers().get(SESSION_ID).and_then(|v| v.to_str().ok()) {
                        *shared.session.lock().unwrap_or_else(|p| p.into_inner()) = Some(session.to_owned());
                    }
                }
                if !response.status().is_success() {
                    return Err(shared.refused(&method, response).await);
                }
                if response.status() == StatusCode::ACCEPTED {
                    return Err(shared.protocol(format!("the server accepted {method} without answering it")));
                }
                shared.answer(&method, &id, response).await
            };
            let mut guard = CancelLegacy { shared: &self.shared, id: Some(id.clone()) };
            let result = match tokio::time::timeout(out.timeout, exchange).await {
                Ok(result) => {
                    guard.id = None;
                    result
                }
                Err(_) => {
                    Err(ClientError::Timeout { server: self.shared.server.clone(), method, timeout: out.timeout })
                }
            };
            drop(guard);
            result
        })
    }

    fn notify(
        &self,
        method: &str,
        params: Value,
        headers: Vec<(String, String)>,
    ) -> BoxFuture<'_, Result<(), ClientError>> {
        let method = method.to_owned();
        Box::pin(async move {
            let sse = self.sse.read().await.clone();
            if let Some(sse) = sse {
                return sse.notify(&method, params).await;
            }
            let mut body = json!({"jsonrpc": "2.0", "method": method});
            if !params.is_null() {
                body["params"] = params;
            }
            let response = self.shared.post(&method, &body, &headers).await?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(self.shared.refused(&method, response).await)
            }
        })
    }

    fn session_started(&self, version: Option<&str>) {
        *self.shared.version.lock().unwrap_or_else(|p| p.into_inner()) = version.map(str::to_owned);
        if version.is_none() {
            *self.shared.session.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    fn fall_back_to_sse(&self) -> BoxFuture<'_, Result<bool, ClientError>> {
        Box::pin(async move {
            let s = &self.shared;
            let conn = super::legacy_sse::connect(
                &s.server,
                s.wire.reqwest(),
                &s.url,
                &s.headers,
                s.inbound.clone(),
                s.max_message_bytes,
            )
            .await?;
            *self.sse.write().await = Some(Arc::new(conn));
            Ok(true)
        })
    }

    fn open_notification_stream(&self) -> BoxFuture<'_, Result<bool, ClientError>> {
        Box::pin(async move {
            if self.sse.read().await.is_some() {
                return Ok(true); // The HTTP+SSE stream carries everything already.
            }
            if self.listener.lock().unwrap_or_else(|p| p.into_inner()).as_ref().is_some_and(|t| !t.is_finished()) {
                return Ok(true); // Servers allow one standalone stream per session.
            }
            let s = &self.shared;
            let accept = [(ACCEPT, HeaderValue::from_static("text/event-stream"))];
            let response = s.send("GET", Method::GET, &accept, bytes::Bytes::new()).await?;
            if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                return Ok(false);
            }
            if !response.status().is_success() {
                return Err(self.shared.refused("GET", response).await);
            }
            let task = tokio::spawn(self.shared.clone().listen(response));
            if let Some(old) = self.listener.lock().unwrap_or_else(|p| p.into_inner()).replace(task) {
                old.abort();
            }
            Ok(true)
        })
    }

    fn era_key(&self) -> String {
        format!("http:{}", self.shared.url)
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(sse) = self.sse.write().await.take() {
                sse.close().await;
            }
            if let Some(task) = self.listener.lock().unwrap_or_else(|p| p.into_inner()).take() {
                task.abort();
            }
            if self.shared.session().is_some() {
                // Ending the session is a courtesy; a server that already forgot it is fine.
                let s = &self.shared;
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    s.send("DELETE", Method::DELETE, &[], bytes::Bytes::new()),
                )
                .await;
                *self.shared.session.lock().unwrap_or_else(|p| p.into_inner()) = None;
            }
        })
    }
}

impl Drop for HttpChannel {
    fn drop(&mut self) {
        if let Some(task) = self.listener.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }
}

/// In a legacy session, an abandoned request is cancelled with `notifications/cancelled`
/// (modern servers take the closed stream as the cancellation).
struct CancelLegacy<'a> {
    shared: &'a Arc<HttpShared>,
    id: Option<Value>,
}

impl Drop for CancelLegacy<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        if self.shared.session().is_none() && self.shared.version().is_none() {
            return;
        }
        let shared = self.shared.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let body = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": id, "reason": "the client stopped waiting"}});
                let _ = shared.post("notifications/cancelled", &body, &[]).await;
            });
        }
    }
}

/// The most of an error response's body that is read.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
