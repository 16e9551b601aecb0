//! State shared by replicas: one Redis connection per process (`server.redis_url`), multiplexed
//! and reconnecting, with every key under one prefix. With no Redis configured everything stays
//! in the process, as for a single replica.
//!
//! A Redis that stops answering must not slow every call down: an operation that fails or takes
//! longer than the timeout marks Redis *down* for a second, during which callers use their
//! fallback at once instead of waiting again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

mod changes;
mod sessions;
mod tasks;

pub use self::changes::relay_changes;
pub use self::sessions::RedisSessionStore;
pub use self::tasks::RedisTaskStore;

/// How long a failed operation keeps Redis marked down.
const DOWN_FOR: Duration = Duration::from_secs(1);

/// The default time one Redis operation may take.
pub const DEFAULT_REDIS_TIMEOUT_MS: u64 = 500;

/// The default prefix of every key.
pub const DEFAULT_KEY_PREFIX: &str = "switchboard";

/// Why a Redis operation gave no answer. Never carries the URL (it may hold a password).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SharedError {
    /// The URL does not parse.
    #[error("server.redis_url is not a valid Redis URL ({0})")]
    Url(String),
    /// Redis was marked down by a recent failure: not tried.
    #[error("Redis is unavailable (a recent operation failed)")]
    Down,
    /// The operation took longer than the timeout.
    #[error("Redis did not answer within {0} ms")]
    Timeout(u64),
    /// Redis answered with an error, or the connection failed.
    #[error("Redis failed: {0}")]
    Failed(String),
}

/// The process's Redis connection.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: Arc<str>,
    timeout: Duration,
    /// Milliseconds since `epoch` until which Redis counts as down (0: up).
    down_until: Arc<AtomicU64>,
    epoch: Instant,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("prefix", &self.prefix).field("timeout", &self.timeout).finish()
    }
}

impl Redis {
    /// A connection to `url`, made on first use (a Redis that is down at start is reached once
    /// it is up; until then operations fail and callers fall back). Keys start with `prefix:`.
    pub fn connect(url: &str, prefix: &str, timeout: Duration) -> Result<Self, SharedError> {
        // The parse error may quote the URL: say only what kind of problem it is.
        let client = redis::Client::open(url).map_err(|e| SharedError::Url(format!("{:?}", e.kind())))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| SharedError::Failed(format!("{:?}", e.kind())))?;
        Ok(Self {
            client,
            conn,
            prefix: prefix.into(),
            timeout,
            down_until: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
        })
    }

    /// `prefix:part:part…`.
    pub fn key(&self, parts: &[&str]) -> String {
        let mut key = String::with_capacity(self.prefix.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>());
        key.push_str(&self.prefix);
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    /// Whether a recent failure marks Redis down.
    pub fn is_down(&self) -> bool {
        let until = self.down_until.load(Ordering::Relaxed);
        until != 0 && self.now_ms() < until
    }

    /// A connection of its own for subscribing (pub/sub holds its connection).
    async fn pubsub(&self) -> Result<redis::aio::PubSub, SharedError> {
        match tokio::time::timeout(self.timeout, self.client.get_async_pubsub()).await {
            Ok(Ok(pubsub)) => Ok(pubsub),
            Ok(Err(e)) => Err(SharedError::Failed(describe(&e))),
            Err(_) => Err(SharedError::Timeout(u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX))),
        }
    }

    /// The messages published on `channel` from now on, until the receiver is dropped; the
    /// subscription is made again after a lost connection (messages sent meanwhile are missed).
    pub fn subscribe(&self, channel: String) -> tokio::sync::mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let redis = self.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            loop {
                match redis.pubsub().await {
                    Ok(mut pubsub) => {
                        if pubsub.subscribe(&channel).await.is_ok() {
                            let mut messages = pubsub.on_message();
                            while let Some(msg) = messages.next().await {
                                if tx.send(msg.get_payload_bytes().to_vec()).await.is_err() {
                                    return; // Nobody listens any more.
                                }
                            }
                        }
                        tracing::warn!(target: "switchboard::shared", %channel, "lost a Redis subscription; subscribing again");
                    }
                    Err(e) => {
                        tracing::debug!(target: "switchboard::shared", %channel, error = %e, "cannot subscribe yet");
                    }
                }
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        rx
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `op` on the connection within the timeout; a failure marks Redis down for a second.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, SharedError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if self.is_down() {
            return Err(SharedError::Down);
        }
        let outcome = match tokio::time::timeout(self.timeout, op(self.conn.clone())).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => SharedError::Failed(describe(&e)),
            Err(_) => SharedError::Timeout(u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX)),
        };
        let now = self.now_ms();
        let down_for = u64::try_from(DOWN_FOR.as_millis()).unwrap_or(1000);
        // Logged once per outage, not once per call.
        let was_down_until = self.down_until.swap(now + down_for, Ordering::Relaxed);
        if was_down_until == 0 || was_down_until + down_for < now {
            tracing::warn!(target: "switchboard::shared", error = %outcome, "Redis operation failed; using the fallback for a second");
        }
        Err(outcome)
    }
}

/// A Redis error without anything that could hold a credential (its kind, and the server's
/// own error code for server errors).
fn describe(e: &redis::RedisError) -> String {
    match e.code() {
        Some(code) => format!("{:?} ({code})", e.kind()),
        None if e.is_timeout() => "timed out".into(),
        None if e.is_connection_refusal() => "connection refused".into(),
        None if e.is_io_error() => "connection failed".into(),
        None => format!("{:?}", e.kind()),
    }
}
