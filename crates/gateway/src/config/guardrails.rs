//! The `guardrails:` section and the per-tool keys that go with it: rate limits (per principal,
//! across tools and per tool) and time limits on tool calls.

use schemars::JsonSchema;
use serde::Deserialize;

use super::Problem;

/// The default time limit of one tool call, in milliseconds.
pub const DEFAULT_TOOL_TIMEOUT_MS: u64 = 30_000;

/// Limits every tool call passes through.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailsSection {
    /// Calls one principal may make, across all tools. Default: unlimited.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Milliseconds a tool call may take before it fails with a timeout (a tool's `timeout_ms`
    /// overrides). Default 30000.
    #[serde(default)]
    pub tool_timeout_ms: Option<u64>,
    /// The circuit breaker every source gets. Default: opens after 5 consecutive calls that
    /// could not reach the source, for 30 s.
    #[serde(default)]
    pub breaker: Option<BreakerSpec>,
    /// Retries of read-only and idempotent tools' calls that could not reach their source.
    /// Default: 3 attempts in all, backing off from 100 ms to at most 2 s, with jitter.
    #[serde(default)]
    pub retry: Option<RetrySpec>,
}

/// How unreachable calls of read-only and idempotent tools are retried.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Tries in all (1: no retry). Default 3.
    #[serde(default)]
    pub attempts: Option<usize>,
    /// The first wait, in milliseconds; it doubles each time. Default 100.
    #[serde(default)]
    pub base_delay_ms: Option<u64>,
    /// The longest wait, in milliseconds. Default 2000.
    #[serde(default)]
    pub max_delay_ms: Option<u64>,
}

/// When a source's circuit breaker opens, and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Consecutive calls that could not reach the source (transport errors, timeouts) before
    /// calls stop. Default 5.
    #[serde(default)]
    pub failures: Option<u32>,
    /// How long calls stop before one is let through to probe. Default 30000 ms.
    #[serde(default)]
    pub cool_down_ms: Option<u64>,
}

/// A rate: `per_second` or `per_minute` calls, with bursts of up to `burst` (GCRA).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Calls per second, sustained.
    #[serde(default)]
    pub per_second: Option<u32>,
    /// Calls per minute, sustained (instead of `per_second`).
    #[serde(default)]
    pub per_minute: Option<u32>,
    /// Calls allowed at once after a quiet spell. Default: one second's (or minute's) worth.
    #[serde(default)]
    pub burst: Option<u32>,
    /// Principals with any of these roles are not limited.
    #[serde(default)]
    pub exempt_roles: Vec<String>,
    /// With `server.redis_url` set, replicas share the limit in Redis; this says what happens
    /// while Redis is unreachable: `local` (each replica enforces the limit on its own; the
    /// default), `open` (calls are not limited) or `closed` (calls are refused).
    #[serde(default)]
    pub when_redis_down: WhenRedisDown,
}

/// What a shared rate limit does while Redis is unreachable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WhenRedisDown {
    /// Each replica enforces the limit on its own.
    #[default]
    Local,
    /// Calls are not limited (fail open).
    Open,
    /// Calls are refused until Redis answers again (fail closed).
    Closed,
}

impl RateLimit {
    /// The sustained rate as (calls, per this long), and the burst.
    pub fn quota(&self) -> Result<(u32, std::time::Duration, u32), String> {
        let (n, per) = match (self.per_second, self.per_minute) {
            (Some(n), None) => (n, std::time::Duration::from_secs(1)),
            (None, Some(n)) => (n, std::time::Duration::from_secs(60)),
            _ => return Err("give exactly one of `per_second` and `per_minute`".into()),
        };
        if n == 0 {
            return Err("the rate must be at least 1".into());
        }
        let burst = self.burst.unwrap_or(n);
        if burst == 0 {
            return Err("`burst` must be at least 1".into());
        }
        Ok((n, per, burst))
    }
}

impl GuardrailsSection {
    pub(super) fn check(&self) -> Result<(), Problem> {
        if let Some(r) = &self.rate_limit {
            r.quota().map_err(|m| Problem::new(&["guardrails", "rate_limit"], m))?;
        }
        if self.tool_timeout_ms == Some(0) {
            return Err(Problem::new(&["guardrails", "tool_timeout_ms"], "must be at least 1".into()));
        }
        Ok(())
    }
}

/// The default byte budget of one tool's result cache.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// A read-only tool's result cache.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    /// How long a result is served from the cache, in milliseconds.
    pub ttl_ms: u64,
    /// Also key entries by the caller's principal id (for tools whose results depend on who
    /// asks beyond their `from_principal` parameters). Default false.
    #[serde(default)]
    pub per_principal: bool,
    /// The most bytes of results kept. Default 16 MiB.
    #[serde(default)]
    pub max_bytes: Option<u64>,
}

/// The default number of audit rows that may wait to be written.
pub const DEFAULT_AUDIT_QUEUE: usize = 10_000;

/// The `audit:` section: where every tool call is recorded.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// Record tool calls. Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// A PostgreSQL or MySQL URL for the audit table (use `${ENV}`; empty means none).
    /// Default: SQLite.
    #[serde(default)]
    pub url: Option<String>,
    /// The SQLite file, relative to the data directory, when no `url` is given. Default
    /// `audit.db`.
    #[serde(default)]
    pub path: Option<std::path::PathBuf>,
    /// Rows that may wait to be written; when it is full, calls wait for room (nothing is
    /// dropped). Default 10000.
    #[serde(default)]
    pub queue: Option<usize>,
    /// Argument names whose values are written as `"***"`, in every tool (besides parameters
    /// marked `secret: true`).
    #[serde(default)]
    pub redact: Vec<String>,
    /// Answer a call only once its row is written (up to 5 s), not merely queued: a replica
    /// killed right after answering loses no row, at the cost of a batch's latency (a few ms)
    /// per call. Default false.
    #[serde(default, deserialize_with = "super::values::flag")]
    pub wait_for_write: bool,
}

impl AuditSection {
    /// Whether calls are recorded.
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }

    /// The server database's URL, if one is given (an empty `${ENV:-}` gives none).
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref().filter(|u| !u.is_empty())
    }

    pub(super) fn check(&self) -> Result<(), Problem> {
        if self.queue == Some(0) {
            return Err(Problem::new(&["audit", "queue"], "must be at least 1".into()));
        }
        if let Some(url) = self.url() {
            let known = ["postgres://", "postgresql://", "mysql://", "mariadb://"];
            if !known.iter().any(|p| url.starts_with(p)) {
                return Err(Problem::new(&["audit", "url"], "must be a postgres:// or mysql:// URL".into()));
            }
        }
        Ok(())
    }
}
