//! Rate limits: a GCRA limiter per principal (`governor`, keyed by principal id), behind the
//! [`Limiter`] trait so a shared (Redis) limiter can replace it, and the layer that checks a
//! call against the server-wide and the tool's limits.

use std::future::Future;
use std::num::NonZeroU32;
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
use crate::config::RateLimit as RateLimitSpec;

/// Decides whether a principal may make one more call now.
pub trait Limiter: std::fmt::Debug + Send + Sync + 'static {
    /// `Ok` to go ahead, or how long to wait first.
    fn check(&self, principal: &Principal) -> Result<(), Duration>;
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
    fn check(&self, principal: &Principal) -> Result<(), Duration> {
        if self.exempt_roles.iter().any(|r| principal.has_role(r)) {
            return Ok(());
        }
        if self.limiter.len() > RETAIN_AFTER {
            self.limiter.retain_recent();
        }
        let key = principal.id().to_owned();
        self.limiter.check_key(&key).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Checks each call against the server-wide limit and the tool's own, in that order.
#[derive(Debug, Clone)]
pub struct RateLimit {
    tool: Arc<str>,
    limits: Arc<[Arc<dyn Limiter>]>,
    metrics: Arc<Metrics>,
}

impl RateLimit {
    /// The limits of `tool` (none: it passes everything through).
    pub fn new(tool: &str, limits: Vec<Arc<dyn Limiter>>, metrics: Arc<Metrics>) -> Self {
        Self { tool: tool.into(), limits: limits.into(), metrics }
    }
}

impl Guardrail for RateLimit {
    const NAME: &'static str = "rate_limit";

    fn call<S>(self, request: ToolRequest, next: Next<S>) -> impl Future<Output = Outcome> + Send
    where
        S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        let wait = self.limits.iter().find_map(|l| l.check(request.ctx.principal()).err());
        async move {
            if let Some(wait) = wait {
                self.metrics.rate_limited(&self.tool);
                let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
                let message = format!("rate limit reached for {}: retry in {ms} ms", self.tool);
                return Err(HandlerError::rpc(ErrorObject::rate_limited(message, ms)));
            }
            next.run(request).await
        }
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
        };
        let limiter = LocalLimiter::new(&limit).unwrap_or_else(|e| panic!("{e}"));
        let alice = Principal::new("alice", vec![], Default::default());
        let bob = Principal::new("bob", vec![], Default::default());
        for _ in 0..3 {
            assert!(limiter.check(&alice).is_ok());
        }
        let wait = limiter.check(&alice).expect_err("over the burst");
        assert!(wait > Duration::from_millis(500) && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limiter.check(&bob).is_ok(), "buckets are per principal");
        let admin = Principal::new("root", vec!["admin".into()], Default::default());
        for _ in 0..10 {
            assert!(limiter.check(&admin).is_ok());
        }
    }
}
