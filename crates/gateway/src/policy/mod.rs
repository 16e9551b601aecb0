//! The guardrails every tool call passes through, applied in one place and in one order (the
//! first is the outermost):
//!
//! 1. authentication (the HTTP transports, before MCP) and authorization (the catalog's
//!    [`Policy`](switchboard_mcp::server::Policy): hidden tools are unknown) — built by
//!    [`crate::access`]; calls refused there are audited by [`AuditRefusals`];
//! 2. trace ([`trace`]): the call's span, parent of every layer's own span;
//! 3. audit ([`audit`]): one `tool_calls` row per call that gets this far, whatever its outcome
//!    (it sits outside the rate limit so refusals are recorded too);
//! 4. rate limit ([`rate`]): the server-wide per-principal limit, then the tool's own;
//! 5. cache ([`cache`]): read-only tools that opt in answer repeats from a cache; write tools
//!    empty the caches they name in `invalidates`;
//! 6. timeout ([`timeout`]): the tool's limit, else the server's, over all attempts;
//! 7. retry ([`retry`]): read-only and idempotent tools' calls that could not reach their source,
//!    with exponential backoff and jitter;
//! 8. circuit breaker ([`breaker`]): one per source; it opens after consecutive attempts that
//!    could not reach it (an attempt the timeout cuts short counts);
//! 9. metrics ([`metrics`]): calls, durations and errors per tool.
//!
//! [`Guardrails`] holds what outlives a reload (the metrics registry, the server-wide limiter)
//! and wraps the services of each new catalog snapshot.

mod around;
pub mod audit;
pub mod breaker;
pub mod cache;
pub mod metrics;
pub mod rate;
pub mod retry;
pub mod timeout;
pub mod trace;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use switchboard_mcp::server::{Catalog, ToolService};
use tower::ServiceBuilder;

pub use self::around::{GuardLayer, Guarded, Guardrail, Next, Outcome};
pub use self::audit::{Audit, AuditLog, AuditQuery, AuditRefusals, AuditRow};
pub use self::breaker::{Breaker, BreakerGuard};
pub use self::cache::{CacheLookup, Invalidate, ResultCache};
pub use self::metrics::{Measure, Metrics};
pub use self::rate::{Limiter, LocalLimiter, RateLimit, SharedLimiter};
pub use self::retry::Retry;
pub use self::timeout::Timeout;
pub use self::trace::{adopt_parent, Trace};
use crate::config::{Config, DEFAULT_CACHE_MAX_BYTES, DEFAULT_TOOL_TIMEOUT_MS};
use crate::shared::{self, Redis};
use crate::source::sql::Database;

/// Consecutive failures to reach a source before its breaker opens.
const DEFAULT_BREAKER_FAILURES: u32 = 5;
/// How long an open breaker stays open before a probe.
const DEFAULT_BREAKER_COOL_DOWN_MS: u64 = 30_000;

/// The process's guardrails: metrics, the server-wide rate limiter, and the databases readiness
/// checks (swapped with each catalog).
#[derive(Debug)]
pub struct Guardrails {
    metrics: Arc<Metrics>,
    /// Shared by replicas, when `server.redis_url` is set (kept for the process's life).
    redis: Option<Redis>,
    global: Option<Arc<dyn Limiter>>,
    databases: ArcSwap<Vec<Database>>,
    audit: Option<AuditLog>,
    /// The result caches of the current snapshot, by tool: what another replica's invalidation
    /// empties here.
    caches: Arc<ArcSwap<HashMap<String, ResultCache>>>,
    /// By source name; kept across reloads, so an open breaker stays open.
    breakers: std::sync::Mutex<HashMap<String, Arc<Breaker>>>,
}

impl Guardrails {
    /// Guardrails for `config`: its `guardrails.rate_limit` and `audit` database hold for the
    /// process's lifetime (a reload changes per-tool settings only). Embedded audit databases
    /// live in `data_dir`.
    pub async fn new(config: &Config, data_dir: &Path) -> Result<Self, String> {
        let redis = match config.server.redis_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => {
                let prefix = config.server.redis_key_prefix.as_deref().unwrap_or(shared::DEFAULT_KEY_PREFIX);
                let timeout = config.server.redis_timeout_ms.unwrap_or(shared::DEFAULT_REDIS_TIMEOUT_MS);
                Some(Redis::connect(url, prefix, Duration::from_millis(timeout)).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        let global = match &config.guardrails.rate_limit {
            Some(limit) => Some(rate::limiter(limit, "server", redis.as_ref())?),
            None => None,
        };
        let metrics = Arc::new(Metrics::new());
        let audit = if config.audit.is_enabled() {
            let log = AuditLog::open(&config.audit, data_dir, metrics.clone())
                .await
                .map_err(|e| format!("opening the audit log: {e}"))?;
            Some(log)
        } else {
            None
        };
        let caches: Arc<ArcSwap<HashMap<String, ResultCache>>> = Arc::default();
        if let Some(redis) = &redis {
            let mut invalidated = redis.subscribe(redis.key(&[cache::INVALIDATIONS]));
            let current = caches.clone();
            tokio::spawn(async move {
                while let Some(tool) = invalidated.recv().await {
                    if let Some(cache) = current.load().get(String::from_utf8_lossy(&tool).as_ref()) {
                        cache.clear_local();
                    }
                }
            });
        }
        Ok(Self {
            metrics,
            caches,
            redis,
            global,
            databases: ArcSwap::from_pointee(Vec::new()),
            audit,
            breakers: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The breaker of `source`, made on first use with `config`'s settings.
    fn breaker(&self, source: &str, config: &Config) -> Arc<Breaker> {
        let mut breakers = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        breakers
            .entry(source.to_owned())
            .or_insert_with(|| {
                let spec = config.guardrails.breaker.as_ref();
                let failures = spec.and_then(|b| b.failures).unwrap_or(DEFAULT_BREAKER_FAILURES);
                let cool_down = spec.and_then(|b| b.cool_down_ms).unwrap_or(DEFAULT_BREAKER_COOL_DOWN_MS);
                Arc::new(Breaker::new(source, failures, Duration::from_millis(cool_down), self.metrics.clone()))
            })
            .clone()
    }

    /// The Redis replicas share, if `server.redis_url` is set.
    pub fn redis(&self) -> Option<&Redis> {
        self.redis.as_ref()
    }

    /// The audit log, unless `audit.enabled` is false.
    pub fn audit(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// Stops the audit log's intake and waits up to `limit` for every queued row to be
    /// written; `false` if rows were still waiting when the time ran out.
    pub async fn close(&self, limit: Duration) -> bool {
        match &self.audit {
            Some(audit) => audit.close(limit).await,
            None => true,
        }
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
    /// `upstream_tools` names the upstream MCP server of each tool served from one (its breaker).
    pub fn apply(
        &self,
        catalog: Catalog,
        config: &Config,
        databases: Vec<Database>,
        upstream_tools: &HashMap<String, String>,
    ) -> Result<Catalog, String> {
        let mut problem = None;
        let default_timeout = config.guardrails.tool_timeout_ms.unwrap_or(DEFAULT_TOOL_TIMEOUT_MS);
        let audit_sink = self.audit.as_ref().and_then(AuditLog::sender);
        let caches = caches(&catalog, config, self.redis.as_ref())?;
        for (name, tool) in config.tools.iter() {
            if let Some(missing) = tool.invalidates.iter().find(|t| !caches.contains_key(t.as_str())) {
                return Err(format!("tools.{name}.invalidates: {missing:?} is not a tool with a cache"));
            }
        }
        // Secret parameters per tool: the config's `audit.redact` names and each tool's own.
        let redact: Arc<HashSet<String>> = Arc::new(config.audit.redact.iter().cloned().collect());
        let secrets: HashMap<String, Arc<HashSet<String>>> = catalog
            .tools()
            .entries()
            .iter()
            .map(|entry| {
                let name = &entry.tool().name;
                let own = config.tools.get(name).into_iter().flat_map(|t| t.params.iter()).filter(|(_, p)| p.secret);
                let mut secret = (*redact).clone();
                secret.extend(own.map(|(k, _)| k.clone()));
                (name.clone(), Arc::new(secret))
            })
            .collect();
        let catalog = match &audit_sink {
            Some(sink) => catalog.with_refusal_observer(Arc::new(AuditRefusals::new(
                sink.clone(),
                secrets.clone(),
                redact.clone(),
            ))),
            None => catalog,
        };
        let catalog = catalog.map_tools(|tool, service| {
            let spec = config.tools.get(&tool.name);
            let audit = audit_sink.as_ref().map(|sink| {
                let secret = secrets.get(&tool.name).cloned().unwrap_or_else(|| redact.clone());
                GuardLayer(Audit::new(&tool.name, sink.clone(), secret))
            });
            let mut limits: Vec<Arc<dyn Limiter>> = self.global.iter().cloned().collect();
            if let Some(limit) = spec.and_then(|t| t.rate_limit.as_ref()) {
                match rate::limiter(limit, &format!("tool:{}", tool.name), self.redis.as_ref()) {
                    Ok(l) => limits.push(l),
                    Err(e) => problem = Some(format!("tools.{}.rate_limit: {e}", tool.name)),
                }
            }
            // No limit, no layer: a call pays for a guardrail only where one applies.
            let rate =
                (!limits.is_empty()).then(|| GuardLayer(RateLimit::new(&tool.name, limits, self.metrics.clone())));
            let timeout = Duration::from_millis(spec.and_then(|t| t.timeout_ms).unwrap_or(default_timeout));
            let cache = caches.get(tool.name.as_str()).map(|(cache, per_principal)| {
                GuardLayer(CacheLookup::new(cache.clone(), *per_principal, self.metrics.clone()))
            });
            let targets: Vec<ResultCache> = spec
                .into_iter()
                .flat_map(|t| t.invalidates.iter())
                .filter_map(|t| caches.get(t.as_str()).map(|(c, _)| c.clone()))
                .collect();
            let invalidate = (!targets.is_empty()).then(|| GuardLayer(Invalidate::new(targets)));
            let upstream = upstream_tools.get(&tool.name).map(|u| format!("upstream:{u}"));
            let source = spec.and_then(|t| t.source.as_deref()).or(upstream.as_deref());
            let breaker = source.map(|source| GuardLayer(BreakerGuard(self.breaker(source, config))));
            let annotations = tool.annotations.as_ref();
            let repeatable =
                annotations.is_some_and(|a| a.read_only_hint == Some(true) || a.idempotent_hint == Some(true));
            let retry = (source.is_some() && repeatable).then(|| retry_layer(config));
            let metrics = self.metrics.clone();
            metrics.declare_tool(&tool.name);
            ToolService::new(
                ServiceBuilder::new()
                    .layer(GuardLayer(Trace::new(&tool.name)))
                    .option_layer(audit)
                    .option_layer(rate)
                    .option_layer(invalidate)
                    .option_layer(cache)
                    .layer(GuardLayer(Timeout::new(&tool.name, timeout, metrics.clone())))
                    .option_layer(retry)
                    .option_layer(breaker)
                    .layer(GuardLayer(Measure::new(&tool.name, metrics)))
                    .service(service),
            )
        });
        if let Some(problem) = problem {
            return Err(problem);
        }
        for db in &databases {
            db.observe_with(self.metrics.clone());
        }
        self.databases.store(Arc::new(databases));
        self.caches.store(Arc::new(caches.into_iter().map(|(tool, (cache, _))| (tool.to_owned(), cache)).collect()));
        Ok(catalog)
    }
}

/// A result cache for every tool whose config asks for one; only read-only tools may.
fn caches<'c>(
    catalog: &Catalog,
    config: &'c Config,
    redis: Option<&Redis>,
) -> Result<HashMap<&'c str, (ResultCache, bool)>, String> {
    let mut caches = HashMap::new();
    for (name, tool) in config.tools.iter() {
        let Some(spec) = &tool.cache else { continue };
        let read_only = catalog
            .tool(name)
            .and_then(|t| t.tool().annotations.as_ref())
            .and_then(|a| a.read_only_hint)
            .unwrap_or(false);
        if !read_only {
            return Err(format!("tools.{name}.cache: only read-only tools can be cached"));
        }
        if spec.ttl_ms == 0 {
            return Err(format!("tools.{name}.cache.ttl_ms: must be at least 1"));
        }
        let max_bytes = spec.max_bytes.unwrap_or(DEFAULT_CACHE_MAX_BYTES);
        let cache = cache::result_cache(name, Duration::from_millis(spec.ttl_ms), max_bytes, redis);
        caches.insert(name.as_str(), (cache, spec.per_principal));
    }
    Ok(caches)
}

fn retry_layer(config: &Config) -> GuardLayer<Retry> {
    let spec = config.guardrails.retry.as_ref();
    GuardLayer(Retry::new(
        spec.and_then(|r| r.attempts).unwrap_or(3),
        Duration::from_millis(spec.and_then(|r| r.base_delay_ms).unwrap_or(100)),
        Duration::from_millis(spec.and_then(|r| r.max_delay_ms).unwrap_or(2_000)),
    ))
}
