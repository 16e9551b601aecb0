//! Rate limits: a GCRA limiter per principal behind the [`Limiter`] trait — in the process
//! ([`LocalLimiter`], `governor`, keyed by principal id) or shared by every replica
//! ([`SharedLimiter`], the same algorithm as one Redis script, on Redis's clock) — and the layer
//! that checks a call against the server-wide and the tool's limits.

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::protocol::ErrorObject;
use switchboard_mcp::server::{HandlerError, Principal, ToolRequest};
use tower::Service;

use super::around::{Guardrail, Next, Outcome};

use super::metrics::Metrics;
use crate::config::{RateLimit as RateLimitSpec, WhenRedisDown};
use crate::shared::Redis;

/// What a limiter decides: `Ok` to go ahead, or how long to wait first.
pub type Verdict = Result<(), Duration>;

/// Decides whether a principal may make one more call now.
pub trait Limiter: std::fmt::Debug + Send + Sync + 'static {
    /// `Ok` to go ahead, or how long to wait first.
    fn check<'a>(&'a self, principal: &'a Principal) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;
}

/// An in-process GCRA limiter, one bucket per principal id.
#[derive(Debug)]
pub struct LocalLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    exempt_roles: Vec<String>,
}

/// Keys kept before idle buckets are dropped (a full bucket holds no information).
const RETAIN_AFTER: usize = 10_000;

impl LocalLimiter {
    /// A limiter for `limit` (already checked by the config).
    pub fn new(limit: &RateLimitSpec) -> Result<Self, String> {
        let (n, per, burst) = limit.quota()?;
        let nonzero = |v: u32| NonZeroU32::new(v).ok_or_else(|| "a rate limit must be at least 1".to_owned());
        let period = per / n;
        let quota = Quota::with_period(period)
            .ok_or_else(|| "the rate is too high to express".to_owned())?
            .allow_burst(nonzero(burst)?);
        Ok(Self { limiter: DefaultKeyedRateLimiter::keyed(quota), exempt_roles: limit.exempt_roles.clone() })
    }
}

impl Limiter for LocalLimiter {
    fn check<'a>(&'a self, principal: &'a Principal) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        Box::pin(std::future::ready(self.check_now(principal)))
    }
}

impl LocalLimiter {
    /// Whether `principal` has a role the limit does not apply to.
    fn exempts(&self, principal: &Principal) -> bool {
        self.exempt_roles.iter().any(|r| principal.has_role(r))
    }

    /// The decision, at once.
    pub fn check_now(&self, principal: &Principal) -> Verdict {
        if self.exempts(principal) {
            return Ok(());
        }
        if self.limiter.len() > RETAIN_AFTER {
            self.limiter.retain_recent();
        }
        let key = principal.id().to_owned();
        self.limiter.check_key(&key).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// GCRA on Redis's clock (so replicas' clocks never matter): `KEYS[1]` holds the theoretical
/// arrival time in microseconds; `ARGV[1]` is the emission interval and `ARGV[2]` the burst
/// tolerance, both in microseconds. Returns 0 to allow (and records the call), else the wait in
/// microseconds. Numbers are formatted with `%d`: Lua's default formatting would round them.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return allow_at - now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return 0
"#;

/// A GCRA limiter every replica shares through Redis, one key per principal (and per scope: the
/// server-wide limit, or a tool's). While Redis is unreachable it does what `when_redis_down`
/// says: enforce the limit in this process, let calls through, or refuse them.
#[derive(Debug)]
pub struct SharedLimiter {
    redis: Redis,
    script: redis::Script,
    scope: String,
    interval_us: u64,
    tolerance_us: u64,
    when_down: WhenRedisDown,
    /// The fallback while Redis is unreachable, and who is exempt.
    local: LocalLimiter,
}

impl SharedLimiter {
    /// A shared limiter for `limit` named `scope` (`server`, or `tool:<name>`).
    pub fn new(limit: &RateLimitSpec, scope: &str, redis: Redis) -> Result<Self, String> {
        let (n, per, burst) = limit.quota()?;
        let interval_us = u64::try_from(per.as_micros() / u128::from(n)).unwrap_or(u64::MAX).max(1);
        Ok(Self {
            redis,
            script: redis::Script::new(GCRA),
            scope: scope.to_owned(),
            interval_us,
            tolerance_us: interval_us.saturating_mul(u64::from(burst) - 1),
            when_down: limit.when_redis_down,
            local: LocalLimiter::new(limit)?,
        })
    }

    async fn check_shared(&self, principal: &Principal) -> Verdict {
        if self.local.exempts(principal) {
            return Ok(());
        }
        let key = self.redis.key(&["rate", &self.scope, principal.id()]);
        let answer = self
            .redis
            .run(|mut conn| async move {
                self.script.key(key).arg(self.interval_us).arg(self.tolerance_us).invoke_async::<u64>(&mut conn).await
            })
            .await;
        match answer {
            Ok(0) => Ok(()),
            Ok(wait_us) => Err(Duration::from_micros(wait_us)),
            Err(_) => match self.when_down {
                WhenRedisDown::Local => self.local.check_now(principal),
                WhenRedisDown::Open => Ok(()),
                WhenRedisDown::Closed => Err(Duration::from_secs(1)),
            },
        }
    }
}

impl Limiter for SharedLimiter {
    fn check<'a>(&'a self, principal: &'a Principal) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        Box::pin(self.check_shared(principal))
    }
}

/// The limiter for `limit`: shared through `redis` when there is one, else in this process.
pub fn limiter(limit: &RateLimitSpec, scope: &str, redis: Option<&Redis>) -> Result<Arc<dyn Limiter>, String> {
    Ok(match redis {
        Some(redis) => Arc::new(SharedLimiter::new(limit, scope, redis.clone())?),
        None => Arc::new(LocalLimiter::new(limit)?),
    })
}

/// Checks each call against the server-wide limit and the tool's own, in that order.
#[derive(Debug, Clone)]
pub struct RateLimit {
    tool: Arc<str>,
    limits: Arc<[Arc<dyn Limiter>]>,
    metrics: Arc<Metrics>,
}

impl RateLimit {
    /// The limits of `tool` (`Guardrails::apply` adds no layer for a tool without any).
    pub fn new(tool: &str, limits: Vec<Arc<dyn Limiter>>, metrics: Arc<Metrics>) -> Self {
        Self { tool: tool.into(), limits: limits.into(), metrics }
    }
}

impl Guardrail for RateLimit {
    const NAME: &'static str = "rate_limit";

    async fn call<S>(self, request: ToolRequest, next: Next<S>) -> Outcome
    where
        S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        let mut wait = None;
        for limit in self.limits.iter() {
            if let Err(w) = limit.check(request.ctx.principal()).await {
                wait = Some(w);
                break;
            }
        }
        if let Some(wait) = wait {
            self.metrics.rate_limited(&self.tool);
            let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
            let message = format!("rate limit reached for {}: retry in {ms} ms", self.tool);
            return Err(HandlerError::rpc(ErrorObject::rate_limited(message, ms)));
        }
        next.run(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_next_call_waits_and_exempt_roles_never_do() {
        let limit = RateLimitSpec {
            per_second: None,
            per_minute: Some(60),
            burst: Some(3),
            exempt_roles: vec!["admin".into()],
            when_redis_down: Default::default(),
        };
        let limiter = LocalLimiter::new(&limit).unwrap_or_else(|e| panic!("{e}"));
        let alice = Principal::new("alice", vec![], Default::default());
        let bob = Principal::new("bob", vec![], Default::default());
        for _ in 0..3 {
            assert!(limiter.check_now(&alice).is_ok());
        }
        let wait = limiter.check_now(&alice).expect_err("over the burst");
        assert!(wait > Duration::from_millis(500) && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limiter.check_now(&bob).is_ok(), "buckets are per principal");
        let admin = Principal::new("root", vec!["admin".into()], Default::default());
        for _ in 0..10 {
            assert!(limiter.check_now(&admin).is_ok());
        }
    }
}
