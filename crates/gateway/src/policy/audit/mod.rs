//! The audit log: one `tool_calls` row per tool call — those the tool layers saw (rate-limited,
//! timed out, failed or successful) and those the catalog refused before any layer ran
//! (denied, unknown tool, invalid arguments) — written off the hot path.
//!
//! A call queues its row before its answer leaves, through a bounded channel: when the channel is
//! full (the database is down or slow), calls wait for room rather than drop rows. A writer
//! inserts rows in batches, retrying a failed batch with backoff until the database returns; on
//! shutdown [`AuditLog::close`] stops intake and writes everything queued. SQLite is written by a
//! thread of its own ([`sqlite_writer`]); PostgreSQL and MySQL through sqlx ([`store`]).
//!
//! **Invariant:** arguments are written with secret values replaced by `"***"`; a principal is
//! written by id, never by credential.

mod row;
mod sqlite_writer;
mod store;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::protocol::ErrorCode;
use switchboard_mcp::server::{HandlerError, Refusal, RefusalObserver, RefusedCall, ToolRequest};
use tokio::sync::{mpsc, oneshot};
use tower::Service;

pub use self::row::{AuditRow, Columns, COLUMN_NAMES};
pub use self::store::{query, AuditQuery};
use super::around::{Guardrail, Next, Outcome};
use super::metrics::Metrics;
use crate::config::{AuditSection, Source, SourceKind, DEFAULT_AUDIT_QUEUE};
use crate::source::sql::{self, Database, DbError};

/// Rows written per batch, at most.
const BATCH: usize = 1000;
/// How long a small batch waits for more rows before it is written.
const LINGER: Duration = Duration::from_millis(5);
/// The longest wait between retries of a failed batch.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the writer reads: rows, and at shutdown the order to write what is queued and stop
/// (layers of a catalog still being served hold senders, so the channel never closes itself).
#[derive(Debug)]
enum Entry {
    /// A row, and whom to tell once it is written (`audit.wait_for_write`).
    Row(AuditRow, Option<oneshot::Sender<()>>),
    Close,
}

/// How long a call waits for its row to be written (`audit.wait_for_write`) before it is
/// answered anyway (the row stays queued and is written when the database answers).
const WRITE_WAIT: Duration = Duration::from_secs(5);

/// Where rows are queued: cheap to clone, one per layer.
#[derive(Debug, Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Entry>,
    /// Wait until the row is in the database, not only queued.
    wait_for_write: bool,
}

impl AuditSink {
    /// Queues `row`, waiting for room when the queue is full (back-pressure, never a drop); with
    /// `audit.wait_for_write`, also until it is written (up to 5 s), so a process killed after
    /// answering has not lost its row.
    pub async fn send(&self, row: AuditRow) {
        let (ack, written) = if self.wait_for_write {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        if self.tx.send(Entry::Row(row, ack)).await.is_err() {
            tracing::error!(target: "switchboard::audit", "the audit log is closed; a call was not recorded");
            return;
        }
        if let Some(written) = written {
            if tokio::time::timeout(WRITE_WAIT, written).await.is_err() {
                tracing::warn!(target: "switchboard::audit", "an audit row is not written after 5 s; answering anyway (it stays queued)");
            }
        }
    }
}

/// The audit log's intake and its writer.
#[derive(Debug)]
pub struct AuditLog {
    tx: std::sync::Mutex<Option<AuditSink>>,
    /// Fires once the writer has written everything and stopped.
    done: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
    database: Database,
}

impl AuditLog {
    /// Opens (and migrates) the audit database of `section` and starts the writer.
    pub async fn open(section: &AuditSection, data_dir: &Path, metrics: Arc<Metrics>) -> Result<Self, DbError> {
        let kind = match section.url() {
            Some(u) if u.starts_with("mysql://") || u.starts_with("mariadb://") => SourceKind::Mysql,
            Some(_) => SourceKind::Postgres,
            None => SourceKind::Sqlite,
        };
        let path = section.path.clone().unwrap_or_else(|| "audit.db".into());
        let source = Source {
            kind,
            path: Some(path.clone()),
            url: section.url().map(str::to_owned),
            init: Vec::new(),
            max_connections: Some(2),
            base_url: None,
            headers: Default::default(),
            timeout_ms: None,
            max_response_bytes: None,
            allow_networks: Vec::new(),
        };
        let database = sql::connect("audit", &source, data_dir, data_dir).await?;
        store::migrate(&database).await?;
        let (tx, rx) = mpsc::channel(section.queue.unwrap_or(DEFAULT_AUDIT_QUEUE));
        let sink = AuditSink { tx, wait_for_write: section.wait_for_write };
        let rows = Rows::new(rx);
        let done = if kind == SourceKind::Sqlite {
            sqlite_writer::start(data_dir.join(path), rows, metrics)
                .map_err(|e| DbError { context: "starting the audit writer".into(), source: sqlx::Error::Io(e) })?
        } else {
            let (done_tx, done_rx) = oneshot::channel();
            let db = database.clone();
            tokio::spawn(async move {
                write_rows(db, rows, metrics).await;
                let _ = done_tx.send(());
            });
            done_rx
        };
        Ok(Self { tx: std::sync::Mutex::new(Some(sink)), done: tokio::sync::Mutex::new(Some(done)), database })
    }

    /// Where rows go (`None` once closed).
    pub fn sender(&self) -> Option<AuditSink> {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The audit database (for `switchboard audit`, and readiness).
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Stops taking rows and waits, up to `limit`, until every row queued so far is written.
    /// Rows queued after this are refused (and logged as lost).
    pub async fn close(&self, limit: Duration) -> bool {
        let sink = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(done) = self.done.lock().await.take() else { return true };
        let closing = async {
            if let Some(sink) = sink {
                let _ = sink.tx.send(Entry::Close).await;
            }
            let _ = done.await;
        };
        tokio::time::timeout(limit, closing).await.is_ok()
    }
}

/// The writer's end of the queue: batches of rows until the order to close.
pub(super) struct Rows {
    rx: mpsc::Receiver<Entry>,
    closing: bool,
    /// Callers waiting for rows of the current batch to be written.
    acks: Vec<oneshot::Sender<()>>,
}

impl Rows {
    fn new(rx: mpsc::Receiver<Entry>) -> Self {
        Self { rx, closing: false, acks: Vec::new() }
    }

    /// The current batch is written: its waiting callers may answer.
    pub(super) fn written(&mut self) {
        for ack in self.acks.drain(..) {
            let _ = ack.send(());
        }
    }

    fn push(&mut self, batch: &mut Vec<AuditRow>, row: AuditRow, ack: Option<oneshot::Sender<()>>) {
        batch.push(row);
        self.acks.extend(ack);
    }

    /// Rows waiting.
    pub(super) fn len(&self) -> usize {
        self.rx.len()
    }

    /// Moves what is queued (up to a batch) into `batch` without waiting; stops at the order
    /// to close.
    pub(super) fn fill(&mut self, batch: &mut Vec<AuditRow>) {
        while batch.len() < BATCH && !self.closing {
            match self.rx.try_recv() {
                Ok(Entry::Row(row, ack)) => self.push(batch, row, ack),
                Ok(Entry::Close) => self.closing = true,
                Err(_) => break,
            }
        }
    }

    fn take(&mut self, entry: Option<Entry>, batch: &mut Vec<AuditRow>) -> bool {
        match entry {
            Some(Entry::Row(row, ack)) => self.push(batch, row, ack),
            Some(Entry::Close) | None => self.closing = true,
        }
        self.fill(batch);
        !batch.is_empty()
    }

    /// Waits (blocking the thread) for the next batch; `false` when there is nothing more.
    pub(super) fn next_blocking(&mut self, batch: &mut Vec<AuditRow>) -> bool {
        if self.closing {
            return false;
        }
        let entry = self.rx.blocking_recv();
        self.take(entry, batch)
    }

    /// Waits for the next batch; `false` when there is nothing more.
    async fn next(&mut self, batch: &mut Vec<AuditRow>) -> bool {
        if self.closing {
            return false;
        }
        let entry = self.rx.recv().await;
        self.take(entry, batch)
    }

    /// Whether the order to close was read (small batches no longer wait to fill).
    pub(super) fn closing(&self) -> bool {
        self.closing
    }
}

/// Writes queued rows in batches through sqlx until the order to close.
async fn write_rows(db: Database, mut rows: Rows, metrics: Arc<Metrics>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rows.next(&mut batch).await {
        if batch.len() < BATCH / 4 && !rows.closing() {
            tokio::time::sleep(LINGER).await;
            rows.fill(&mut batch);
        }
        metrics.audit_queued(i64::try_from(rows.len()).unwrap_or(i64::MAX));
        let mut backoff = Duration::from_millis(100);
        loop {
            match store::insert(&db, &batch).await {
                Ok(()) => break,
                Err(e) => {
                    metrics.audit_write_failed();
                    tracing::warn!(target: "switchboard::audit", error = %e, rows = batch.len(), queued = rows.len(), "audit rows not written yet; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        rows.written();
        batch.clear();
    }
}

/// Queues one row per call of a tool.
#[derive(Debug, Clone)]
pub struct Audit {
    tool: Arc<str>,
    sink: AuditSink,
    secret: Arc<HashSet<String>>,
}

impl Audit {
    /// Audits `tool` into `sink`, with the values of `secret` arguments redacted.
    pub fn new(tool: &str, sink: AuditSink, secret: Arc<HashSet<String>>) -> Self {
        Self { tool: tool.into(), sink, secret }
    }
}

impl Guardrail for Audit {
    const NAME: &'static str = "audit";

    fn call<S>(self, request: ToolRequest, next: Next<S>) -> impl Future<Output = Outcome> + Send
    where
        S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        let started = Instant::now();
        let ctx = &request.ctx;
        let mut row = AuditRow {
            at: jiff::Timestamp::now(),
            principal: ctx.principal().clone(),
            request_id: ctx.request_id().clone(),
            correlation_id: ctx.correlation_id().map(Arc::from),
            trace_id: ctx.trace_parent().map(|t| t.trace_id),
            tool: self.tool.clone(),
            arguments: redacted(request.args.as_object(), &self.secret),
            outcome: "success",
            error_kind: None,
            duration_ms: 0,
            result_bytes: 0,
        };
        async move {
            let outcome = next.run(request).await;
            row.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            (row.outcome, row.error_kind) = classify(&outcome);
            if let Ok(result) = &outcome {
                let mut size = row::ByteCount::default();
                if serde_json::to_writer(&mut size, result).is_ok() {
                    row.result_bytes = i64::try_from(size.0).unwrap_or(i64::MAX);
                }
            }
            // The answer leaves only once its row is queued: a full queue slows callers down
            // rather than losing their rows.
            self.sink.send(row).await;
            outcome
        }
    }
}

/// The outcome column and error kind of a call that reached the tool layers.
fn classify(outcome: &Outcome) -> (&'static str, Option<&'static str>) {
    match outcome {
        Ok(result) if result.is_error == Some(true) => ("error", Some("tool_error")),
        Ok(_) => ("success", None),
        Err(e) if e.error_code() == Some(ErrorCode::RATE_LIMITED) => ("rate_limited", Some("rate_limited")),
        Err(e) => match e.kind_name() {
            "input_required" | "task" => ("success", None),
            "timeout" => ("timeout", Some("timeout")),
            "unavailable" => ("error", Some("unavailable")),
            "tool" => ("error", Some("tool_error")),
            _ => ("error", Some("protocol_error")),
        },
    }
}

/// Records the calls a catalog refused before any layer ran. One per catalog snapshot: it
/// knows that snapshot's secret parameters.
#[derive(Debug)]
pub struct AuditRefusals {
    sink: AuditSink,
    /// Per tool; tools not listed (unknown ones) use `default`.
    secret: HashMap<String, Arc<HashSet<String>>>,
    default: Arc<HashSet<String>>,
}

impl AuditRefusals {
    /// Refusals into `sink`, redacting each tool's `secret` parameters (`default` for names
    /// that are no tool).
    pub fn new(sink: AuditSink, secret: HashMap<String, Arc<HashSet<String>>>, default: Arc<HashSet<String>>) -> Self {
        Self { sink, secret, default }
    }
}

impl RefusalObserver for AuditRefusals {
    fn refused(&self, call: RefusedCall<'_>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let secret = self.secret.get(call.tool).unwrap_or(&self.default);
        let (outcome, kind) = match call.refusal {
            Refusal::Denied => ("denied", "denied"),
            Refusal::UnknownTool => ("error", "unknown_tool"),
            Refusal::InvalidArguments => ("error", "invalid_arguments"),
        };
        let row = AuditRow {
            at: jiff::Timestamp::now(),
            principal: call.principal.clone(),
            request_id: call.request_id.clone(),
            correlation_id: call.origin.map(|o| o.request_id.clone()),
            trace_id: call.origin.and_then(|o| o.trace_parent).map(|t| t.trace_id),
            tool: call.tool.into(),
            arguments: redacted(call.arguments, secret),
            outcome,
            error_kind: Some(kind),
            duration_ms: 0,
            result_bytes: 0,
        };
        let sink = self.sink.clone();
        Box::pin(async move { sink.send(row).await })
    }
}

/// The arguments as JSON, with the values of `secret` names replaced by `"***"`.
fn redacted(args: &Map<String, Value>, secret: &HashSet<String>) -> String {
    if secret.is_empty() || !args.keys().any(|k| secret.contains(k)) {
        return serde_json::to_string(args).unwrap_or_default();
    }
    let masked: Map<String, Value> = args
        .iter()
        .map(|(k, v)| (k.clone(), if secret.contains(k) { Value::String("***".into()) } else { v.clone() }))
        .collect();
    Value::Object(masked).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_arguments_are_masked_and_others_kept() {
        let args: Map<String, Value> =
            serde_json::json!({"card": "4111", "amount": 5}).as_object().cloned().unwrap_or_default();
        let secret: HashSet<String> = ["card".to_owned()].into();
        let text = redacted(&args, &secret);
        assert!(text.contains("\"card\":\"***\"") && text.contains("\"amount\":5") && !text.contains("4111"), "{text}");
        assert_eq!(redacted(&args, &HashSet::new()), Value::Object(args.clone()).to_string());
    }
}
