//! Where legacy HTTP sessions live: a [`SessionStore`] keeps each session's durable state (its
//! negotiated revision, client capabilities, log level, subscriptions) and the event log that
//! lets a dropped SSE stream resume with `Last-Event-ID`. This module has the in-memory store;
//! a shared store (Redis) implements the same trait so any replica can serve any session.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use switchboard_protocol::lifecycle::{ClientCapabilities, Implementation};
use switchboard_protocol::logging::LoggingLevel;

/// A boxed future, as the store's methods return.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session store: {0}")]
pub struct StoreError(pub String);

/// The durable state of one legacy session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session id (visible ASCII, from a CSPRNG).
    pub id: String,
    /// The negotiated revision.
    pub version: String,
    /// The client's capabilities from `initialize`.
    pub capabilities: ClientCapabilities,
    /// The client's identity from `initialize`.
    pub client_info: Implementation,
    /// The level set with `logging/setLevel`.
    pub log_level: Option<LoggingLevel>,
    /// URIs subscribed with `resources/subscribe`.
    pub subscriptions: Vec<String>,
    /// The id of the principal that opened the session (empty: anonymous). Only that principal
    /// may use it; anyone else is told it does not exist.
    #[serde(default)]
    pub owner: String,
}

/// Stores sessions and their SSE event logs. Event sequence numbers start at 1 per stream.
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new or changed session and marks it active now.
    fn save(&self, record: SessionRecord) -> StoreFuture<'_, ()>;
    /// Loads a session (and marks it active); `None` if unknown, ended or expired.
    fn load(&self, id: &str) -> StoreFuture<'_, Option<SessionRecord>>;
    /// Ends a session and drops its events; `false` if it did not exist.
    fn delete(&self, id: &str) -> StoreFuture<'_, bool>;
    /// Appends an event to one of a session's streams and returns its sequence number.
    fn append(&self, id: &str, stream: &str, data: Bytes) -> StoreFuture<'_, u64>;
    /// The events of a stream after sequence number `after`, oldest first.
    fn events_after(&self, id: &str, stream: &str, after: u64) -> StoreFuture<'_, Vec<(u64, Bytes)>>;
    /// Removes sessions idle for longer than `idle` and returns their ids.
    fn expire(&self, idle: Duration) -> StoreFuture<'_, Vec<String>>;
    /// Drops one stream's events: it was answered in a way no client can resume (a single JSON
    /// response), so keeping them would only cost memory.
    fn forget_stream(&self, id: &str, stream: &str) -> StoreFuture<'_, ()>;
}

/// How many events each stream keeps for resumption.
const EVENTS_PER_STREAM: usize = 1024;
/// How many streams each session keeps (oldest dropped first).
const STREAMS_PER_SESSION: usize = 256;

#[derive(Debug)]
struct Entry {
    record: SessionRecord,
    last_active: Instant,
    streams: HashMap<String, Stream>,
    stream_order: VecDeque<String>,
}

#[derive(Debug, Default)]
struct Stream {
    next: u64,
    events: VecDeque<(u64, Bytes)>,
}

/// Sessions in this process's memory: fast, lost on restart, not shared between replicas.
#[derive(Debug, Default)]
pub struct InMemorySessionStore {
    sessions: Mutex<HashMap<String, Entry>>,
}

impl InMemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many sessions are stored.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is stored.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

impl SessionStore for InMemorySessionStore {
    fn save(&self, record: SessionRecord) -> StoreFuture<'_, ()> {
        let mut map = self.lock();
        match map.get_mut(&record.id) {
            Some(e) => {
                e.record = record;
                e.last_active = Instant::now();
            }
            None => {
                map.insert(
                    record.id.clone(),
                    Entry {
                        record,
                        last_active: Instant::now(),
                        streams: HashMap::new(),
                        stream_order: VecDeque::new(),
                    },
                );
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn load(&self, id: &str) -> StoreFuture<'_, Option<SessionRecord>> {
        let found = self.lock().get_mut(id).map(|e| {
            e.last_active = Instant::now();
            e.record.clone()
        });
        Box::pin(async move { Ok(found) })
    }

    fn delete(&self, id: &str) -> StoreFuture<'_, bool> {
        let existed = self.lock().remove(id).is_some();
        Box::pin(async move { Ok(existed) })
    }

    fn append(&self, id: &str, stream: &str, data: Bytes) -> StoreFuture<'_, u64> {
        let mut map = self.lock();
        let result = match map.get_mut(id) {
            None => Err(StoreError(format!("no session {id}"))),
            Some(e) => {
                if !e.streams.contains_key(stream) {
                    e.stream_order.push_back(stream.to_owned());
                    if e.stream_order.len() > STREAMS_PER_SESSION {
                        if let Some(old) = e.stream_order.pop_front() {
                            e.streams.remove(&old);
                        }
                    }
                }
                let s = e.streams.entry(stream.to_owned()).or_default();
                s.next += 1;
                s.events.push_back((s.next, data));
                if s.events.len() > EVENTS_PER_STREAM {
                    s.events.pop_front();
                }
                Ok(s.next)
            }
        };
        Box::pin(async move { result })
    }

    fn events_after(&self, id: &str, stream: &str, after: u64) -> StoreFuture<'_, Vec<(u64, Bytes)>> {
        let events = self
            .lock()
            .get(id)
            .and_then(|e| e.streams.get(stream))
            .map(|s| s.events.iter().filter(|(n, _)| *n > after).cloned().collect())
            .unwrap_or_default();
        Box::pin(async move { Ok(events) })
    }

    fn forget_stream(&self, id: &str, stream: &str) -> StoreFuture<'_, ()> {
        if let Some(e) = self.lock().get_mut(id) {
            e.streams.remove(stream);
            e.stream_order.retain(|s| s != stream);
        }
        Box::pin(async { Ok(()) })
    }

    fn expire(&self, idle: Duration) -> StoreFuture<'_, Vec<String>> {
        let mut map = self.lock();
        let stale: Vec<String> =
            map.iter().filter(|(_, e)| e.last_active.elapsed() > idle).map(|(k, _)| k.clone()).collect();
        for id in &stale {
            map.remove(id);
        }
        Box::pin(async move { Ok(stale) })
    }
}
