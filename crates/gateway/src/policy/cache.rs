//! Result caching for read-only tools that opt in (`cache: {ttl_ms}`), with `moka`: bounded by
//! bytes per tool, expired by the tool's TTL, and emptied when a write tool that declares
//! `invalidates: [tool, …]` succeeds.
//!
//! **Invariant:** the key is the tool and its arguments *after* identity-bound parameters were
//! filled in, so two customers never share an entry of a tool bound to `customer_id`; with
//! `per_principal: true` the principal's id is part of the key too.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use moka::future::Cache;
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, ToolRequest};
use tower::{Layer, Service};

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
pub struct CacheLayer {
    cache: ResultCache,
    per_principal: bool,
    metrics: Arc<Metrics>,
}

impl CacheLayer {
    /// The layer over `cache`.
    pub fn new(cache: ResultCache, per_principal: bool, metrics: Arc<Metrics>) -> Self {
        Self { cache, per_principal, metrics }
    }
}

impl<S> Layer<S> for CacheLayer {
    type Service = Cached<S>;
    fn layer(&self, inner: S) -> Cached<S> {
        Cached { inner, layer: self.clone() }
    }
}

/// The service [`CacheLayer`] makes.
#[derive(Debug, Clone)]
pub struct Cached<S> {
    inner: S,
    layer: CacheLayer,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<CallToolResult, HandlerError>> + Send>>;

impl<S> Service<ToolRequest> for Cached<S>
where
    S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = CallToolResult;
    type Error = HandlerError;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), HandlerError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: ToolRequest) -> BoxFuture {
        // serde_json keeps object keys sorted, so equal arguments give equal keys.
        let mut key = format!("{}\u{0}{}", request.name, serde_json::Value::Object(request.args.as_object().clone()));
        if self.layer.per_principal {
            key.push('\u{0}');
            key.push_str(request.ctx.principal().id());
        }
        let layer = self.layer.clone();
        // The clone is ready (tower's contract): swap it in so `self` keeps a fresh one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            if let Some(hit) = layer.cache.get(&key).await {
                layer.metrics.cache_lookup(true);
                return Ok((*hit).clone());
            }
            layer.metrics.cache_lookup(false);
            let result = inner.call(request).await?;
            if result.is_error != Some(true) {
                layer.cache.insert(key, Arc::new(result.clone())).await;
            }
            Ok(result)
        })
    }
}

/// Empties the caches of other tools when a call of this one succeeds.
#[derive(Debug, Clone)]
pub struct InvalidateLayer {
    targets: Arc<[ResultCache]>,
}

impl InvalidateLayer {
    /// The layer that empties `targets`.
    pub fn new(targets: Vec<ResultCache>) -> Self {
        Self { targets: targets.into() }
    }
}

impl<S> Layer<S> for InvalidateLayer {
    type Service = Invalidating<S>;
    fn layer(&self, inner: S) -> Invalidating<S> {
        Invalidating { inner, layer: self.clone() }
    }
}

/// The service [`InvalidateLayer`] makes.
#[derive(Debug, Clone)]
pub struct Invalidating<S> {
    inner: S,
    layer: InvalidateLayer,
}

impl<S> Service<ToolRequest> for Invalidating<S>
where
    S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError>,
    S::Future: Send + 'static,
{
    type Response = CallToolResult;
    type Error = HandlerError;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), HandlerError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: ToolRequest) -> BoxFuture {
        let work = self.inner.call(request);
        let layer = self.layer.clone();
        Box::pin(async move {
            let result = work.await?;
            if result.is_error != Some(true) {
                for cache in layer.targets.iter() {
                    cache.invalidate_all();
                }
            }
            Ok(result)
        })
    }
}
