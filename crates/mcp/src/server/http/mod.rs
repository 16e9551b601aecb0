//! HTTP serving: Streamable HTTP on one endpoint (modern stateless requests and legacy sessions,
//! chosen per request), the 2024-11-05 HTTP+SSE transport (`/sse` + `/messages`), and WebSocket
//! (`/ws`), as one axum [`Router`] that mounts into any app, plus a hardened listener.
//!
//! | file | job |
//! | --- | --- |
//! | `guard.rs` | Origin/Host validation against DNS rebinding |
//! | `origin.rs` | `X-Request-Id` (kept or made, echoed), `traceparent`, the request's span |
//! | `auth.rs` | who sent a request: `401` without credentials, its principal with them |
//! | `peek.rs` | one pass over a POST body: its era and the fields routing headers mirror |
//! | `modern.rs` | 2026-07-28 POSTs: header checks, JSON fast path, request-scoped SSE |
//! | `legacy/` | 2025-03-26…2025-11-25 sessions: POST/GET/DELETE, resumable streams; `replicas.rs`: expiry and messages routed between replicas |
//! | `session.rs` | the session store trait and its in-memory implementation |
//! | `sse.rs` | SSE framing |
//! | `legacy_sse.rs` | 2024-11-05 HTTP+SSE |
//! | `websocket.rs` | WebSocket (subprotocol `mcp`) |
//! | `listener.rs` | TCP accept loop: TCP_NODELAY, header timeouts and limits, graceful shutdown |

mod auth;
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod headers;
#[cfg(feature = "oauth")]
mod jwt;
mod legacy;
mod legacy_sse;
mod listener;
mod modern;
mod origin;
mod peek;
mod session;
mod sse;
mod tap;
mod websocket;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use axum::Router;

pub use auth::{key_digest, presented_credential, ApiKeys, AuthError, AuthFuture, Authenticate};
#[cfg(feature = "oauth")]
pub use jwt::{JwtAuth, JwtConfig, REFRESH_MIN_INTERVAL};
pub use listener::{serve, ListenerConfig};
pub use origin::{RequestSpan, REQUEST_ID_HEADER, TRACEPARENT_HEADER};
pub use session::{EventLogBudget, InMemorySessionStore, SessionRecord, SessionStore, StoreError, StoreFuture};

use crate::server::Server;

/// How the HTTP endpoints behave. Every field has a default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    /// The Streamable HTTP endpoint. Default `/mcp`.
    pub path: String,
    /// Host names (without port) accepted in `Host`, besides the loopback names when
    /// `loopback_only`. Empty and not loopback-only: any host.
    pub allowed_hosts: Vec<String>,
    /// Origins (`scheme://host[:port]`) accepted in `Origin`, besides same-host and loopback ones.
    pub allowed_origins: Vec<String>,
    /// Accept only loopback `Host`s and `Origin`s (the default when bound to a loopback address).
    pub loopback_only: bool,
    /// The largest request body. Default: the server's `max_message_bytes`.
    pub max_body_bytes: Option<usize>,
    /// Legacy sessions idle for this long are ended. Default 30 min.
    pub session_idle_timeout: Duration,
    /// Most legacy sessions this process holds; an `initialize` beyond it gets `503` with
    /// `Retry-After`. Default 20 000.
    pub max_sessions: usize,
    /// How long a client may take to send a request's body once its headers arrived; slower
    /// bodies are answered `408`. Default 30 s.
    pub body_read_timeout: Duration,
    /// Interval of SSE keep-alive comments on long-lived streams. Default 15 s.
    pub keep_alive: Duration,
    /// The `retry:` hint sent with the priming event of legacy SSE streams. Default 1 s.
    pub sse_retry: Duration,
    /// Serve 2024-11-05 HTTP+SSE at `/sse` and `/messages`. Default on.
    pub legacy_sse: bool,
    /// Serve WebSocket at `/ws`. Default on.
    pub websocket: bool,
    /// Record every message in and out (debugging, and tests that validate peers' traffic).
    pub wire_log: Option<crate::transport::tap::WireLog>,
    /// Who may call: every request to the MCP endpoints is authenticated by it, and refused
    /// with `401` when it cannot be. `None`: every request is anonymous.
    pub authenticator: Option<Arc<dyn Authenticate>>,
    /// RFC 9728 protected-resource metadata, served unauthenticated at
    /// `/.well-known/oauth-protected-resource` (and under the endpoint's path) when set.
    pub resource_metadata: Option<serde_json::Value>,
    /// Makes the span each HTTP request is served in (see [`RequestSpan`]). `None`: an `INFO`
    /// span `request{request_id}`.
    pub request_span: Option<RequestSpan>,
    /// Filled by [`router`]: how many sessions and connections are open (for metrics).
    pub stats: HttpStats,
    /// More routes served behind the same Host/Origin guard and authentication as the MCP
    /// endpoints (a handler finds the caller's [`Principal`](crate::server::Principal) in the
    /// request's extensions), e.g. the agent host's chat API.
    pub extra_routes: Option<Router>,
}

/// How many sessions the endpoints of one [`router`] hold, read at any time (a metrics scrape)
/// through the [`HttpConfig::stats`] handle given to it.
#[derive(Debug, Clone, Default)]
pub struct HttpStats(Arc<std::sync::OnceLock<std::sync::Weak<HttpShared>>>);

/// Open sessions by transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionCounts {
    /// Legacy Streamable HTTP sessions (2025-03-26 … 2025-11-25) held by this process.
    pub streamable_http: usize,
    /// Open 2024-11-05 HTTP+SSE streams.
    pub sse: usize,
    /// Open WebSocket connections.
    pub websocket: usize,
}

impl HttpStats {
    /// The counts now (all zero before the router is built or after it is dropped).
    pub fn sessions(&self) -> SessionCounts {
        let Some(shared) = self.0.get().and_then(std::sync::Weak::upgrade) else { return SessionCounts::default() };
        SessionCounts {
            streamable_http: shared.sessions.len(),
            sse: shared.sse_sessions.len(),
            websocket: shared.websockets.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            path: "/mcp".into(),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            loopback_only: true,
            max_body_bytes: None,
            session_idle_timeout: Duration::from_secs(30 * 60),
            max_sessions: 20_000,
            body_read_timeout: Duration::from_secs(30),
            keep_alive: Duration::from_secs(15),
            sse_retry: Duration::from_secs(1),
            legacy_sse: true,
            websocket: true,
            wire_log: None,
            authenticator: None,
            resource_metadata: None,
            request_span: None,
            stats: HttpStats::default(),
            extra_routes: None,
        }
    }
}

/// Shared state of the HTTP endpoints: one `Arc`, because axum clones the state for every request
/// (twice, with the guard middleware) and a clone should be one reference count, not five.
#[derive(Clone)]
pub(crate) struct HttpState(Arc<HttpShared>);

impl std::ops::Deref for HttpState {
    type Target = HttpShared;
    fn deref(&self) -> &HttpShared {
        &self.0
    }
}

/// What [`HttpState`] shares.
pub(crate) struct HttpShared {
    pub(crate) server: Server,
    pub(crate) config: Arc<HttpConfig>,
    pub(crate) stateless: Arc<crate::server::StatelessConnection>,
    pub(crate) sessions: Arc<legacy::Sessions>,
    pub(crate) sse_sessions: Arc<legacy_sse::SseSessions>,
    /// Open WebSocket connections.
    pub(crate) websockets: std::sync::atomic::AtomicUsize,
}

/// The MCP endpoints for `server`, ready to serve or to merge into a larger axum app.
pub fn router(server: Server, config: HttpConfig, store: Arc<dyn SessionStore>) -> Router {
    let body_limit = config.max_body_bytes.unwrap_or(server.limits().max_message_bytes);
    let state = HttpState(Arc::new(HttpShared {
        stateless: Arc::new(server.stateless_connection()),
        sessions: Arc::new(legacy::Sessions::new(store, config.session_idle_timeout)),
        sse_sessions: Arc::new(legacy_sse::SseSessions::default()),
        config: Arc::new(config.clone()),
        server,
        websockets: std::sync::atomic::AtomicUsize::new(0),
    }));
    let _ = config.stats.0.set(Arc::downgrade(&state.0));
    legacy::spawn_expiry(state.clone());
    let mut app = Router::new()
        .route(&config.path, any(endpoint))
        .route(&format!("{}/{{toolset}}", config.path.trim_end_matches('/')), any(toolset_endpoint));
    if config.legacy_sse {
        app = app.route("/sse", get(legacy_sse::open)).route("/messages", post(legacy_sse::message));
    }
    if config.websocket {
        app = app.route("/ws", get(websocket::upgrade));
    }
    if let Some(auth) = config.authenticator.clone() {
        app = app.layer(axum::middleware::from_fn_with_state(auth, auth::check));
    }
    if let Some(log) = config.wire_log.clone() {
        app = app.layer(axum::middleware::from_fn_with_state(log, tap::record));
    }
    let mut app = app.with_state(state.clone());
    if let Some(mut extra) = config.extra_routes.clone() {
        if let Some(auth) = config.authenticator.clone() {
            extra = extra.layer(axum::middleware::from_fn_with_state(auth, auth::check));
        }
        app = app.merge(extra);
    }
    let mut app = app
        .layer(axum::middleware::from_fn_with_state(state, guard::check))
        // Outermost: refusals by the guard or authentication carry the id too.
        .layer(axum::middleware::from_fn_with_state(config.request_span.clone(), origin::stamp))
        .layer(DefaultBodyLimit::max(body_limit));
    if let Some(doc) = config.resource_metadata {
        // Clients look for it at the origin and with the endpoint's path appended (RFC 9728 §3.1).
        let serve = move || {
            let doc = doc.clone();
            async move { axum::Json(doc) }
        };
        app = app
            .route("/.well-known/oauth-protected-resource", get(serve.clone()))
            .route(&format!("/.well-known/oauth-protected-resource{}", config.path), get(serve));
    }
    app
}

/// Who sent a request: the principal authentication put in its extensions, else anonymous.
pub(crate) fn caller(parts: &http::request::Parts) -> crate::server::Principal {
    parts.extensions.get::<crate::server::Principal>().cloned().unwrap_or_default()
}

/// `<path>/<toolset>`: the same endpoint, for a caller who sees only that toolset's tools
/// (the principal authentication found, narrowed).
async fn toolset_endpoint(
    axum::extract::State(state): axum::extract::State<HttpState>,
    axum::extract::Path(toolset): axum::extract::Path<String>,
    mut request: axum::extract::Request,
) -> axum::response::Response {
    let catalog = state.server.catalog();
    if !catalog.policy().has_toolset(&toolset) {
        let known = catalog.policy().toolset_names().join(", ");
        let e = switchboard_protocol::ErrorObject::invalid_request(format!(
            "no toolset named {toolset:?} (toolsets: {})",
            if known.is_empty() { "none configured" } else { &known }
        ));
        return sse::error(http::StatusCode::NOT_FOUND, None, &e);
    }
    let principal = request.extensions().get::<crate::server::Principal>().cloned().unwrap_or_default();
    request.extensions_mut().insert(principal.with_toolset(toolset));
    endpoint(axum::extract::State(state), request).await
}

/// The Streamable HTTP endpoint: picks the era of each request.
async fn endpoint(
    axum::extract::State(state): axum::extract::State<HttpState>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let method = request.method().clone();
    let (parts, body) = request.into_parts();
    let has_session = parts.headers.contains_key(headers::SESSION_ID);
    match method {
        http::Method::POST => {
            let json = parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            if !json {
                let e = switchboard_protocol::ErrorObject::invalid_request(
                    "POST bodies must be JSON (Content-Type: application/json)",
                );
                return sse::error(http::StatusCode::UNSUPPORTED_MEDIA_TYPE, None, &e);
            }
            match read_body(&state, body).await {
                Ok(bytes) => route_post(state, parts, bytes).await,
                Err(refusal) => refusal,
            }
        }
        http::Method::GET if has_session => legacy::get(state, parts).await,
        http::Method::DELETE if has_session => legacy::delete(state, parts).await,
        _ => sse::method_not_allowed(),
    }
}

/// A POST's body, read within the size limit (413) and the body-read timeout (408): a client
/// that trickles or stalls its body cannot hold a connection and a buffer indefinitely.
pub(crate) async fn read_body(
    state: &HttpState,
    body: axum::body::Body,
) -> Result<bytes::Bytes, axum::response::Response> {
    let limit = state.config.max_body_bytes.unwrap_or(state.server.limits().max_message_bytes);
    match tokio::time::timeout(state.config.body_read_timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(sse::too_large(limit)),
        Err(_) => {
            let e = switchboard_protocol::ErrorObject::invalid_request(format!(
                "the request body did not arrive within {} s",
                state.config.body_read_timeout.as_secs()
            ));
            Err(sse::error(http::StatusCode::REQUEST_TIMEOUT, None, &e))
        }
    }
}

/// Era detection for one POST: modern `_meta` wins; then a session header; then `initialize`.
async fn route_post(state: HttpState, parts: http::request::Parts, body: bytes::Bytes) -> axum::response::Response {
    match peek::classify(&body) {
        peek::Body::Modern(routing) => modern::post(state, parts, &body, routing).await,
        peek::Body::Other if parts.headers.contains_key(headers::SESSION_ID) => legacy::post(state, parts, body).await,
        peek::Body::Initialize => legacy::initialize(state, parts, body).await,
        peek::Body::Other => {
            let claims_modern = headers::header(&parts.headers, headers::PROTOCOL_VERSION)
                .ok()
                .flatten()
                .is_some_and(|v| v.parse::<switchboard_protocol::ProtocolVersion>().map_or(true, |v| v.is_modern()));
            if claims_modern {
                modern::post(state, parts, &body, None).await
            } else {
                legacy::without_session(&body)
            }
        }
    }
}
