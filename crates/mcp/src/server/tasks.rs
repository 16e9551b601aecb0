//! Task runtime: records of long-running tool calls, kept in a [`TaskStore`] (in memory, with
//! a time to live, or shared by replicas), and the machinery that runs a handler in the
//! background, parks it while it waits for client input, and settles it as completed, failed or
//! cancelled.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use switchboard_protocol::mrtr::{InputRequests, InputResponses};
use switchboard_protocol::tasks::{ModernTask, Task, TaskStatus};
use switchboard_protocol::{ErrorObject, ResultType};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How long tasks are kept when the client does not say. Default 10 minutes.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(600);
/// The longest time to live a client may ask for: 1 hour.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(3600);
/// Tasks that may run at once in one process; more are refused until some finish.
pub(crate) const MAX_RUNNING: usize = 1000;
/// The polling interval suggested to clients.
pub(crate) const POLL_INTERVAL_MS: u64 = 500;

/// The durable state of one task.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    /// The id (128 random bits, hex).
    pub id: String,
    /// Who may see it: the legacy session id, or "" for modern/stdio requests.
    pub owner: String,
    /// The status.
    pub status: TaskStatus,
    /// A human-readable status.
    pub status_message: Option<String>,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// Last change, ms since the epoch.
    pub updated_ms: u64,
    /// Lifetime after creation, ms.
    pub ttl_ms: u64,
    /// The result, encoded for the request's revision (`completed`).
    pub result: Option<Value>,
    /// The error (`failed`).
    pub error: Option<ErrorObject>,
    /// Outstanding input requests (`input_required`).
    pub input_requests: Option<InputRequests>,
}

impl TaskRecord {
    /// The legacy wire form.
    pub fn to_legacy(&self) -> Task {
        Task {
            task_id: self.id.clone(),
            status: self.status,
            status_message: self.status_message.clone(),
            created_at: iso8601(self.created_ms),
            last_updated_at: iso8601(self.updated_ms),
            ttl: Some(self.ttl_ms),
            poll_interval: Some(POLL_INTERVAL_MS),
        }
    }

    /// The modern wire form; `created` is the shape answered on creation (no details).
    pub fn to_modern(&self, created: bool) -> ModernTask {
        ModernTask {
            result_type: if created { ResultType::Task } else { ResultType::Complete },
            task_id: self.id.clone(),
            status: self.status,
            status_message: self.status_message.clone(),
            created_at: iso8601(self.created_ms),
            last_updated_at: iso8601(self.updated_ms),
            ttl_ms: Some(self.ttl_ms),
            poll_interval_ms: Some(POLL_INTERVAL_MS),
            result: if created { None } else { self.result.clone() },
            error: if created { None } else { self.error.clone() },
            input_requests: if created || self.status != TaskStatus::InputRequired {
                None
            } else {
                self.input_requests.clone()
            },
            meta: None,
        }
    }

    fn expired(&self, now: u64) -> bool {
        now > self.created_ms.saturating_add(self.ttl_ms) && self.status.is_terminal()
    }
}

/// What a [`TaskStore`] operation returns.
pub type TaskFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, TaskStoreError>> + Send + 'a>>;

/// A task store that could not do what was asked (its backend is unreachable, say). The message
/// never carries a credential.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TaskStoreError(pub String);

/// A message for the process running a task, sent by whichever process the client reached.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TaskSignal {
    /// Stop it (the record already says `cancelled`).
    Cancel,
    /// Input responses from `tasks/update`, by key, as the client sent them.
    Input(serde_json::Map<String, Value>),
}

/// Stores task records. The in-memory implementation is [`InMemoryTaskStore`]; a shared one lets
/// any replica answer `tasks/*` and keeps records across a restart.
pub trait TaskStore: Send + Sync + 'static {
    /// Saves a record (creating or replacing it). A record that has ended is never replaced:
    /// the first end wins (a cancellation is not undone by a result arriving after it).
    fn put(&self, record: TaskRecord) -> TaskFuture<'_, ()>;
    /// Loads a record; `None` if unknown or expired.
    fn get(&self, id: &str) -> TaskFuture<'_, Option<TaskRecord>>;
    /// The live records of one owner, oldest first.
    fn list(&self, owner: &str) -> TaskFuture<'_, Vec<TaskRecord>>;
    /// Whether other processes share these records (and may be running the task).
    fn is_shared(&self) -> bool {
        false
    }
    /// Sends `signal` to whichever process runs task `id` (a store of one process has nobody
    /// else to tell).
    fn signal(&self, _id: &str, _signal: TaskSignal) -> TaskFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    /// The signals other processes send to tasks, taken once by the server that runs them.
    fn signals(&self) -> Option<tokio::sync::mpsc::Receiver<(String, TaskSignal)>> {
        None
    }
}

/// Tasks in this process's memory; terminal tasks are dropped once their TTL passes.
#[derive(Debug, Default)]
pub struct InMemoryTaskStore {
    records: Mutex<HashMap<String, TaskRecord>>,
}

impl InMemoryTaskStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TaskRecord>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl TaskStore for InMemoryTaskStore {
    fn put(&self, record: TaskRecord) -> TaskFuture<'_, ()> {
        let mut map = self.lock();
        let now = now_ms();
        map.retain(|_, r| !r.expired(now));
        if !map.get(&record.id).is_some_and(|r| r.status.is_terminal()) {
            map.insert(record.id.clone(), record);
        }
        Box::pin(async { Ok(()) })
    }

    fn get(&self, id: &str) -> TaskFuture<'_, Option<TaskRecord>> {
        let found = self.lock().get(id).filter(|r| !r.expired(now_ms())).cloned();
        Box::pin(async move { Ok(found) })
    }

    fn list(&self, owner: &str) -> TaskFuture<'_, Vec<TaskRecord>> {
        let now = now_ms();
        let mut out: Vec<TaskRecord> =
            self.lock().values().filter(|r| r.owner == owner && !r.expired(now)).cloned().collect();
        out.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.id.cmp(&b.id)));
        Box::pin(async move { Ok(out) })
    }
}

/// The in-process half of running tasks: cancellation and input wake-ups.
#[derive(Default)]
pub(crate) struct TaskRuntime {
    live: Mutex<HashMap<String, Arc<LiveTask>>>,
    /// Whether signals from other processes are being applied.
    listening: AtomicBool,
}

#[derive(Debug)]
pub(crate) struct LiveTask {
    pub(crate) cancel: CancellationToken,
    pub(crate) input: Notify,
    pub(crate) answers: Mutex<InputResponses>,
    pub(crate) done: Notify,
}

impl LiveTask {
    /// Cancels the task, or hands it the client's input responses.
    pub(crate) fn apply(&self, signal: TaskSignal) {
        match signal {
            TaskSignal::Cancel => self.cancel.cancel(),
            TaskSignal::Input(responses) => {
                // Answers that are not input responses are left out, as if never sent: the
                // task then still lists them as outstanding.
                let answers = responses.into_iter().filter_map(|(k, v)| Some((k, serde_json::from_value(v).ok()?)));
                self.answers.lock().unwrap_or_else(|e| e.into_inner()).extend(answers);
                self.input.notify_waiters();
            }
        }
    }
}

impl std::fmt::Debug for TaskRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRuntime").finish_non_exhaustive()
    }
}

impl TaskRuntime {
    pub(crate) fn start(&self, id: &str) -> Arc<LiveTask> {
        let live = Arc::new(LiveTask {
            cancel: CancellationToken::new(),
            input: Notify::new(),
            answers: Mutex::new(InputResponses::new()),
            done: Notify::new(),
        });
        self.live.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_owned(), live.clone());
        live
    }

    /// How many tasks are running.
    pub(crate) fn running(&self) -> usize {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<LiveTask>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Applies the store's signals to the tasks running here, from the first task on (a
    /// process that never runs a task has nothing to receive).
    pub(crate) fn listen(self: &Arc<Self>, store: &Arc<dyn TaskStore>) {
        if self.listening.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(mut signals) = store.signals() else { return };
        let runtime = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some((id, signal)) = signals.recv().await {
                let Some(runtime) = runtime.upgrade() else { return };
                // A signal for a task not running here was meant for another process.
                if let Some(live) = runtime.get(&id) {
                    live.apply(signal);
                }
            }
        });
    }

    pub(crate) fn finish(&self, id: &str) {
        if let Some(live) = self.live.lock().unwrap_or_else(|p| p.into_inner()).remove(id) {
            live.done.notify_waiters();
        }
    }
}

/// A new task id.
pub(crate) fn new_task_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Fall back to time-derived ids; unguessability is then not guaranteed.
        bytes[..16].copy_from_slice(&u128::from(now_ms()).to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

/// Formats ms since the epoch as ISO 8601 UTC (`2025-11-25T10:30:00.000Z`).
pub(crate) fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso8601_formats_utc() {
        assert_eq!(super::iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::iso8601(1_764_066_600_123), "2025-11-25T10:30:00.123Z");
    }
}
