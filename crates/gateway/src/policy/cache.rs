//! Result caching for read-only tools that opt in (`cache: {ttl_ms}`), with `moka`: bounded by
//! bytes per tool, expired by the tool's TTL, and emptied when a write tool that declares
//! `invalidates: [tool, …]` succeeds.
//!
//! **Invariant:** the key is the tool and its arguments *after* identity-bound parameters were
//! filled in, so two customers never share an entry of a tool bound to `customer_id`; with
//! `per_principal: true` the principal's id is part of the key too.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, ToolRequest};
use tower::Service;

use super::around::{Guardrail, Next, Outcome};

use super::metrics::Metrics;

/// One tool's results.
pub type ResultCache = Cache<String, Arc<CallToolResult>>;

/// A cache for one tool: entries live `ttl`, and all of them together weigh at most
/// `max_bytes` (their JSON size).
pub fn result_cache(ttl: Duration, max_bytes: u64) -> ResultCache {
    Cache::builder()
        .time_to_live(ttl)
        .max_capacity(max_bytes)
        .weigher(|key: &String, value: &Arc<CallToolResult>| {
            let size = key.len() + serde_json::to_vec(&**value).map_or(0, |v| v.len());
            u32::try_from(size).unwrap_or(u32::MAX)
        })
        .build()
}

/// Answers repeated calls of a read-only tool from its cache.
#[derive(Debug, Clone)]
pub struct CacheLookup {
    cache: ResultCache,
    per_principal: bool,
    metrics: Arc<Metrics>,
}

impl CacheLookup {
    /// Lookups in `cache`.
    pub fn new(cache: ResultCache, per_principal: bool, metrics: Arc<Metrics>) -> Self {
        Self { cache, per_principal, metrics }
    }
}

impl Guardrail for CacheLookup {
    const NAME: &'static str = "cache";

    fn call<S>(self, request: ToolRequest, next: Next<S>) -> impl Future<Output = Outcome> + Send
    where
        S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        // serde_json keeps object keys sorted, so equal arguments give equal keys.
        let mut key = format!("{}\u{0}{}", request.name, serde_json::Value::Object(request.args.as_object().clone()));
        if self.per_principal {
            key.push('\u{0}');
            key.push_str(request.ctx.principal().id());
        }
        async move {
            if let Some(hit) = self.cache.get(&key).await {
                self.metrics.cache_lookup(true);
                return Ok((*hit).clone());
            }
            self.metrics.cache_lookup(false);
            let result = next.run(request).await?;
            if result.is_error != Some(true) {
                self.cache.insert(key, Arc::new(result.clone())).await;
            }
            Ok(result)
        }
    }
}

/// Empties the caches of other tools when a call of this one succeeds.
#[derive(Debug, Clone)]
pub struct Invalidate {
    targets: Arc<[ResultCache]>,
}

impl Invalidate {
    /// Empties `targets`.
    pub fn new(targets: Vec<ResultCache>) -> Self {
        Self { targets: targets.into() }
    }
}

impl Guardrail for Invalidate {
    const NAME: &'static str = "invalidate";

    async fn call<S>(self, request: ToolRequest, next: Next<S>) -> Outcome
    where
        S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        let result = next.run(request).await?;
        if result.is_error != Some(true) {
            for cache in self.targets.iter() {
                cache.invalidate_all();
            }
        }
        Ok(result)
    }
}
