//! The response cache (SEP-2549): results of cacheable methods kept for their `ttlMs`, keyed by
//! method and the params that affect the result, dropped by the matching change notification.
//!
//! One cache belongs to one [`Client`](super::Client), whose credentials are fixed, so entries are
//! never shared across authorization contexts whatever their `cacheScope`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_protocol::methods;

/// Methods whose complete results carry caching hints.
const CACHEABLE: [&str; 6] = [
    methods::SERVER_DISCOVER,
    methods::TOOLS_LIST,
    methods::PROMPTS_LIST,
    methods::RESOURCES_LIST,
    methods::RESOURCES_TEMPLATES_LIST,
    methods::RESOURCES_READ,
];

/// Cached results by `(method, params)`.
#[derive(Debug, Default)]
pub(crate) struct ResponseCache {
    entries: Mutex<HashMap<(String, String), (Instant, Value)>>,
}

impl ResponseCache {
    /// The key of a request, or `None` when its results must not be cached (not a cacheable
    /// method, or an MRTR retry whose result depends on inputs outside the key).
    pub(crate) fn key(method: &str, params: &Value) -> Option<(String, String)> {
        if !CACHEABLE.contains(&method)
            || params.get("inputResponses").is_some()
            || params.get("requestState").is_some()
        {
            return None;
        }
        let mut params = params.clone();
        if let Some(obj) = params.as_object_mut() {
            obj.remove("_meta");
        }
        Some((method.to_owned(), params.to_string()))
    }

    /// A fresh cached result.
    pub(crate) fn get(&self, key: &(String, String)) -> Option<Value> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((expires, value)) if Instant::now() < *expires => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores a complete result that says it stays fresh (`ttlMs > 0`).
    pub(crate) fn put(&self, key: (String, String), result: &Value) {
        let ttl = result.get("ttlMs").and_then(Value::as_u64).unwrap_or(0);
        let complete = result.get("resultType").and_then(Value::as_str).is_none_or(|t| t == "complete");
        if ttl == 0 || !complete {
            return;
        }
        self.lock().insert(key, (Instant::now() + Duration::from_millis(ttl), result.clone()));
    }

    /// Drops what a notification says has changed.
    pub(crate) fn invalidate(&self, notification: &str, params: &Value) {
        let stale: &[&str] = match notification {
            methods::NOTIFICATION_TOOLS_LIST_CHANGED => &[methods::TOOLS_LIST],
            methods::NOTIFICATION_PROMPTS_LIST_CHANGED => &[methods::PROMPTS_LIST],
            methods::NOTIFICATION_RESOURCES_LIST_CHANGED => {
                &[methods::RESOURCES_LIST, methods::RESOURCES_TEMPLATES_LIST]
            }
            methods::NOTIFICATION_RESOURCES_UPDATED => {
                let uri = params.get("uri").and_then(Value::as_str).unwrap_or_default();
                self.lock().retain(|(method, params), _| {
                    method != methods::RESOURCES_READ
                        || serde_json::from_str::<Value>(params)
                            .ok()
                            .is_some_and(|p| p.get("uri").and_then(Value::as_str) != Some(uri))
                });
                return;
            }
            _ => return,
        };
        self.lock().retain(|(method, _), _| !stale.contains(&method.as_str()));
    }

    /// Forgets everything (a new session, a restarted server).
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), (Instant, Value)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fresh_results_are_served_and_notifications_invalidate_them() {
        let cache = ResponseCache::default();
        let key = ResponseCache::key("tools/list", &json!({"_meta": {"x": 1}})).expect("cacheable");
        cache.put(key.clone(), &json!({"tools": [], "ttlMs": 60000, "cacheScope": "public"}));
        assert!(cache.get(&key).is_some());
        assert_eq!(ResponseCache::key("tools/list", &json!({})), Some(key.clone()), "_meta is not part of the key");
        cache.invalidate("notifications/prompts/list_changed", &json!({}));
        assert!(cache.get(&key).is_some());
        cache.invalidate("notifications/tools/list_changed", &json!({}));
        assert!(cache.get(&key).is_none());
    }

    #[test]
    fn stale_interim_and_retried_results_are_not_cached() {
        let cache = ResponseCache::default();
        let key = ResponseCache::key("resources/read", &json!({"uri": "a://b"})).expect("cacheable");
        cache.put(key.clone(), &json!({"contents": [], "ttlMs": 0}));
        assert!(cache.get(&key).is_none());
        cache.put(key.clone(), &json!({"resultType": "input_required", "ttlMs": 5000}));
        assert!(cache.get(&key).is_none());
        assert!(ResponseCache::key("resources/read", &json!({"uri": "a://b", "requestState": "s"})).is_none());
        assert!(ResponseCache::key("tools/call", &json!({"name": "x"})).is_none());
        cache.put(key.clone(), &json!({"contents": [], "ttlMs": 5000}));
        cache.invalidate("notifications/resources/updated", &json!({"uri": "a://other"}));
        assert!(cache.get(&key).is_some());
        cache.invalidate("notifications/resources/updated", &json!({"uri": "a://b"}));
        assert!(cache.get(&key).is_none());
    }
}
