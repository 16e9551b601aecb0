//! The guardrails every tool call passes through, applied in one place and in one order (the
//! first is the outermost):
//!
//! 1. authentication (the HTTP transports, before MCP) and authorization (the catalog's
//!    [`Policy`](switchboard_mcp::server::Policy): hidden tools are unknown) — built by
//!    [`crate::access`];
//! 2. rate limit ([`rate`]): the server-wide per-principal limit, then the tool's own;
//! 3. timeout ([`timeout`]): the tool's limit, else the server's;
//! 4. metrics ([`metrics`]): calls, durations and errors per tool.
//!
//! [`Guardrails`] holds what outlives a reload (the metrics registry, the server-wide limiter)
//! and wraps the services of each new catalog snapshot.

pub mod metrics;
pub mod rate;
pub mod timeout;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use switchboard_mcp::server::{Catalog, ToolService};
use tower::ServiceBuilder;

pub use self::metrics::{Metrics, MetricsLayer};
pub use self::rate::{Limiter, LocalLimiter, RateLimitLayer};
pub use self::timeout::TimeoutLayer;
use crate::config::{Config, DEFAULT_TOOL_TIMEOUT_MS};
use crate::source::sql::Database;

/// The process's guardrails: metrics, the server-wide rate limiter, and the databases readiness
/// checks (swapped with each catalog).
#[derive(Debug)]
pub struct Guardrails {
    metrics: Arc<Metrics>,
    global: Option<Arc<dyn Limiter>>,
    databases: ArcSwap<Vec<Database>>,
}

impl Guardrails {
    /// Guardrails for `config` (its `guardrails.rate_limit` holds for the process's lifetime).
    pub fn new(config: &Config) -> Result<Self, String> {
        let global = match &config.guardrails.rate_limit {
            Some(limit) => Some(Arc::new(LocalLimiter::new(limit)?) as Arc<dyn Limiter>),
            None => None,
        };
        Ok(Self { metrics: Arc::new(Metrics::new()), global, databases: ArcSwap::from_pointee(Vec::new()) })
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The databases of the catalog being served.
    pub fn databases(&self) -> Arc<Vec<Database>> {
        self.databases.load_full()
    }

    /// Wraps every tool of `catalog` in the layers `config` asks for, and remembers `databases`
    /// for readiness and pool metrics.
    pub fn apply(&self, catalog: Catalog, config: &Config, databases: Vec<Database>) -> Result<Catalog, String> {
        let mut problem = None;
        let default_timeout = config.guardrails.tool_timeout_ms.unwrap_or(DEFAULT_TOOL_TIMEOUT_MS);
        let catalog = catalog.map_tools(|tool, service| {
            let spec = config.tools.get(&tool.name);
            let mut limits: Vec<Arc<dyn Limiter>> = self.global.iter().cloned().collect();
            if let Some(limit) = spec.and_then(|t| t.rate_limit.as_ref()) {
                match LocalLimiter::new(limit) {
                    Ok(l) => limits.push(Arc::new(l)),
                    Err(e) => problem = Some(format!("tools.{}.rate_limit: {e}", tool.name)),
                }
            }
            let timeout = Duration::from_millis(spec.and_then(|t| t.timeout_ms).unwrap_or(default_timeout));
            let metrics = self.metrics.clone();
            metrics.declare_tool(&tool.name);
            ToolService::new(
                ServiceBuilder::new()
                    .layer(RateLimitLayer::new(&tool.name, limits, metrics.clone()))
                    .layer(TimeoutLayer::new(&tool.name, timeout, metrics.clone()))
                    .layer(MetricsLayer::new(&tool.name, metrics))
                    .service(service),
            )
        });
        if let Some(problem) = problem {
            return Err(problem);
        }
        self.databases.store(Arc::new(databases));
        Ok(catalog)
    }
}
