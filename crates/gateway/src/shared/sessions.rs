//! Legacy HTTP sessions in Redis, so any replica serves any session: the session record, each
//! stream's event log (a Redis stream per request, for `Last-Event-ID` resumption on any
//! replica), the mark that a stream's producer finished it, client answers routed to the replica
//! whose request waits for them (pub/sub), and which replica logs the session's notifications.
//!
//! Keys, under the prefix: `sess:<id>` (the record, JSON), `ev:<id>:<stream>` (events, ids
//! `<seq>-0`), `seq:<id>:<stream>` (the stream's counter), `fin:<id>:<stream>`, `streams:<id>`
//! (the session's stream names, for ending it), `g:<id>` (the notification writer). Everything
//! expires with the session's idle timeout; a stream delivered in full sooner.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use redis::streams::StreamRangeReply;
use switchboard_mcp::server::http::{SessionRecord, SessionStore, StoreError, StoreFuture};
use tokio::sync::mpsc;

use super::Redis;

/// Events one stream keeps (the oldest trimmed first), as the in-memory store.
const EVENTS_PER_STREAM: u64 = 1024;
/// How long a stream delivered in full stays for a resumption.
const RELEASED_TTL: Duration = Duration::from_secs(300);
/// How long the notification writer's claim lasts without use.
const WRITER_TTL: Duration = Duration::from_secs(60);
/// Routed client messages waiting for this process to apply them.
const ROUTED_QUEUE: usize = 1024;

const APPEND: &str = r#"
if redis.call('EXISTS', KEYS[4]) == 0 then return -1 end
local n = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], n .. '-0', 'd', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return n
"#;

const DELETE: &str = r#"
local existed = redis.call('DEL', KEYS[1])
for _, s in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('DEL', ARGV[1] .. 'ev:' .. ARGV[2] .. ':' .. s, ARGV[1] .. 'seq:' .. ARGV[2] .. ':' .. s,
    ARGV[1] .. 'fin:' .. ARGV[2] .. ':' .. s)
end
redis.call('DEL', KEYS[2], KEYS[3])
return existed
"#;

const CLAIM: &str = r#"
if ARGV[3] == '1' then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
local writer = redis.call('GET', KEYS[1])
if writer == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if writer == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"#;

/// Sessions shared by every replica through Redis.
pub struct RedisSessionStore {
    redis: Redis,
    /// The session idle timeout: every key's lifetime, renewed by activity.
    ttl_ms: u64,
    /// This process, as the notification writer.
    me: String,
    /// Sessions this process saved or loaded, to tell which of them expired.
    known: Mutex<HashSet<String>>,
    routed: Mutex<Option<mpsc::Receiver<(String, Bytes)>>>,
    append: redis::Script,
    delete: redis::Script,
    claim: redis::Script,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore").field("redis", &self.redis).field("ttl_ms", &self.ttl_ms).finish()
    }
}

fn failed(e: super::SharedError) -> StoreError {
    StoreError(e.to_string())
}

impl RedisSessionStore {
    /// A store whose sessions expire after `idle` without activity. Starts (on the current Tokio
    /// runtime) the subscription that receives client messages routed here.
    pub fn new(redis: Redis, idle: Duration) -> Arc<Self> {
        let mut me = [0u8; 8];
        let _ = getrandom::fill(&mut me);
        let (tx, rx) = mpsc::channel(ROUTED_QUEUE);
        let store = Arc::new(Self {
            ttl_ms: u64::try_from(idle.as_millis()).unwrap_or(u64::MAX).max(1000),
            me: me.iter().map(|b| format!("{b:02x}")).collect(),
            known: Mutex::new(HashSet::new()),
            routed: Mutex::new(Some(rx)),
            append: redis::Script::new(APPEND),
            delete: redis::Script::new(DELETE),
            claim: redis::Script::new(CLAIM),
            redis,
        });
        tokio::spawn(listen(store.redis.clone(), store.redis.key(&["route"]), tx));
        store
    }

    fn key(&self, kind: &str, id: &str) -> String {
        self.redis.key(&[kind, id])
    }

    fn stream_key(&self, kind: &str, id: &str, stream: &str) -> String {
        self.redis.key(&[kind, id, stream])
    }

    fn remember(&self, id: &str) {
        self.known.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_owned());
    }
}

/// Hands routed client messages (`<session id>\n<message>`) to the SDK's sessions.
async fn listen(redis: Redis, channel: String, tx: mpsc::Sender<(String, Bytes)>) {
    let mut messages = redis.subscribe(channel);
    while let Some(payload) = messages.recv().await {
        let Some(split) = payload.iter().position(|b| *b == b'\n') else { continue };
        let id = String::from_utf8_lossy(&payload[..split]).into_owned();
        if tx.send((id, Bytes::copy_from_slice(&payload[split + 1..]))).await.is_err() {
            return; // Nobody applies them any more: the server is gone.
        }
    }
}

impl SessionStore for RedisSessionStore {
    fn save(&self, record: SessionRecord) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let json = serde_json::to_string(&record).map_err(|e| StoreError(e.to_string()))?;
            let key = self.key("sess", &record.id);
            let ttl = self.ttl_ms;
            self.redis
                .run(|mut c| async move {
                    redis::cmd("SET").arg(key).arg(json).arg("PX").arg(ttl).query_async::<()>(&mut c).await
                })
                .await
                .map_err(failed)?;
            self.remember(&record.id);
            Ok(())
        })
    }

    fn load(&self, id: &str) -> StoreFuture<'_, Option<SessionRecord>> {
        let key = self.key("sess", id);
        let id = id.to_owned();
        Box::pin(async move {
            let ttl = self.ttl_ms;
            let json: Option<String> = self
                .redis
                .run(|mut c| async move { redis::cmd("GETEX").arg(key).arg("PX").arg(ttl).query_async(&mut c).await })
                .await
                .map_err(failed)?;
            let Some(json) = json else { return Ok(None) };
            let record: SessionRecord =
                serde_json::from_str(&json).map_err(|e| StoreError(format!("a stored session is unreadable: {e}")))?;
            self.remember(&id);
            Ok(Some(record))
        })
    }

    fn delete(&self, id: &str) -> StoreFuture<'_, bool> {
        let keys = [self.key("sess", id), self.key("streams", id), self.key("g", id)];
        let prefix = self.redis.key(&[""]);
        let id = id.to_owned();
        Box::pin(async move {
            self.known.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            let existed: i64 = self
                .redis
                .run(|mut c| async move {
                    self.delete.key(&keys[0]).key(&keys[1]).key(&keys[2]).arg(prefix).arg(id).invoke_async(&mut c).await
                })
                .await
                .map_err(failed)?;
            Ok(existed > 0)
        })
    }

    fn append(&self, id: &str, stream: &str, data: Bytes) -> StoreFuture<'_, u64> {
        let keys = [
            self.stream_key("seq", id, stream),
            self.stream_key("ev", id, stream),
            self.key("streams", id),
            self.key("sess", id),
        ];
        let (id, stream) = (id.to_owned(), stream.to_owned());
        Box::pin(async move {
            let ttl = self.ttl_ms;
            let n: i64 = self
                .redis
                .run(|mut c| async move {
                    let mut call = self.append.prepare_invoke();
                    for k in &keys {
                        call.key(k);
                    }
                    call.arg(data.as_ref()).arg(ttl).arg(EVENTS_PER_STREAM).arg(&stream).invoke_async(&mut c).await
                })
                .await
                .map_err(failed)?;
            u64::try_from(n).map_err(|_| StoreError(format!("no session {id}")))
        })
    }

    fn events_after(&self, id: &str, stream: &str, after: u64) -> StoreFuture<'_, Vec<(u64, Bytes)>> {
        let key = self.stream_key("ev", id, stream);
        Box::pin(async move {
            let reply: StreamRangeReply = self
                .redis
                .run(|mut c| async move {
                    redis::cmd("XRANGE").arg(key).arg(format!("{}-0", after + 1)).arg("+").query_async(&mut c).await
                })
                .await
                .map_err(failed)?;
            Ok(reply
                .ids
                .into_iter()
                .filter_map(|entry| {
                    let seq = entry.id.split('-').next()?.parse::<u64>().ok()?;
                    let data: Vec<u8> = entry.get("d")?;
                    Some((seq, Bytes::from(data)))
                })
                .collect())
        })
    }

    fn expire(&self, _idle: Duration) -> StoreFuture<'_, Vec<String>> {
        // Redis expires the keys itself; this tells which of the sessions this process holds
        // are gone (expired, or ended on another replica).
        let known: Vec<String> = self.known.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect();
        Box::pin(async move {
            if known.is_empty() {
                return Ok(Vec::new());
            }
            let keys: Vec<String> = known.iter().map(|id| self.key("sess", id)).collect();
            let exists: Vec<bool> = self
                .redis
                .run(|mut c| async move {
                    let mut pipe = redis::pipe();
                    for k in &keys {
                        pipe.exists(k);
                    }
                    pipe.query_async(&mut c).await
                })
                .await
                .map_err(failed)?;
            let gone: Vec<String> =
                known.into_iter().zip(exists).filter(|(_, exists)| !exists).map(|(id, _)| id).collect();
            let mut held = self.known.lock().unwrap_or_else(|p| p.into_inner());
            for id in &gone {
                held.remove(id);
            }
            Ok(gone)
        })
    }

    fn forget_stream(&self, id: &str, stream: &str) -> StoreFuture<'_, ()> {
        let keys =
            [self.stream_key("ev", id, stream), self.stream_key("seq", id, stream), self.stream_key("fin", id, stream)];
        let set = self.key("streams", id);
        let stream = stream.to_owned();
        Box::pin(async move {
            self.redis
                .run(|mut c| async move {
                    redis::pipe().del(&keys[..]).ignore().srem(set, stream).ignore().query_async::<()>(&mut c).await
                })
                .await
                .map_err(failed)
        })
    }

    fn release_stream(&self, id: &str, stream: &str) -> StoreFuture<'_, ()> {
        let keys =
            [self.stream_key("ev", id, stream), self.stream_key("seq", id, stream), self.stream_key("fin", id, stream)];
        let ttl = i64::try_from(RELEASED_TTL.as_millis()).unwrap_or(i64::MAX);
        Box::pin(async move {
            self.redis
                .run(|mut c| async move {
                    let mut pipe = redis::pipe();
                    for k in &keys {
                        pipe.pexpire(k, ttl).ignore();
                    }
                    pipe.query_async::<()>(&mut c).await
                })
                .await
                .map_err(failed)
        })
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn finish_stream(&self, id: &str, stream: &str) -> StoreFuture<'_, ()> {
        let key = self.stream_key("fin", id, stream);
        Box::pin(async move {
            let ttl = self.ttl_ms;
            self.redis
                .run(|mut c| async move {
                    redis::cmd("SET").arg(key).arg(1).arg("PX").arg(ttl).query_async::<()>(&mut c).await
                })
                .await
                .map_err(failed)
        })
    }

    fn is_finished(&self, id: &str, stream: &str) -> StoreFuture<'_, bool> {
        let key = self.stream_key("fin", id, stream);
        Box::pin(async move {
            self.redis
                .run(|mut c| async move { redis::cmd("EXISTS").arg(key).query_async(&mut c).await })
                .await
                .map_err(failed)
        })
    }

    fn route(&self, id: &str, message: Bytes) -> StoreFuture<'_, ()> {
        let channel = self.redis.key(&["route"]);
        let mut payload = Vec::with_capacity(id.len() + 1 + message.len());
        payload.extend_from_slice(id.as_bytes());
        payload.push(b'\n');
        payload.extend_from_slice(&message);
        Box::pin(async move {
            self.redis
                .run(|mut c| async move { redis::cmd("PUBLISH").arg(channel).arg(payload).query_async::<()>(&mut c).await })
                .await
                .map_err(failed)
        })
    }

    fn routed(&self) -> Option<mpsc::Receiver<(String, Bytes)>> {
        self.routed.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn claim_unsolicited(&self, id: &str, take: bool) -> StoreFuture<'_, bool> {
        let key = self.key("g", id);
        let ttl = i64::try_from(WRITER_TTL.as_millis()).unwrap_or(i64::MAX);
        Box::pin(async move {
            let claimed: i64 = self
                .redis
                .run(|mut c| async move {
                    self.claim
                        .key(key)
                        .arg(&self.me)
                        .arg(ttl)
                        .arg(if take { "1" } else { "0" })
                        .invoke_async(&mut c)
                        .await
                })
                .await
                .map_err(failed)?;
            Ok(claimed == 1)
        })
    }
}
