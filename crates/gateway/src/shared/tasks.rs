//! Tasks in Redis, so any replica answers `tasks/*` and a task's record outlives the process
//! that ran it: a result can be fetched after a restart, and a task whose process died is
//! reported failed instead of working forever.
//!
//! Keys, under the prefix: `task:<id>` (a hash: `status`, and `record`, the JSON), `tlease:<id>`
//! (present while the process running the task lives: renewed every [`LEASE_RENEW`]),
//! `towner:<owner>` (the owner's task ids, scored by creation time, for `tasks/list`). Signals
//! (cancel, input responses) for a task running elsewhere go out on `task-signal`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_mcp::server::{TaskFuture, TaskRecord, TaskSignal, TaskStore, TaskStoreError};
use switchboard_protocol::tasks::TaskStatus;
use tokio::sync::mpsc;

use super::Redis;

/// How often this process renews the leases of the tasks it runs.
const LEASE_RENEW: Duration = Duration::from_secs(2);
/// How long a lease lasts unrenewed: three missed renewals mean the process is gone.
const LEASE: Duration = Duration::from_secs(6);
/// How long a record stays after its time to live ran out while it was still running (its
/// runner stops it at that point and writes the end).
const RUNNING_GRACE_MS: u64 = 60_000;
/// How long an owner's index lives after its last task was added: longer than any task (the
/// SDK caps time to live at an hour).
const INDEX_TTL_MS: u64 = 3_600_000 + RUNNING_GRACE_MS;
/// Signals waiting for this process to apply them.
const SIGNAL_QUEUE: usize = 1024;

/// Saves a record unless the stored one has ended (the first end wins); keeps the owner's index
/// and, for a running task, the lease.
const PUT: &str = r#"
local s = redis.call('HGET', KEYS[1], 'status')
if s == 'completed' or s == 'failed' or s == 'cancelled' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'record', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
if ARGV[7] == '1' then redis.call('SET', KEYS[3], '1', 'PX', ARGV[8]) else redis.call('DEL', KEYS[3]) end
return 1
"#;

/// Task records shared by every replica through Redis.
pub struct RedisTaskStore {
    redis: Redis,
    /// The tasks this process runs (their leases are renewed here).
    running: Arc<Mutex<HashSet<String>>>,
    signals: Mutex<Option<mpsc::Receiver<(String, TaskSignal)>>>,
    put: redis::Script,
}

impl std::fmt::Debug for RedisTaskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTaskStore").field("redis", &self.redis).finish_non_exhaustive()
    }
}

fn failed(e: super::SharedError) -> TaskStoreError {
    TaskStoreError(e.to_string())
}

fn now_ms() -> u64 {
    ms(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default())
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RedisTaskStore {
    /// A store on `redis`. Starts (on the current Tokio runtime) the lease renewal of this
    /// process's tasks and the subscription that receives signals for them.
    pub fn new(redis: Redis) -> Self {
        let running = Arc::new(Mutex::new(HashSet::new()));
        tokio::spawn(renew(redis.clone(), Arc::downgrade(&running)));
        let (tx, rx) = mpsc::channel(SIGNAL_QUEUE);
        tokio::spawn(listen(redis.clone(), redis.key(&["task-signal"]), tx));
        Self { redis, running, signals: Mutex::new(Some(rx)), put: redis::Script::new(PUT) }
    }

    fn runs_here(&self, id: &str) -> bool {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).contains(id)
    }

    /// Loads a record as stored, with whether its runner's lease is held.
    async fn load(&self, id: &str) -> Result<Option<(TaskRecord, bool)>, TaskStoreError> {
        let (key, lease) = (self.redis.key(&["task", id]), self.redis.key(&["tlease", id]));
        let (json, leased): (Option<String>, bool) = self
            .redis
            .run(|mut c| async move {
                redis::pipe().cmd("HGET").arg(key).arg("record").cmd("EXISTS").arg(lease).query_async(&mut c).await
            })
            .await
            .map_err(failed)?;
        let Some(json) = json else { return Ok(None) };
        let record: TaskRecord =
            serde_json::from_str(&json).map_err(|e| TaskStoreError(format!("a stored task is unreadable: {e}")))?;
        Ok(Some((record, leased)))
    }
}

/// Renews the leases of the tasks this process runs, until the store is dropped.
async fn renew(redis: Redis, running: std::sync::Weak<Mutex<HashSet<String>>>) {
    loop {
        tokio::time::sleep(LEASE_RENEW).await;
        let Some(running) = running.upgrade() else { return };
        let ids: Vec<String> = running.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect();
        drop(running);
        if ids.is_empty() {
            continue;
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("SET").arg(redis.key(&["tlease", id])).arg("1").arg("PX").arg(ms(LEASE)).ignore();
        }
        if let Err(e) = redis.run(|mut c| async move { pipe.query_async::<()>(&mut c).await }).await {
            tracing::warn!(target: "switchboard::shared", error = %e, tasks = ids.len(), "could not renew task leases");
        }
    }
}

/// Hands signals (`<task id>\n<signal JSON>`) to the SDK's task runtime.
async fn listen(redis: Redis, channel: String, tx: mpsc::Sender<(String, TaskSignal)>) {
    let mut messages = redis.subscribe(channel);
    while let Some(payload) = messages.recv().await {
        let Some(split) = payload.iter().position(|b| *b == b'\n') else { continue };
        let id = String::from_utf8_lossy(&payload[..split]).into_owned();
        let Ok(signal) = serde_json::from_slice::<TaskSignal>(&payload[split + 1..]) else { continue };
        // Until this process runs a task nobody reads these, and they were meant for others.
        if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send((id, signal)) {
            return; // Nobody applies them any more: the server is gone.
        }
    }
}

impl TaskStore for RedisTaskStore {
    fn put(&self, record: TaskRecord) -> TaskFuture<'_, ()> {
        Box::pin(async move {
            let json = serde_json::to_string(&record).map_err(|e| TaskStoreError(e.to_string()))?;
            let status = serde_json::to_value(record.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let terminal = record.status.is_terminal();
            // Only the process running a task writes a state that has not ended.
            {
                let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
                if terminal {
                    running.remove(&record.id);
                } else {
                    running.insert(record.id.clone());
                }
            }
            let now = now_ms();
            let ends = record.created_ms.saturating_add(record.ttl_ms);
            let keep = if terminal { ends.saturating_sub(now) } else { ends.saturating_sub(now) + RUNNING_GRACE_MS };
            let keys = [
                self.redis.key(&["task", &record.id]),
                self.redis.key(&["towner", &record.owner]),
                self.redis.key(&["tlease", &record.id]),
            ];
            // The index lives as long as the longest task it could name.
            let index_ttl = INDEX_TTL_MS;
            self.redis
                .run(|mut c| async move {
                    self.put
                        .key(&keys[0])
                        .key(&keys[1])
                        .key(&keys[2])
                        .arg(status)
                        .arg(json)
                        .arg(keep.max(1000))
                        .arg(record.created_ms)
                        .arg(&record.id)
                        .arg(index_ttl)
                        .arg(if terminal { "0" } else { "1" })
                        .arg(ms(LEASE))
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await
                .map_err(failed)?;
            Ok(())
        })
    }

    fn get(&self, id: &str) -> TaskFuture<'_, Option<TaskRecord>> {
        let id = id.to_owned();
        Box::pin(async move {
            let Some((mut record, leased)) = self.load(&id).await? else { return Ok(None) };
            if record.status.is_terminal() || leased || self.runs_here(&id) {
                return Ok(Some(record));
            }
            // Nobody runs it any more: the process that did stopped before it ended.
            record.status = TaskStatus::Failed;
            record.status_message = Some("The server running this task stopped before it finished.".into());
            record.error = Some(switchboard_protocol::ErrorObject::internal(
                "the server running this task stopped before it finished; start the operation again",
            ));
            record.input_requests = None;
            record.updated_ms = now_ms();
            self.put(record).await?;
            // Whatever was stored first (this end, or one written meanwhile) is the answer.
            Ok(self.load(&id).await?.map(|(r, _)| r))
        })
    }

    fn list(&self, owner: &str) -> TaskFuture<'_, Vec<TaskRecord>> {
        let index = self.redis.key(&["towner", owner]);
        Box::pin(async move {
            let key = index.clone();
            let ids: Vec<String> = self
                .redis
                .run(|mut c| async move { redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).query_async(&mut c).await })
                .await
                .map_err(failed)?;
            let mut out = Vec::with_capacity(ids.len());
            let mut gone = Vec::new();
            for id in ids {
                match self.get(&id).await? {
                    Some(record) => out.push(record),
                    None => gone.push(id),
                }
            }
            if !gone.is_empty() {
                // Expired records leave the index too.
                let _ = self
                    .redis
                    .run(
                        |mut c| async move { redis::cmd("ZREM").arg(index).arg(gone).query_async::<i64>(&mut c).await },
                    )
                    .await;
            }
            out.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.id.cmp(&b.id)));
            Ok(out)
        })
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn signal(&self, id: &str, signal: TaskSignal) -> TaskFuture<'_, ()> {
        let channel = self.redis.key(&["task-signal"]);
        let mut payload = format!("{id}\n").into_bytes();
        Box::pin(async move {
            serde_json::to_writer(&mut payload, &signal).map_err(|e| TaskStoreError(e.to_string()))?;
            self.redis
                .run(|mut c| async move { redis::cmd("PUBLISH").arg(channel).arg(payload).query_async::<i64>(&mut c).await })
                .await
                .map_err(failed)?;
            Ok(())
        })
    }

    fn signals(&self) -> Option<mpsc::Receiver<(String, TaskSignal)>> {
        self.signals.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}
