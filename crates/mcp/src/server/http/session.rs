//! Where legacy HTTP sessions live: a [`SessionStore`] keeps each session's durable state (its
//! negotiated revision, client capabilities, log level, subscriptions) and the event log that
//! lets a dropped SSE stream resume with `Last-Event-ID`. This module has the in-memory store;
//! a shared store (the gateway's Redis store) implements the same trait, and its
//! [`SessionStore::is_shared`] methods, so any replica can serve any session.

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
    /// Marks one stream as delivered in full: its events are kept only for a resumption, and
    /// are the first to go when the event log is over its byte budget.
    fn release_stream(&self, id: &str, stream: &str) -> StoreFuture<'_, ()>;

    /// Whether other processes (replicas) share this store: then a session's requests may
    /// arrive at any of them, a stream may be read on one replica while another produces it, and
    /// a client's answer may reach a replica other than the one waiting for it. The methods
    /// below serve that case; a store of one process keeps their defaults.
    fn is_shared(&self) -> bool {
        false
    }
    /// Records that a stream's last event (its response) is in the log, for readers elsewhere.
    fn finish_stream(&self, _id: &str, _stream: &str) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    /// Whether a stream's producer finished it (shared stores; one process knows it in memory).
    fn is_finished(&self, _id: &str, _stream: &str) -> StoreFuture<'_, bool> {
        Box::pin(async { Ok(true) })
    }
    /// Hands a client's message (a response to a server request, or a cancellation) that this
    /// process cannot apply to the replica that can.
    fn route(&self, _id: &str, _message: Bytes) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    /// Messages other replicas routed here, as (session id, message); taken once.
    fn routed(&self) -> Option<tokio::sync::mpsc::Receiver<(String, Bytes)>> {
        None
    }
    /// Whether this process writes the session's unsolicited messages (stream `g`): exactly one
    /// replica does, so a notification every replica sees is logged once. `take` makes this
    /// process the writer (it now serves the session's standalone stream).
    fn claim_unsolicited(&self, _id: &str, _take: bool) -> StoreFuture<'_, bool> {
        Box::pin(async { Ok(true) })
    }
}

/// How many bytes of SSE events the in-memory store keeps for resumption, counted with what
/// keeping them costs beyond their data (1 KiB a stream, 64 bytes an event): measured, a
/// small kept stream took about three times its data in memory.
///
/// Only streams delivered in full ([`SessionStore::release_stream`]) are evicted to meet it,
/// oldest first — a stream still being produced or read is never cut short, so a session can
/// exceed its share while its own requests are in flight (those are capped by the in-flight
/// limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventLogBudget {
    /// Most bytes one session's streams keep.
    pub per_session: usize,
    /// Most bytes all sessions' streams keep together.
    pub total: usize,
}

impl Default for EventLogBudget {
    fn default() -> Self {
        Self { per_session: 4 << 20, total: 256 << 20 }
    }
}

/// What a kept stream costs beyond its events' data (its entries in the session's maps and
/// queues, allocator slack), as the byte budget counts it.
const STREAM_OVERHEAD: usize = 1024;
/// What a kept event costs beyond its data.
const EVENT_OVERHEAD: usize = 64;

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
    /// Bytes of event data this session's streams hold.
    bytes: usize,
    /// Streams delivered in full, in the order they were released: the eviction order.
    released: VecDeque<String>,
}

impl Entry {
    /// Drops one stream and returns the bytes it held.
    fn drop_stream(&mut self, name: &str) -> usize {
        let freed = self.streams.remove(name).map_or(0, |s| s.bytes);
        self.bytes -= freed;
        freed
    }
}

#[derive(Debug, Default)]
struct Stream {
    next: u64,
    events: VecDeque<(u64, Bytes)>,
    bytes: usize,
}

#[derive(Debug, Default)]
struct Log {
    sessions: HashMap<String, Entry>,
    /// Bytes of event data all sessions hold.
    bytes: usize,
    /// Released streams of every session, oldest first (entries may be stale: the stream may
    /// be gone already), for meeting the total budget.
    released: VecDeque<(String, String)>,
    /// The length of `released` that triggers the next sweep of stale entries.
    sweep_at: usize,
}

impl Log {
    fn drop_stream(&mut self, id: &str, name: &str) {
        if let Some(e) = self.sessions.get_mut(id) {
            self.bytes -= e.drop_stream(name);
            e.stream_order.retain(|s| s != name);
            e.released.retain(|s| s != name);
        }
    }

    fn drop_session(&mut self, id: &str) -> bool {
        match self.sessions.remove(id) {
            Some(e) => {
                self.bytes -= e.bytes;
                true
            }
            None => false,
        }
    }

    /// Evicts released streams until `id` is within its share and the store within its total.
    fn meet(&mut self, id: &str, budget: EventLogBudget) {
        if let Some(e) = self.sessions.get_mut(id) {
            while e.bytes > budget.per_session {
                let Some(name) = e.released.pop_front() else { break };
                self.bytes -= e.drop_stream(&name);
                e.stream_order.retain(|s| *s != name);
            }
        }
        while self.bytes > budget.total {
            let Some((sid, name)) = self.released.pop_front() else { break };
            if let Some(e) = self.sessions.get_mut(&sid) {
                self.bytes -= e.drop_stream(&name);
                e.stream_order.retain(|s| *s != name);
                e.released.retain(|s| *s != name);
            }
        }
        // Stale entries (streams already gone) would otherwise pile up in the global queue. The
        // sweep walks every entry, so it runs only when the queue has doubled since the last one.
        if self.released.len() > self.sweep_at {
            let sessions = &self.sessions;
            self.released.retain(|(sid, name)| sessions.get(sid).is_some_and(|e| e.released.contains(name)));
            self.sweep_at = (2 * self.released.len()).max(1024);
        }
    }
}

/// Sessions in this process's memory: fast, lost on restart, not shared between replicas.
#[derive(Debug, Default)]
pub struct InMemorySessionStore {
    log: Mutex<Log>,
    budget: EventLogBudget,
}

impl InMemorySessionStore {
    /// An empty store with the default event-log budget.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store keeping at most `budget` bytes of events.
    pub fn with_budget(budget: EventLogBudget) -> Self {
        Self { log: Mutex::default(), budget }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many sessions are stored.
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Whether no session is stored.
    pub fn is_empty(&self) -> bool {
        self.lock().sessions.is_empty()
    }

    /// How many bytes of event data the store holds.
    pub fn event_bytes(&self) -> usize {
        self.lock().bytes
    }
}

impl SessionStore for InMemorySessionStore {
    fn save(&self, record: SessionRecord) -> StoreFuture<'_, ()> {
        let mut log = self.lock();
        match log.sessions.get_mut(&record.id) {
            Some(e) => {
                e.record = record;
                e.last_active = Instant::now();
            }
            None => {
                log.sessions.insert(
                    record.id.clone(),
                    Entry {
                        record,
                        last_active: Instant::now(),
                        streams: HashMap::new(),
                        stream_order: VecDeque::new(),
                        bytes: 0,
                        released: VecDeque::new(),
                    },
                );
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn load(&self, id: &str) -> StoreFuture<'_, Option<SessionRecord>> {
        let found = self.lock().sessions.get_mut(id).map(|e| {
            e.last_active = Instant::now();
            e.record.clone()
        });
        Box::pin(async move { Ok(found) })
    }

    fn delete(&self, id: &str) -> StoreFuture<'_, bool> {
        let existed = self.lock().drop_session(id);
        Box::pin(async move { Ok(existed) })
    }

    fn append(&self, id: &str, stream: &str, data: Bytes) -> StoreFuture<'_, u64> {
        let mut log = self.lock();
        let log = &mut *log;
        let result = match log.sessions.get_mut(id) {
            None => Err(StoreError(format!("no session {id}"))),
            Some(e) => {
                let mut added = data.len() + EVENT_OVERHEAD;
                if !e.streams.contains_key(stream) {
                    e.stream_order.push_back(stream.to_owned());
                    if e.stream_order.len() > STREAMS_PER_SESSION {
                        if let Some(old) = e.stream_order.pop_front() {
                            log.bytes -= e.drop_stream(&old);
                            e.released.retain(|s| *s != old);
                        }
                    }
                    added += STREAM_OVERHEAD;
                }
                let s = e.streams.entry(stream.to_owned()).or_default();
                s.next += 1;
                s.events.push_back((s.next, data));
                let popped = if s.events.len() > EVENTS_PER_STREAM {
                    s.events.pop_front().map_or(0, |(_, old)| old.len() + EVENT_OVERHEAD)
                } else {
                    0
                };
                s.bytes = s.bytes + added - popped;
                e.bytes = e.bytes + added - popped;
                log.bytes = log.bytes + added - popped;
                Ok(s.next)
            }
        };
        if result.is_ok() {
            log.meet(id, self.budget);
        }
        Box::pin(async move { result })
    }

    fn events_after(&self, id: &str, stream: &str, after: u64) -> StoreFuture<'_, Vec<(u64, Bytes)>> {
        let events = self
            .lock()
            .sessions
            .get(id)
            .and_then(|e| e.streams.get(stream))
            .map(|s| s.events.iter().filter(|(n, _)| *n > after).cloned().collect())
            .unwrap_or_default();
        Box::pin(async move { Ok(events) })
    }

    fn forget_stream(&self, id: &str, stream: &str) -> StoreFuture<'_, ()> {
        self.lock().drop_stream(id, stream);
        Box::pin(async { Ok(()) })
    }

    fn release_stream(&self, id: &str, stream: &str) -> StoreFuture<'_, ()> {
        let mut guard = self.lock();
        let log = &mut *guard;
        if let Some(e) = log.sessions.get_mut(id) {
            if e.streams.contains_key(stream) && !e.released.iter().any(|s| s == stream) {
                e.released.push_back(stream.to_owned());
                log.released.push_back((id.to_owned(), stream.to_owned()));
                log.meet(id, self.budget);
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn expire(&self, idle: Duration) -> StoreFuture<'_, Vec<String>> {
        let mut log = self.lock();
        let stale: Vec<String> =
            log.sessions.iter().filter(|(_, e)| e.last_active.elapsed() > idle).map(|(k, _)| k.clone()).collect();
        for id in &stale {
            log.drop_session(id);
        }
        Box::pin(async move { Ok(stale) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> SessionRecord {
        SessionRecord {
            id: id.into(),
            version: "2025-11-25".into(),
            capabilities: Default::default(),
            client_info: Implementation::new("t", "1"),
            log_level: None,
            subscriptions: vec![],
            owner: String::new(),
        }
    }

    fn run<T>(f: StoreFuture<'_, T>) -> T {
        futures_util::FutureExt::now_or_never(f).expect("the in-memory store never waits").expect("store call")
    }

    /// What one stream of one 300-byte event costs the budget.
    const ONE: usize = STREAM_OVERHEAD + EVENT_OVERHEAD + 300;

    #[test]
    fn delivered_streams_are_evicted_oldest_first_to_meet_the_session_budget() {
        let store = InMemorySessionStore::with_budget(EventLogBudget { per_session: 3 * ONE + 10, total: 1 << 20 });
        run(store.save(record("s")));
        for n in 1..=5 {
            let name = format!("r{n}");
            run(store.append("s", &name, Bytes::from(vec![b'x'; 300])));
            run(store.release_stream("s", &name));
        }
        // Five streams against room for three: the two oldest delivered streams went.
        assert_eq!(store.event_bytes(), 3 * ONE);
        assert!(run(store.events_after("s", "r1", 0)).is_empty());
        assert!(run(store.events_after("s", "r2", 0)).is_empty());
        assert_eq!(run(store.events_after("s", "r5", 0)).len(), 1);
    }

    #[test]
    fn a_stream_not_yet_delivered_is_never_cut_short() {
        let store = InMemorySessionStore::with_budget(EventLogBudget { per_session: ONE, total: ONE });
        run(store.save(record("s")));
        for _ in 0..3 {
            run(store.append("s", "r1", Bytes::from(vec![b'x'; 300])));
        }
        assert_eq!(run(store.events_after("s", "r1", 0)).len(), 3, "a reader may still need every event");
        run(store.release_stream("s", "r1"));
        assert!(run(store.events_after("s", "r1", 0)).is_empty());
        assert_eq!(store.event_bytes(), 0);
    }

    #[test]
    fn the_total_budget_evicts_across_sessions_and_ended_sessions_give_their_bytes_back() {
        let store = InMemorySessionStore::with_budget(EventLogBudget { per_session: 1 << 20, total: 3 * ONE + 10 });
        for id in ["a", "b", "c", "d"] {
            run(store.save(record(id)));
            run(store.append(id, "r1", Bytes::from(vec![b'x'; 300])));
            run(store.release_stream(id, "r1"));
        }
        assert_eq!(store.event_bytes(), 3 * ONE);
        assert!(run(store.events_after("a", "r1", 0)).is_empty(), "the oldest delivered stream of any session goes");
        assert!(run(store.delete("d")));
        assert_eq!(store.event_bytes(), 2 * ONE);
        run(store.forget_stream("c", "r1"));
        assert_eq!(store.event_bytes(), ONE);
    }
}
