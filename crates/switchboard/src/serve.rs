//! Wiring for `serve`: building servers and running them over a transport until the peer
//! leaves or a signal arrives.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchboard_gateway::shared::Redis;
use switchboard_gateway::Identities;
use switchboard_mcp::server::http::{
    self, ApiKeys, Authenticate, EventLogBudget, HttpConfig, InMemorySessionStore, JwtAuth, JwtConfig, ListenerConfig,
};
use switchboard_mcp::server::{Notifier, Principal, Server};
use switchboard_mcp::transport::stdio;
use switchboard_mcp::transport::tap::WireLog;
use switchboard_mcp::Limits;
use tokio_util::sync::CancellationToken;

/// The demonstration server (see [`switchboard_demo`]).
pub fn demo_server(name: &str, limits: Limits, redis: Option<&Redis>) -> anyhow::Result<Server> {
    let notifier = Notifier::default();
    let router = switchboard_demo::router(notifier.clone()).context("building the demonstration tools")?;
    build_demo(name, limits, notifier, router, redis)
}

/// The demonstration server with only its `echo` and `add` tools ([`switchboard_demo::basic_router`]).
pub fn basic_demo_server(name: &str, limits: Limits, redis: Option<&Redis>) -> anyhow::Result<Server> {
    build_demo(name, limits, Notifier::default(), switchboard_demo::basic_router(), redis)
}

fn build_demo(
    name: &str,
    limits: Limits,
    notifier: Notifier,
    router: switchboard_mcp::server::Router,
    redis: Option<&Redis>,
) -> anyhow::Result<Server> {
    let mut builder = Server::builder(name, env!("CARGO_PKG_VERSION"))
        .instructions("A demonstration server: every kind of tool, resource and prompt Switchboard supports.")
        .limits(limits)
        .notifier(notifier.clone());
    if let Some(redis) = redis {
        builder = builder.task_store(switchboard_gateway::shared::RedisTaskStore::new(redis.clone()));
        switchboard_gateway::shared::relay_changes(redis, &notifier);
    }
    Ok(builder.router(router).context("compiling tool schemas")?.build())
}

/// Who may call the server: how HTTP callers authenticate (API keys, JWT access tokens), and who
/// stdio acts for.
#[derive(Debug, Clone)]
pub struct Callers {
    /// The HTTP transports' authenticator.
    pub http: Arc<dyn Authenticate>,
    /// Whether callers must present credentials (keys or an authorization server are
    /// configured); otherwise everyone is anonymous.
    pub required: bool,
    /// The RFC 9728 metadata to serve, when JWT access tokens are accepted.
    pub resource_metadata: Option<serde_json::Value>,
    /// Who stdio acts for.
    pub stdio: Principal,
}

impl Callers {
    /// Nobody in particular: no keys; every caller is anonymous (the demonstration server).
    pub fn anonymous() -> Self {
        Self {
            http: Arc::new(ApiKeys::new().with_anonymous(Principal::anonymous())),
            required: false,
            resource_metadata: None,
            stdio: Principal::anonymous(),
        }
    }

    /// The callers a config's `auth:` section describes.
    pub fn from_identities(identities: Identities) -> anyhow::Result<Self> {
        let mut keys = ApiKeys::new();
        for (digest, principal) in identities.keys {
            keys = keys.with_digest(digest, principal);
        }
        let required = identities.anonymous.is_none();
        if let Some(anonymous) = identities.anonymous {
            keys = keys.with_anonymous(anonymous);
        }
        let Some(oauth) = identities.oauth else {
            return Ok(Self { http: Arc::new(keys), required, resource_metadata: None, stdio: identities.stdio });
        };
        let names = if oauth.algorithms.is_empty() { vec!["RS256".to_owned()] } else { oauth.algorithms.clone() };
        let algorithms =
            names.iter().map(|a| JwtConfig::algorithm(a)).collect::<Result<Vec<_>, _>>().map_err(anyhow::Error::msg)?;
        let config = JwtConfig {
            issuer: oauth.issuer,
            jwks_url: oauth.jwks_url,
            audience: oauth.resource,
            algorithms,
            leeway: Duration::from_secs(oauth.leeway_secs.unwrap_or(60)),
            id_claim: oauth.id_claim.unwrap_or_else(|| "sub".into()),
            roles_claim: oauth.roles_claim.unwrap_or_else(|| "scope".into()),
            attributes: oauth.attributes.into_iter().collect(),
            required_scopes: oauth.required_scopes,
            scopes_supported: oauth.scopes_supported,
        };
        let metadata = config.resource_metadata();
        let jwt = JwtAuth::new(config, Some(Arc::new(keys)));
        Ok(Self { http: Arc::new(jwt), required, resource_metadata: Some(metadata), stdio: identities.stdio })
    }
}

/// What is served beside the MCP endpoints.
#[derive(Debug, Default)]
pub struct Mounts {
    /// `/healthz`, `/readyz`, `/metrics`.
    pub ops: Option<crate::ops::Ops>,
    /// The agent's chat API (`/v1/...`), behind the same authentication as `/mcp`.
    pub chat: Option<axum::Router>,
    /// Redis shared by the replicas: legacy sessions are kept there.
    pub redis: Option<switchboard_gateway::shared::Redis>,
}

/// On SIGTERM/SIGINT: fires `draining` (readiness fails, so a load balancer stops sending
/// work), waits `drain_delay`, then calls [`Server::shutdown`].
pub fn stop_on_signal(server: &Server, draining: CancellationToken, drain_delay: Duration) {
    let stop = server.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        draining.cancel();
        if !drain_delay.is_zero() {
            tracing::info!(target: "switchboard", seconds = drain_delay.as_secs(), "draining: /readyz fails; stopping after the drain delay");
            tokio::time::sleep(drain_delay).await;
        }
        tracing::info!(target: "switchboard", "shutting down on signal");
        stop.shutdown();
    });
}

/// Serves HTTP on `addr` until the server shuts down, with `mounts` beside the MCP endpoints;
/// with `wire_log`, every MCP message in and out is recorded there.
///
/// Secure by default: on an address other than loopback, a server without API keys refuses to
/// start unless `--allow-anonymous` says that is meant.
pub async fn serve_http(
    server: &Server,
    addr: &str,
    args: &crate::cli::HttpArgs,
    callers: &Callers,
    mounts: Mounts,
    wire_log: Option<&std::path::Path>,
    announce: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    if !callers.required {
        if !local.ip().is_loopback() && !args.allow_anonymous {
            anyhow::bail!(
                "refusing to serve {local} without authentication: anyone who can reach it could call every tool. \
                 Configure API keys (auth.api_keys in the config; `switchboard keys new` makes one), \
                 listen on 127.0.0.1, or pass --allow-anonymous if this network is trusted"
            );
        }
        tracing::warn!(target: "switchboard", "no API keys configured: every HTTP caller is anonymous (local development mode)");
    }
    let mut config = HttpConfig::default();
    config.loopback_only = local.ip().is_loopback();
    config.allowed_hosts = args.allow_hosts.clone();
    config.allowed_origins = args.allow_origins.clone();
    config.session_idle_timeout = Duration::from_secs(args.session_idle_timeout);
    config.max_sessions = args.max_sessions.max(1);
    config.body_read_timeout = Duration::from_secs(args.body_read_timeout.max(1));
    config.keep_alive = Duration::from_secs(args.keep_alive.max(1));
    config.authenticator = Some(callers.http.clone());
    config.resource_metadata = callers.resource_metadata.clone();
    // The chat API sits behind the same Host/Origin guard and authentication as /mcp.
    config.extra_routes = mounts.chat;
    // Each request's span names its X-Request-Id and continues the caller's trace.
    config.request_span = Some(http::RequestSpan::new(|origin| {
        let span = tracing::info_span!(target: "switchboard::http", "request", request_id = %origin.request_id, otel.kind = "server");
        if let Some(parent) = &origin.trace_parent {
            switchboard_gateway::policy::adopt_parent(&span, parent);
        }
        span
    }));
    if let Some(path) = wire_log {
        config.wire_log =
            Some(WireLog::create(path).with_context(|| format!("creating the wire log {}", path.display()))?);
    }
    let listener_config = ListenerConfig::default()
        .with_header_read_timeout(Duration::from_secs(args.header_read_timeout))
        .with_max_connections(args.max_connections)
        .with_shutdown_grace(Duration::from_secs(args.shutdown_grace));
    let stats = config.stats.clone();
    let budget = EventLogBudget {
        per_session: args.event_log_per_session_mib.saturating_mul(1 << 20),
        total: args.event_log_total_mib.saturating_mul(1 << 20),
    };
    // With Redis, legacy sessions live there, so any replica serves any session.
    let store: Arc<dyn http::SessionStore> = match mounts.redis {
        Some(redis) => {
            tracing::info!(target: "switchboard", "legacy sessions are kept in Redis (shared by every replica)");
            switchboard_gateway::shared::RedisSessionStore::new(redis, config.session_idle_timeout)
        }
        None => Arc::new(InMemorySessionStore::with_budget(budget)),
    };
    let mut app = http::router(server.clone(), config, store);
    if let Some(mut ops) = mounts.ops {
        ops.sessions = stats;
        app = crate::ops::mount(app, ops);
    }
    announce(local);
    tracing::info!(target: "switchboard", "listening on http://{local}/mcp (WebSocket ws://{local}/ws, HTTP+SSE http://{local}/sse)");
    let stop = server.shutdown_token();
    http::serve(listener, app, listener_config, async move { stop.cancelled().await }).await.context("serving HTTP")
}

/// Serves stdin/stdout until stdin closes or the server shuts down; with `wire_log`, every
/// frame is also appended to that file.
pub async fn serve_stdio(server: &Server, callers: &Callers, wire_log: Option<&std::path::Path>) -> anyhow::Result<()> {
    let (reader, writer) = stdio::stdio(server.limits().max_message_bytes);
    let principal = callers.stdio.clone();
    let result = match wire_log {
        Some(path) => {
            let log = WireLog::create(path).with_context(|| format!("creating the wire log {}", path.display()))?;
            server.serve_as(log.reader(reader), log.writer(writer), principal).await
        }
        None => server.serve_as(reader, writer, principal).await,
    };
    result.context("serving stdio")
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
