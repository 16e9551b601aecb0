//! Prometheus metrics (`prometheus-client`): the families every tool call, HTTP request and
//! database pool reports to, the layer that times tool calls, and the text exposition.
//!
//! Names are the operators' contract (dashboards and `deploy/prometheus/alerts.yml` use them):
//! `mcp_tool_calls_total{tool_name,status}`, `mcp_tool_call_duration_seconds{tool_name}`,
//! `mcp_tool_errors_total{tool_name,error_type}`, `mcp_timeouts_total{tool_name}`,
//! `mcp_rate_limited_total{tool_name}`, `mcp_http_requests_total{method,status}`,
//! `mcp_db_connections_active{source}`, `mcp_db_connections_max{source}`,
//! `mcp_db_query_duration_seconds{source,operation}`, `mcp_sessions_active{transport}`.

use std::sync::Arc;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, ToolRequest};
use tower::Service;

use super::around::{Guardrail, Next, Outcome};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    tool_name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    tool_name: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    tool_name: String,
    error_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueryLabels {
    source: String,
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabels {
    transport: &'static str,
}

/// Every family, registered once per process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    durations: Family<ToolLabels, Histogram, fn() -> Histogram>,
    errors: Family<ErrorLabels, Counter>,
    timeouts: Family<ToolLabels, Counter>,
    rate_limited: Family<ToolLabels, Counter>,
    http: Family<HttpLabels, Counter>,
    db_active: Family<SourceLabels, Gauge>,
    db_max: Family<SourceLabels, Gauge>,
    audit_queued: Gauge,
    audit_failures: Counter,
    cache_hits: Family<CacheLabels, Counter>,
    cache_misses: Family<CacheLabels, Counter>,
    breakers: Family<SourceLabels, Gauge>,
    queries: Family<QueryLabels, Histogram, fn() -> Histogram>,
    sessions: Family<TransportLabels, Gauge>,
    config: Family<ConfigLabels, Gauge>,
    llm_tokens: Family<TokenLabels, Counter>,
    llm_cost: Counter<f64, std::sync::atomic::AtomicU64>,
    agent_overhead: Histogram,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    provider: String,
    model: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConfigLabels {
    digest: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache_type: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn tool(name: &str) -> ToolLabels {
    ToolLabels { tool_name: name.to_owned() }
}

impl Metrics {
    /// Registers every family.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let calls = Family::<CallLabels, Counter>::default();
        registry.register("mcp_tool_calls", "Tool calls, by tool and outcome", calls.clone());
        // 0.5 ms to 16 s, doubling.
        let durations: Family<ToolLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 16)));
        registry.register("mcp_tool_call_duration_seconds", "Time tools took to answer", durations.clone());
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register("mcp_tool_errors", "Failed tool calls, by tool and kind of failure", errors.clone());
        let timeouts = Family::<ToolLabels, Counter>::default();
        registry.register("mcp_timeouts", "Tool calls stopped by their time limit", timeouts.clone());
        let rate_limited = Family::<ToolLabels, Counter>::default();
        registry.register("mcp_rate_limited", "Tool calls refused by a rate limit", rate_limited.clone());
        let http = Family::<HttpLabels, Counter>::default();
        registry.register("mcp_http_requests", "HTTP requests, by method and status", http.clone());
        let db_active = Family::<SourceLabels, Gauge>::default();
        registry.register("mcp_db_connections_active", "Database connections in use", db_active.clone());
        let db_max = Family::<SourceLabels, Gauge>::default();
        registry.register("mcp_db_connections_max", "Most database connections a pool opens", db_max.clone());
        let audit_queued = Gauge::default();
        registry.register("mcp_audit_queue_depth", "Audit rows waiting to be written", audit_queued.clone());
        let audit_failures = Counter::default();
        registry.register(
            "mcp_audit_write_failures",
            "Audit batches the database refused (retried)",
            audit_failures.clone(),
        );
        let cache_hits = Family::<CacheLabels, Counter>::default();
        registry.register("mcp_cache_hits", "Tool calls answered from the result cache", cache_hits.clone());
        let cache_misses = Family::<CacheLabels, Counter>::default();
        registry.register("mcp_cache_misses", "Cacheable tool calls the cache could not answer", cache_misses.clone());
        // Both series exist from the start, so miss-rate alerts see zeros rather than nothing.
        cache_hits.get_or_create(&CacheLabels { cache_type: "tool" }).inc_by(0);
        cache_misses.get_or_create(&CacheLabels { cache_type: "tool" }).inc_by(0);
        let breakers = Family::<SourceLabels, Gauge>::default();
        registry.register("mcp_circuit_breaker_open", "1 while a source's circuit breaker is open", breakers.clone());
        // 0.1 ms to 3.3 s, doubling.
        let queries: Family<QueryLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0001, 2.0, 16)));
        registry.register(
            "mcp_db_query_duration_seconds",
            "Time SQL statements took, by source and operation (select, insert, update, delete, other)",
            queries.clone(),
        );
        let sessions = Family::<TransportLabels, Gauge>::default();
        registry.register("mcp_sessions_active", "Open sessions and connections, by transport", sessions.clone());
        let config = Family::<ConfigLabels, Gauge>::default();
        registry.register(
            "switchboard_config_info",
            "1 for the digest of the config file this process serves (replicas showing different digests serve different files)",
            config.clone(),
        );
        let llm_tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "llm_tokens",
            "Model tokens the agent host used, by provider, model and kind (input/output)",
            llm_tokens.clone(),
        );
        let llm_cost = Counter::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "llm_cost_usd",
            "What the agent host's model calls cost, in US dollars, from the configured prices",
            llm_cost.clone(),
        );
        // 0.1 ms to 3.3 s, doubling.
        let agent_overhead = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "agent_round_overhead_seconds",
            "The agent host's own time per model round: a turn's time minus its model calls and tool calls, divided by its rounds",
            agent_overhead.clone(),
        );
        Self {
            agent_overhead,
            llm_tokens,
            llm_cost,
            queries,
            sessions,
            config,
            registry,
            breakers,
            cache_hits,
            cache_misses,
            calls,
            durations,
            errors,
            timeouts,
            rate_limited,
            http,
            db_active,
            db_max,
            audit_queued,
            audit_failures,
        }
    }

    /// Starts the per-tool counters of `tool_name` at zero, so rate and alert queries find a
    /// series before the first timeout or refusal.
    pub fn declare_tool(&self, tool_name: &str) {
        let labels = tool(tool_name);
        self.timeouts.get_or_create(&labels).inc_by(0);
        self.rate_limited.get_or_create(&labels).inc_by(0);
    }

    /// A call refused by a rate limit.
    pub fn rate_limited(&self, tool_name: &str) {
        self.rate_limited.get_or_create(&tool(tool_name)).inc();
        self.finished(tool_name, "rate_limited", Some("rate_limited"));
    }

    /// A call stopped by its time limit.
    pub fn timed_out(&self, tool_name: &str) {
        self.timeouts.get_or_create(&tool(tool_name)).inc();
        self.finished(tool_name, "timeout", Some("timeout"));
    }

    fn finished(&self, tool_name: &str, status: &'static str, error_type: Option<&'static str>) {
        self.calls.get_or_create(&CallLabels { tool_name: tool_name.to_owned(), status }).inc();
        if let Some(error_type) = error_type {
            self.errors.get_or_create(&ErrorLabels { tool_name: tool_name.to_owned(), error_type }).inc();
        }
    }

    /// Whether `source`'s circuit breaker is open.
    pub fn breaker_state(&self, source: &str, open: bool) {
        self.breakers.get_or_create(&SourceLabels { source: source.to_owned() }).set(i64::from(open));
    }

    /// A lookup in a tool's result cache.
    pub fn cache_lookup(&self, hit: bool) {
        let labels = CacheLabels { cache_type: "tool" };
        if hit { &self.cache_hits } else { &self.cache_misses }.get_or_create(&labels).inc();
    }

    /// Audit rows waiting to be written.
    pub fn audit_queued(&self, rows: i64) {
        self.audit_queued.set(rows);
    }

    /// An audit batch that failed to write (it is retried).
    pub fn audit_write_failed(&self) {
        self.audit_failures.inc();
    }

    /// One HTTP request answered with `status`.
    pub fn http_request(&self, method: &str, status: u16) {
        self.http.get_or_create(&HttpLabels { method: method.to_owned(), status }).inc();
    }

    /// A database pool's size now: connections in use, and the most it opens.
    pub fn db_pool(&self, source: &str, active: i64, max: i64) {
        let labels = SourceLabels { source: source.to_owned() };
        self.db_active.get_or_create(&labels).set(active);
        self.db_max.get_or_create(&labels).set(max);
    }

    /// The config this process serves now is the one with `digest` (the previous one is dropped).
    pub fn config_served(&self, digest: &str) {
        self.config.clear();
        self.config.get_or_create(&ConfigLabels { digest: digest.to_owned() }).set(1);
    }

    /// Open sessions of `transport` now.
    pub fn sessions(&self, transport: &'static str, open: i64) {
        self.sessions.get_or_create(&TransportLabels { transport }).set(open);
    }

    /// Tokens one model round used, and what they cost.
    pub fn llm_usage(&self, provider: &str, model: &str, input: u64, output: u64, cost_usd: f64) {
        for (kind, n) in [("input", input), ("output", output)] {
            let labels = TokenLabels { provider: provider.to_owned(), model: model.to_owned(), kind };
            self.llm_tokens.get_or_create(&labels).inc_by(n);
        }
        if cost_usd.is_finite() && cost_usd > 0.0 {
            self.llm_cost.inc_by(cost_usd);
        }
    }

    /// The agent host's own time per model round of one turn.
    pub fn agent_round_overhead(&self, seconds: f64) {
        self.agent_overhead.observe(seconds);
    }

    /// The OpenMetrics text exposition (`Content-Type: application/openmetrics-text;
    /// version=1.0.0; charset=utf-8`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Counts and times every call of one tool.
#[derive(Debug, Clone)]
pub struct Measure {
    tool: Arc<str>,
    metrics: Arc<Metrics>,
    // The series every call touches, looked up once (a lookup allocates its labels).
    duration: Histogram,
    success: Counter,
}

impl Measure {
    /// Measures `tool`.
    pub fn new(name: &str, metrics: Arc<Metrics>) -> Self {
        let duration = metrics.durations.get_or_create(&tool(name)).clone();
        let success =
            metrics.calls.get_or_create(&CallLabels { tool_name: name.to_owned(), status: "success" }).clone();
        Self { tool: name.into(), metrics, duration, success }
    }
}

impl Guardrail for Measure {
    const NAME: &'static str = "metrics";

    async fn call<S>(self, request: ToolRequest, next: Next<S>) -> Outcome
    where
        S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        let started = Instant::now();
        let outcome = next.run(request).await;
        let m = &self.metrics;
        self.duration.observe(started.elapsed().as_secs_f64());
        match &outcome {
            Ok(result) if result.is_error == Some(true) => m.finished(&self.tool, "error", Some("tool_error")),
            Ok(_) => {
                self.success.inc();
            }
            Err(e) => match e.kind_name() {
                // Asking the client for input, or continuing as a task, is not a failure.
                "input_required" | "task" => m.finished(&self.tool, "success", None),
                "tool" => m.finished(&self.tool, "error", Some("tool_error")),
                "timeout" => m.timed_out(&self.tool),
                "unavailable" => m.finished(&self.tool, "error", Some("unavailable")),
                _ => m.finished(&self.tool, "error", Some("protocol_error")),
            },
        }
        outcome
    }
}

impl crate::source::sql::QueryObserver for Metrics {
    fn observe(&self, source: &str, operation: &'static str, elapsed: std::time::Duration) {
        self.queries
            .get_or_create(&QueryLabels { source: source.to_owned(), operation })
            .observe(elapsed.as_secs_f64());
    }
}
