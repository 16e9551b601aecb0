//! The [`Client`]: era detection, per-request `_meta` or a legacy session, the standard and
//! custom HTTP headers, multi round-trip requests, version retries, the response cache, and
//! restarts of dead stdio servers.

mod calls;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use switchboard_protocol::lifecycle::{DiscoverResult, Implementation, InitializeResult, ServerCapabilities};
use switchboard_protocol::logging::LoggingLevel;
use switchboard_protocol::mrtr::InputRequest;
use switchboard_protocol::notifications::ProgressParams;
use switchboard_protocol::{meta, methods, ErrorCode, ProtocolVersion};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::channel::{Channel, Outgoing};
use super::handler::{self, ClientHandler};
use super::inbound::{Inbound, ServerNotification};
use super::{ClientError, Target};
use crate::xmcp::{self, HeaderParam};

/// Which era to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EraChoice {
    /// Detect it (modern first, as the spec prescribes).
    #[default]
    Auto,
    /// Modern, starting with this version.
    Modern(ProtocolVersion),
    /// Legacy (`initialize`), offering this version.
    Legacy(ProtocolVersion),
}

/// How a client behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Who we are.
    pub client_info: Implementation,
    /// Which era to speak.
    pub era: EraChoice,
    /// How long a request may take (default 60 s); [`RequestOptions::timeout`] overrides it.
    pub request_timeout: Duration,
    /// How long the era probe (`server/discover`) waits before assuming a legacy server that
    /// does not answer unknown requests (default 5 s).
    pub probe_timeout: Duration,
    /// The most `input_required` rounds one request may take (default 8).
    pub max_input_rounds: usize,
    /// The log level requested from the server (modern: per request; legacy: `logging/setLevel`).
    pub log_level: Option<LoggingLevel>,
    /// Whether cacheable results are kept for their `ttlMs` (default on).
    pub cache: bool,
    /// Whether a legacy HTTP session opens the standalone `GET` stream right after
    /// `initialize`, where servers send requests and notifications not tied to a call (default
    /// on, as the official SDKs do).
    pub open_legacy_stream: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            client_info: Implementation::new("switchboard", env!("CARGO_PKG_VERSION")),
            era: EraChoice::Auto,
            request_timeout: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(5),
            max_input_rounds: 8,
            log_level: None,
            cache: true,
            open_legacy_stream: true,
        }
    }
}

/// Per-call settings.
#[derive(Default)]
pub struct RequestOptions {
    /// Overrides [`ClientOptions::request_timeout`].
    pub timeout: Option<Duration>,
    /// Called with each progress notification of this request.
    pub on_progress: Option<Box<dyn Fn(ProgressParams) + Send + Sync>>,
}

impl std::fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestOptions").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

/// What the handshake learned.
#[derive(Debug, Clone)]
struct State {
    version: ProtocolVersion,
    server_info: Option<Implementation>,
    capabilities: ServerCapabilities,
    instructions: Option<String>,
}

/// The era each server was found to speak, for this process.
static ERAS: Mutex<Option<HashMap<String, bool>>> = Mutex::new(None);

fn remembered_era(key: &str) -> Option<bool> {
    ERAS.lock().unwrap_or_else(|p| p.into_inner()).as_ref().and_then(|m| m.get(key).copied())
}

fn remember_era(key: String, modern: bool) {
    ERAS.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(HashMap::new).insert(key, modern);
}

/// A connection to one MCP server. Cheap to clone; every clone shares the connection.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    channel: Box<dyn Channel>,
    inbound: Arc<Inbound>,
    options: ClientOptions,
    state: RwLock<State>,
    next_token: AtomicU64,
    /// `x-mcp-header` parameters of the tools seen in `tools/list`.
    tool_headers: Mutex<HashMap<String, Vec<HeaderParam>>>,
    /// Tools that must run as tasks (legacy `execution.taskSupport: required`).
    task_tools: Mutex<std::collections::HashSet<String>>,
    /// Tools dropped from `tools/list` for invalid definitions, with the reason.
    invalid_tools: Mutex<HashMap<String, String>>,
    handshake_lock: tokio::sync::Mutex<()>,
    /// Our capabilities and identity as sent in every modern request's `_meta` (serialized once:
    /// neither changes while connected).
    modern_meta: std::sync::OnceLock<(Value, Value)>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server_name())
            .field("version", &self.protocol_version())
            .finish()
    }
}

impl Client {
    /// Connects, detects the server's era and completes the handshake.
    pub async fn connect(
        target: Target,
        handler: impl ClientHandler,
        mut options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let inbound = Arc::new(Inbound::new(Arc::new(handler)));
        let channel: Box<dyn Channel> = match target {
            #[cfg(feature = "client-stdio")]
            Target::Stdio(t) => Box::new(super::stdio::StdioChannel::spawn(t, inbound.clone()).await?),
            #[cfg(feature = "client-http")]
            Target::Http(t) if t.sse => {
                // HTTP+SSE servers are legacy by definition: no probe, straight to the stream.
                let channel = super::http::HttpChannel::new(t, inbound.clone())?;
                channel.fall_back_to_sse().await?;
                if matches!(options.era, EraChoice::Auto) {
                    options.era = EraChoice::Legacy(ProtocolVersion::LATEST_LEGACY);
                }
                Box::new(channel)
            }
            #[cfg(feature = "client-http")]
            Target::Http(t) => Box::new(super::http::HttpChannel::new(t, inbound.clone())?),
            #[cfg(feature = "client-ws")]
            Target::WebSocket(t) => Box::new(super::websocket::connect(t, inbound.clone()).await?),
        };
        let client = Client {
            inner: Arc::new(Inner {
                channel,
                inbound,
                state: RwLock::new(State {
                    version: ProtocolVersion::LATEST,
                    server_info: None,
                    capabilities: ServerCapabilities::default(),
                    instructions: None,
                }),
                options,
                next_token: AtomicU64::new(1),
                tool_headers: Mutex::new(HashMap::new()),
                task_tools: Mutex::new(std::collections::HashSet::new()),
                invalid_tools: Mutex::new(HashMap::new()),
                handshake_lock: tokio::sync::Mutex::new(()),
                modern_meta: std::sync::OnceLock::new(),
            }),
        };
        if let Err(e) = client.handshake().await {
            client.inner.channel.close().await;
            return Err(e);
        }
        Ok(client)
    }

    /// The server's display name (from the target).
    pub fn server_name(&self) -> &str {
        self.inner.channel.server()
    }

    /// The protocol version in use.
    pub fn protocol_version(&self) -> ProtocolVersion {
        // Read in place: every request asks, and the rest of the state is not cheap to clone.
        self.inner.state.read().unwrap_or_else(|p| p.into_inner()).version
    }

    /// Whether the server speaks the modern (stateless) era.
    pub fn is_modern(&self) -> bool {
        self.protocol_version().is_modern()
    }

    /// The server's identity, when it gave one.
    pub fn server_info(&self) -> Option<Implementation> {
        self.state().server_info
    }

    /// The server's capabilities.
    pub fn capabilities(&self) -> ServerCapabilities {
        self.state().capabilities
    }

    /// The server's instructions for the model.
    pub fn instructions(&self) -> Option<String> {
        self.state().instructions
    }

    fn state(&self) -> State {
        self.inner.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_state(&self, state: State) {
        *self.inner.state.write().unwrap_or_else(|p| p.into_inner()) = state;
    }

    // ---------------------------------------------------------------- handshake

    async fn handshake(&self) -> Result<(), ClientError> {
        let _serial = self.inner.handshake_lock.lock().await;
        self.inner.inbound.cache.clear();
        match self.inner.options.era {
            EraChoice::Modern(v) => self.discover_as(v).await.map(|_| ()),
            EraChoice::Legacy(v) => self.initialize(v).await,
            EraChoice::Auto => {
                let key = self.inner.channel.era_key();
                if remembered_era(&key) == Some(false) {
                    return self.initialize(ProtocolVersion::LATEST_LEGACY).await;
                }
                match self.probe().await {
                    Ok(true) => {
                        remember_era(key, true);
                        Ok(())
                    }
                    Ok(false) => {
                        remember_era(key, false);
                        self.initialize(ProtocolVersion::LATEST_LEGACY).await
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// `server/discover` with our newest version: `Ok(true)` for a modern server, `Ok(false)`
    /// for a legacy one, `Err` when the server cannot be reached at all.
    async fn probe(&self) -> Result<bool, ClientError> {
        let timeout = self.inner.options.probe_timeout;
        match self.discover_with_timeout(ProtocolVersion::LATEST, timeout).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_modern_error() => Ok(true),
            Err(e @ (ClientError::Connect { .. } | ClientError::Disconnected { .. })) => Err(e),
            Err(e) => {
                tracing::debug!(target: "switchboard::client", server = %self.server_name(), error = %e, "not a modern server; initializing");
                Ok(false)
            }
        }
    }

    async fn discover_as(&self, version: ProtocolVersion) -> Result<DiscoverResult, ClientError> {
        self.discover_with_timeout(version, self.inner.options.request_timeout).await
    }

    async fn discover_with_timeout(
        &self,
        version: ProtocolVersion,
        timeout: Duration,
    ) -> Result<DiscoverResult, ClientError> {
        {
            let mut state = self.state();
            state.version = version;
            self.set_state(state);
        }
        let opts = RequestOptions { timeout: Some(timeout), on_progress: None };
        let result: DiscoverResult = self.request_typed(methods::SERVER_DISCOVER, json!({}), opts).await?;
        let mut state = self.state();
        // Keep the version the request finally succeeded with, if the server offered it.
        if !result.supported_versions.iter().any(|v| v == state.version.as_str()) {
            let ours = choose_version(&result.supported_versions, true).ok_or_else(|| ClientError::Protocol {
                server: self.server_name().to_owned(),
                reason: format!(
                    "the server supports {:?}, none of which this client speaks",
                    result.supported_versions
                ),
            })?;
            state.version = ours;
        }
        state.server_info = result.meta.as_ref().and_then(|m| m.server_info.as_deref().cloned()).or(state.server_info);
        state.capabilities = result.capabilities.clone();
        state.instructions = result.instructions.clone();
        self.set_state(state);
        Ok(result)
    }

    async fn initialize(&self, version: ProtocolVersion) -> Result<(), ClientError> {
        self.inner.channel.session_started(None);
        {
            let mut state = self.state();
            state.version = version;
            self.set_state(state);
        }
        let params = json!({
            "protocolVersion": version.as_str(),
            "capabilities": self.inner.inbound.handler().capabilities(),
            "clientInfo": self.inner.options.client_info,
        });
        let first = self
            .request_typed::<InitializeResult>(methods::INITIALIZE, params.clone(), RequestOptions::default())
            .await;
        let result = match first {
            // A 400/404/405 without a modern error: maybe a 2024-11-05 HTTP+SSE server.
            Err(e) if refused_by_http(&e) && self.inner.channel.fall_back_to_sse().await? => {
                tracing::info!(target: "switchboard::client", server = %self.server_name(), "falling back to the HTTP+SSE transport");
                self.request_typed(methods::INITIALIZE, params, RequestOptions::default()).await?
            }
            other => other?,
        };
        let agreed: ProtocolVersion = result.protocol_version.parse().map_err(|_| ClientError::Protocol {
            server: self.server_name().to_owned(),
            reason: format!(
                "the server chose protocol version {:?}, which this client does not speak",
                result.protocol_version
            ),
        })?;
        if agreed.is_modern() {
            return Err(ClientError::Protocol {
                server: self.server_name().to_owned(),
                reason: format!("the server answered initialize with the modern version {agreed}"),
            });
        }
        self.set_state(State {
            version: agreed,
            server_info: Some((*result.server_info).clone()),
            capabilities: result.capabilities,
            instructions: result.instructions,
        });
        self.inner.channel.session_started(Some(agreed.as_str()));
        self.inner
            .channel
            .notify(methods::INITIALIZED, Value::Null, self.standard_headers(methods::INITIALIZED, &Value::Null))
            .await?;
        if self.inner.options.open_legacy_stream {
            if let Err(e) = self.inner.channel.open_notification_stream().await {
                tracing::debug!(target: "switchboard::client", server = %self.server_name(), error = %e, "no standalone stream");
            }
        }
        if let (Some(level), true) = (self.inner.options.log_level, self.capabilities().logging.is_some()) {
            let _ = self.request(methods::LOGGING_SET_LEVEL, json!({ "level": level })).await;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- requests

    /// Sends any request and returns its raw result.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        self.request_with(method, params, RequestOptions::default()).await
    }

    /// [`Client::request`] with per-call options (timeout, progress).
    pub async fn request_with(&self, method: &str, params: Value, opts: RequestOptions) -> Result<Value, ClientError> {
        let mut params = match params {
            Value::Null => Value::Object(Map::new()),
            p @ Value::Object(_) => p,
            other => return Err(ClientError::Refused(format!("{method} params must be an object, not {other}"))),
        };
        let cache_key = if self.inner.options.cache { super::cache::ResponseCache::key(method, &params) } else { None };
        if let Some(hit) = cache_key.as_ref().and_then(|k| self.inner.inbound.cache.get(k)) {
            return Ok(hit);
        }
        let progress = match opts.on_progress {
            Some(callback) => {
                let token = json!(format!("p-{}", self.inner.next_token.fetch_add(1, Ordering::Relaxed)));
                meta_object(&mut params).insert("progressToken".into(), token.clone());
                let (guard, mut rx) = self.inner.inbound.watch_progress(&token);
                let task = tokio::spawn(async move {
                    while let Some(p) = rx.recv().await {
                        callback(p);
                    }
                });
                Some((guard, task))
            }
            None => None,
        };
        let timeout = opts.timeout.unwrap_or(self.inner.options.request_timeout);
        let result = self.request_rounds(method, params, cache_key, timeout).await;
        if let Some((guard, task)) = progress {
            // Progress sent just before the result is still queued: deliver it, then stop.
            drop(guard);
            let _ = task.await;
        }
        result
    }

    /// The request with its retries: MRTR rounds, a version retry, a renewed session, a
    /// restarted server.
    async fn request_rounds(
        &self,
        method: &str,
        mut params: Value,
        cache_key: Option<(String, String)>,
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        // The params as the caller gave them, kept once a round needs them (rarely).
        let mut original: Option<Value> = None;
        let mut rounds = 0;
        let mut version_retried = false;
        let mut session_renewed = false;
        let mut headers_refreshed = false;
        let mut reconnected = false;
        loop {
            let version = self.protocol_version();
            let mut sent = params.clone();
            if version.is_modern() {
                self.add_modern_meta(&mut sent, version);
            }
            let mut headers = self.standard_headers(method, &sent);
            if version.is_modern() {
                headers.push(("mcp-protocol-version".into(), version.as_str().into()));
            }
            if method == methods::TOOLS_CALL {
                headers.extend(self.param_headers(&sent)?);
            }
            let out = Outgoing { method: method.to_owned(), params: sent, headers, timeout };
            match self.inner.channel.request(out).await {
                Ok(result) => {
                    let input_required = version.is_modern()
                        && result.get("resultType").and_then(Value::as_str) == Some("input_required");
                    if !input_required {
                        if let Some(key) = cache_key {
                            self.inner.inbound.cache.put(key, &result);
                        }
                        return Ok(result);
                    }
                    rounds += 1;
                    if rounds > self.inner.options.max_input_rounds {
                        return Err(self.too_many_rounds(&format!("{method} still needs input"), "giving up"));
                    }
                    let base = match &original {
                        Some(base) => base,
                        None => original.insert(std::mem::take(&mut params)),
                    };
                    params = self.fulfil(method, base, &result).await?;
                }
                Err(e) if !version_retried && version.is_modern() && is_version_error(&e) => {
                    version_retried = true;
                    let supported = e
                        .rpc_error()
                        .and_then(|err| err.data.as_ref())
                        .and_then(|d| d.get("supported"))
                        .and_then(|s| serde_json::from_value::<Vec<String>>(s.clone()).ok())
                        .unwrap_or_default();
                    let Some(version) = choose_version(&supported, true) else { return Err(e) };
                    let mut next = self.state();
                    next.version = version;
                    self.set_state(next);
                }
                // The tool's x-mcp-header annotations changed since we listed it: list again
                // (past the cache) and retry with the right headers, as the spec suggests.
                Err(e) if !headers_refreshed && method == methods::TOOLS_CALL && is_header_mismatch(&e) => {
                    headers_refreshed = true;
                    tracing::debug!(target: "switchboard::client", server = %self.server_name(), error = %e, "header mismatch; refreshing the tool list");
                    self.inner.inbound.cache.invalidate(methods::NOTIFICATION_TOOLS_LIST_CHANGED, &Value::Null);
                    Box::pin(self.list_all_tools()).await?;
                }
                Err(ClientError::SessionExpired { .. }) if !session_renewed && method != methods::INITIALIZE => {
                    session_renewed = true;
                    tracing::info!(target: "switchboard::client", server = %self.server_name(), "session expired; initializing again");
                    Box::pin(self.initialize(version)).await?;
                }
                Err(e @ ClientError::Disconnected { .. })
                    if !reconnected && self.inner.channel.can_reconnect() && !is_handshake(method) =>
                {
                    reconnected = true;
                    tracing::warn!(target: "switchboard::client", server = %self.server_name(), error = %e, "server lost; restarting it");
                    self.inner.channel.reconnect().await?;
                    Box::pin(self.handshake()).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn request_typed<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
        opts: RequestOptions,
    ) -> Result<T, ClientError> {
        let value = self.request_with(method, params, opts).await?;
        serde_json::from_value(value).map_err(|e| ClientError::Protocol {
            server: self.server_name().to_owned(),
            reason: format!("the result of {method} does not match the schema: {e}"),
        })
    }

    /// Modern requests carry the version, our identity and capabilities in `_meta`.
    fn add_modern_meta(&self, params: &mut Value, version: ProtocolVersion) {
        let (capabilities, info) = self.inner.modern_meta.get_or_init(|| {
            (
                serde_json::to_value(self.inner.inbound.handler().capabilities()).unwrap_or_default(),
                serde_json::to_value(&self.inner.options.client_info).unwrap_or_default(),
            )
        });
        let level = self.inner.options.log_level;
        let m = meta_object(params);
        m.insert(meta::PROTOCOL_VERSION.into(), json!(version.as_str()));
        m.insert(meta::CLIENT_INFO.into(), info.clone());
        // A request may declare more for itself (the tasks extension, for a tool that needs it).
        m.entry(meta::CLIENT_CAPABILITIES.to_owned()).or_insert_with(|| capabilities.clone());
        if let Some(level) = level {
            m.entry(meta::LOG_LEVEL.to_owned()).or_insert_with(|| json!(level));
        }
    }

    /// `Mcp-Method` and, where the method names something, `Mcp-Name`.
    fn standard_headers(&self, method: &str, params: &Value) -> Vec<(String, String)> {
        // Lower case, the form HTTP header names are kept and sent in (no case mapping per call).
        let mut headers = vec![("mcp-method".to_owned(), method.to_owned())];
        let field = match method {
            methods::TOOLS_CALL | methods::PROMPTS_GET => Some("name"),
            methods::RESOURCES_READ => Some("uri"),
            methods::TASKS_GET | methods::TASKS_UPDATE | methods::TASKS_CANCEL => Some("taskId"),
            _ => None,
        };
        if let Some(name) = field.and_then(|f| params.get(f)).and_then(Value::as_str) {
            headers.push(("mcp-name".to_owned(), xmcp::encode_header_value(name)));
        }
        headers
    }

    /// `Mcp-Param-*` headers for a tool's `x-mcp-header` arguments; refuses tools whose
    /// definition was invalid.
    fn param_headers(&self, params: &Value) -> Result<Vec<(String, String)>, ClientError> {
        let Some(name) = params.get("name").and_then(Value::as_str) else { return Ok(Vec::new()) };
        if let Some(reason) = self.inner.invalid_tools.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
            return Err(ClientError::Refused(format!(
                "tool {name:?} has an invalid definition and cannot be called: {reason}"
            )));
        }
        let headers = self.inner.tool_headers.lock().unwrap_or_else(|p| p.into_inner());
        let Some(wanted) = headers.get(name) else { return Ok(Vec::new()) };
        let arguments = params.get("arguments").cloned().unwrap_or(Value::Null);
        Ok(wanted
            .iter()
            .filter_map(|p| xmcp::param_value(&arguments, &p.path).map(|v| (format!("Mcp-Param-{}", p.name), v)))
            .collect())
    }

    /// The error for a request that needed input more often than `max_input_rounds` allows.
    pub(super) fn too_many_rounds(&self, what: &str, outcome: &str) -> ClientError {
        ClientError::Protocol {
            server: self.server_name().to_owned(),
            reason: format!("{what} after {} rounds; {outcome}", self.inner.options.max_input_rounds),
        }
    }

    /// Answers the input requests of an `InputRequiredResult` and builds the retry's params.
    async fn fulfil(&self, method: &str, original: &Value, result: &Value) -> Result<Value, ClientError> {
        let responses = self.answer_inputs(method, result).await?;
        let mut retry = original.clone();
        if let Some(obj) = retry.as_object_mut() {
            obj.insert("inputResponses".into(), Value::Object(responses));
            match result.get("requestState") {
                Some(state) => obj.insert("requestState".into(), state.clone()),
                None => obj.remove("requestState"),
            };
        }
        Ok(retry)
    }

    /// Answers the `inputRequests` of `result` (an `InputRequiredResult`, or a modern task
    /// waiting for input) through the handler: the answers, by key.
    pub(super) async fn answer_inputs(&self, method: &str, result: &Value) -> Result<Map<String, Value>, ClientError> {
        let requests: HashMap<String, InputRequest> = result
            .get("inputRequests")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| ClientError::Protocol {
                server: self.server_name().to_owned(),
                reason: format!("{method}: malformed inputRequests: {e}"),
            })?
            .unwrap_or_default();
        let mut responses = Map::new();
        for (key, request) in requests {
            let answer = handler::answer(self.inner.inbound.handler(), &request.method, request.params.clone())
                .await
                .map_err(|e| {
                ClientError::Refused(format!(
                    "{}: {method} needs {} which this client could not provide: {}",
                    self.server_name(),
                    request.method,
                    e.message
                ))
            })?;
            responses.insert(key, answer);
        }
        Ok(responses)
    }
}

/// A live notification subscription; dropping it ends the stream.
#[derive(Debug)]
pub struct Listener {
    receiver: broadcast::Receiver<ServerNotification>,
    _task: Option<AbortOnDrop>,
}

impl Listener {
    /// The next notification; `None` when the connection is gone.
    pub async fn next(&mut self) -> Option<ServerNotification> {
        loop {
            match self.receiver.recv().await {
                Ok(n) => return Some(n),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(target: "switchboard::client", missed, "a slow listener missed notifications");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn meta_object(params: &mut Value) -> &mut Map<String, Value> {
    let obj = match params {
        Value::Object(o) => o,
        other => {
            *other = Value::Object(Map::new());
            match other {
                Value::Object(o) => o,
                _ => unreachable!("just set to an object"),
            }
        }
    };
    let entry = obj.entry("_meta").or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(m) => m,
        _ => unreachable!("just set to an object"),
    }
}

fn cursor_params(cursor: Option<&str>) -> Value {
    match cursor {
        Some(c) => json!({ "cursor": c }),
        None => json!({}),
    }
}

fn next_cursor(result: &Value) -> Option<String> {
    result.get("nextCursor").and_then(Value::as_str).filter(|c| !c.is_empty()).map(str::to_owned)
}

fn is_header_mismatch(e: &ClientError) -> bool {
    e.rpc_error().is_some_and(|err| err.code == ErrorCode::HEADER_MISMATCH)
}

fn is_version_error(e: &ClientError) -> bool {
    e.rpc_error().is_some_and(|err| err.code == ErrorCode::UNSUPPORTED_PROTOCOL_VERSION)
}

/// An HTTP refusal that is not a modern JSON-RPC error (the spec's cue to try HTTP+SSE).
fn refused_by_http(e: &ClientError) -> bool {
    match e {
        ClientError::Http { status, .. } => matches!(status, 400 | 404 | 405),
        ClientError::Rpc { http_status: Some(status), .. } => matches!(status, 400 | 404 | 405) && !e.is_modern_error(),
        _ => false,
    }
}

fn is_handshake(method: &str) -> bool {
    matches!(method, methods::INITIALIZE | methods::SERVER_DISCOVER)
}

/// Our most preferred version among `offered` (modern ones only when `modern`).
fn choose_version(offered: &[String], modern: bool) -> Option<ProtocolVersion> {
    ProtocolVersion::ALL
        .iter()
        .rev()
        .copied()
        .filter(|v| v.is_modern() == modern)
        .find(|v| offered.iter().any(|o| o == v.as_str()))
}
