//! The operator's endpoints beside MCP: `/healthz` (the process answers), `/readyz` (databases
//! reachable and not draining; unauthenticated, up/down per component and nothing more) and
//! `/metrics` (Prometheus text; behind the same API keys as MCP), plus the request counter every
//! HTTP response passes through.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use switchboard_gateway::{Guardrails, Upstreams};
use switchboard_mcp::server::http::{Authenticate, HttpStats};
use tokio_util::sync::CancellationToken;

/// How long a readiness probe waits for each database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the operator's endpoints look at.
#[derive(Debug, Clone)]
pub struct Ops {
    /// Metrics and the databases being served (none for the demonstration server).
    pub guardrails: Option<Arc<Guardrails>>,
    /// The upstream MCP servers, reported by `/readyz` (one that is down does not make the
    /// gateway unready: the others still serve, and calls to it fail fast naming it).
    pub upstreams: Option<Upstreams>,
    /// Fires when the process starts draining (SIGTERM): `/readyz` fails from then on.
    pub draining: CancellationToken,
    /// Who may read `/metrics`.
    pub keys: Arc<dyn Authenticate>,
    /// Open sessions of the MCP endpoints (filled in when they are mounted).
    pub sessions: HttpStats,
}

/// `/healthz`, `/readyz` and `/metrics`, and the request counter around `app`.
pub fn mount(app: Router, ops: Ops) -> Router {
    let ops = Arc::new(ops);
    Router::new()
        .route("/healthz", get(|| async { axum::Json(json!({"status": "up"})) }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(ops.clone())
        .merge(app)
        .layer(axum::middleware::from_fn_with_state(ops, count))
}

async fn ready(State(ops): State<Arc<Ops>>) -> Response {
    let mut components = Map::new();
    let mut ready = !ops.draining.is_cancelled();
    components.insert("server".into(), json!(if ready { "up" } else { "draining" }));
    if let Some(guardrails) = &ops.guardrails {
        for db in guardrails.databases().iter() {
            let up = db.ping(PROBE_TIMEOUT).await;
            ready &= up;
            components.insert(db.name.clone(), json!(if up { "up" } else { "down" }));
        }
    }
    if let Some(upstreams) = &ops.upstreams {
        for (name, status) in upstreams.statuses() {
            components.insert(format!("upstream:{name}"), json!(status.as_str()));
        }
    }
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({"status": if ready { "ready" } else { "not ready" }, "components": Value::Object(components)});
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(ops): State<Arc<Ops>>, headers: HeaderMap) -> Response {
    if let Err(e) = ops.keys.authenticate(&headers).await {
        let mut response = (StatusCode::UNAUTHORIZED, e.to_string()).into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"mcp\""));
        return response;
    }
    let Some(guardrails) = &ops.guardrails else {
        return (StatusCode::NOT_FOUND, "this server keeps no metrics").into_response();
    };
    let m = guardrails.metrics();
    for db in guardrails.databases().iter() {
        let (active, max) = db.pool_usage();
        m.db_pool(&db.name, active, max);
    }
    let open = ops.sessions.sessions();
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    m.sessions("streamable_http", count(open.streamable_http));
    m.sessions("sse", count(open.sse));
    m.sessions("websocket", count(open.websocket));
    let mut response = m.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

async fn count(State(ops): State<Arc<Ops>>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    if let Some(guardrails) = &ops.guardrails {
        guardrails.metrics().http_request(method.as_str(), response.status().as_u16());
    }
    response
}
