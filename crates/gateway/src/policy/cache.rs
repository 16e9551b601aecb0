//! Result caching for read-only tools that opt in (`cache: {ttl_ms}`): in the process with
//! `moka` (bounded by bytes per tool, expired by the tool's TTL) and, with `server.redis_url`, a
//! second level in Redis that every replica shares. A write tool that declares
//! `invalidates: [tool, …]` empties those caches when it succeeds — on every replica: it bumps
//! the tool's generation in Redis (entries are stored under the generation their lookup saw, so a
//! result computed before the write never lands where later lookups read) and publishes the
//! tool's name, on which each replica empties its own level.
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
use crate::shared::Redis;

/// The channel on which invalidated tools are announced to every replica.
pub const INVALIDATIONS: &str = "cache-invalidate";

/// Reads the tool's generation and the entry under it, in one round trip.
const LOOKUP: &str = r#"
local g = redis.call('GET', KEYS[1]) or '0'
return {g, redis.call('GET', ARGV[1] .. g .. ':' .. ARGV[2])}
"#;

/// One tool's results: this process's level, and the shared one when there is Redis.
#[derive(Debug, Clone)]
pub struct ResultCache {
    tool: Arc<str>,
    local: Cache<String, Arc<CallToolResult>>,
    shared: Option<Shared>,
}

#[derive(Debug, Clone)]
struct Shared {
    redis: Redis,
    ttl_ms: u64,
    lookup: Arc<redis::Script>,
}

/// A cache for `tool`: entries live `ttl`, and this process's entries together weigh at most
/// `max_bytes` (their JSON size); with `redis`, replicas share a second level.
pub fn result_cache(tool: &str, ttl: Duration, max_bytes: u64, redis: Option<&Redis>) -> ResultCache {
    let local = Cache::builder()
        .time_to_live(ttl)
        .max_capacity(max_bytes)
        .weigher(|key: &String, value: &Arc<CallToolResult>| {
            let size = key.len() + serde_json::to_vec(&**value).map_or(0, |v| v.len());
            u32::try_from(size).unwrap_or(u32::MAX)
        })
        .build();
    let shared = redis.map(|redis| Shared {
        redis: redis.clone(),
        ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1),
        lookup: Arc::new(redis::Script::new(LOOKUP)),
    });
    ResultCache { tool: tool.into(), local, shared }
}

/// The shared generation a lookup saw: where its result may be stored.
type Generation = Option<String>;

impl ResultCache {
    /// The tool this cache belongs to.
    pub fn tool(&self) -> &str {
        &self.tool
    }

    /// The entry for `key`, from this process or else from Redis (then kept here too).
    async fn get(&self, key: &str) -> (Option<Arc<CallToolResult>>, Generation) {
        if let Some(hit) = self.local.get(key).await {
            return (Some(hit), None);
        }
        let Some(shared) = &self.shared else { return (None, None) };
        let generation_key = shared.redis.key(&["cachegen", &self.tool]);
        let entries = shared.redis.key(&["cache", &self.tool, ""]);
        let digest = digest(key);
        let found = shared
            .redis
            .run(|mut c| async move {
                shared
                    .lookup
                    .key(generation_key)
                    .arg(entries)
                    .arg(digest)
                    .invoke_async::<(String, Option<Vec<u8>>)>(&mut c)
                    .await
            })
            .await;
        match found {
            Ok((generation, Some(json))) => match serde_json::from_slice::<CallToolResult>(&json) {
                Ok(result) => {
                    let result = Arc::new(result);
                    self.local.insert(key.to_owned(), result.clone()).await;
                    (Some(result), Some(generation))
                }
                Err(_) => (None, Some(generation)),
            },
            Ok((generation, None)) => (None, Some(generation)),
            // Redis unreachable: this process's level only.
            Err(_) => (None, None),
        }
    }

    /// Keeps `value` here and, under the generation its lookup saw, in Redis.
    async fn insert(&self, key: String, value: Arc<CallToolResult>, generation: Generation) {
        if let (Some(shared), Some(generation)) = (&self.shared, generation) {
            if let Ok(json) = serde_json::to_vec(&*value) {
                let entry = shared.redis.key(&["cache", &self.tool, &generation, &digest(&key)]);
                let ttl = shared.ttl_ms;
                let _ = shared
                    .redis
                    .run(|mut c| async move {
                        redis::cmd("SET").arg(entry).arg(json).arg("PX").arg(ttl).query_async::<()>(&mut c).await
                    })
                    .await;
            }
        }
        self.local.insert(key, value).await;
    }

    /// Empties this process's level (another replica invalidated the tool).
    pub fn clear_local(&self) {
        self.local.invalidate_all();
    }

    /// Empties the cache on every replica.
    pub async fn invalidate_all(&self) {
        self.local.invalidate_all();
        let Some(shared) = &self.shared else { return };
        let generation = shared.redis.key(&["cachegen", &self.tool]);
        let channel = shared.redis.key(&[INVALIDATIONS]);
        let tool = self.tool.to_string();
        let bumped = shared
            .redis
            .run(|mut c| async move {
                redis::pipe()
                    .incr(generation, 1)
                    .ignore()
                    .publish(channel, tool)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
        if let Err(e) = bumped {
            tracing::warn!(target: "switchboard::shared", tool = %self.tool, error = %e,
                "could not invalidate the shared cache; other replicas may answer from it until its TTL");
        }
    }
}

/// A fixed-length name for a cache key (arguments can be long, and may hold personal data).
fn digest(key: &str) -> String {
    crate::config::key_digest(key).iter().map(|b| format!("{b:02x}")).collect()
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
            let (hit, generation) = self.cache.get(&key).await;
            if let Some(hit) = hit {
                self.metrics.cache_lookup(true);
                return Ok((*hit).clone());
            }
            self.metrics.cache_lookup(false);
            let result = next.run(request).await?;
            if result.is_error != Some(true) {
                self.cache.insert(key, Arc::new(result.clone()), generation).await;
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
                cache.invalidate_all().await;
            }
        }
        Ok(result)
    }
}
