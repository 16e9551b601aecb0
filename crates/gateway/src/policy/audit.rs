//! The audit log: one `tool_calls` row per tool call that reaches the tool layers (rate-limited,
//! timed out, failed or successful), written off the hot path.
//!
//! A call queues its row before its answer leaves, through a bounded channel: when the channel is
//! full (the database is down or slow), calls wait for room rather than drop rows. A writer task
//! inserts rows in batches, retrying a failed batch with backoff until the database returns; on
//! shutdown [`AuditLog::close`] stops intake and writes everything queued.
//!
//! **Invariant:** arguments are written with secret values replaced by `"***"`; a principal is
//! written by id, never by credential.

use std::collections::HashSet;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::protocol::ErrorCode;
use switchboard_mcp::server::{HandlerError, ToolRequest};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tower::Service;

use super::around::{Guardrail, Next, Outcome};

use super::metrics::Metrics;
use crate::config::{AuditSection, Source, SourceKind, DEFAULT_AUDIT_QUEUE};
use crate::source::sql::{self, Database, DbError};

/// Rows written per statement, at most.
const BATCH: usize = 1000;
/// How long a small batch waits for more rows before it is written.
const LINGER: Duration = Duration::from_millis(5);
/// The longest wait between retries of a failed batch.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One audited call.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    /// Random, unique.
    pub id: String,
    /// When the call started (RFC 3339, UTC).
    pub at: String,
    /// The principal's id (empty: anonymous).
    pub principal: String,
    /// The JSON-RPC request id.
    pub request_id: String,
    /// The tool.
    pub tool: String,
    /// The arguments, secrets redacted, as JSON.
    pub arguments: String,
    /// `success`, `error`, `rate_limited` or `timeout`.
    pub outcome: String,
    /// What kind of error, when it failed.
    pub error_kind: Option<String>,
    /// How long the call took.
    pub duration_ms: i64,
    /// The size of the result's JSON.
    pub result_bytes: i64,
}

/// The audit log's intake and its writer.
#[derive(Debug)]
pub struct AuditLog {
    tx: std::sync::Mutex<Option<mpsc::Sender<AuditRow>>>,
    writer: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    database: Database,
}

impl AuditLog {
    /// Opens (and migrates) the audit database of `section` and starts the writer.
    pub async fn open(section: &AuditSection, data_dir: &Path, metrics: Arc<Metrics>) -> Result<Self, DbError> {
        let kind = match section.url.as_deref() {
            Some(u) if u.starts_with("mysql://") || u.starts_with("mariadb://") => SourceKind::Mysql,
            Some(_) => SourceKind::Postgres,
            None => SourceKind::Sqlite,
        };
        let source = Source {
            kind,
            path: Some(section.path.clone().unwrap_or_else(|| "audit.db".into())),
            url: section.url.clone(),
            init: Vec::new(),
            max_connections: Some(2),
            base_url: None,
            headers: Default::default(),
            timeout_ms: None,
            max_response_bytes: None,
        };
        let database = sql::connect("audit", &source, data_dir, data_dir).await?;
        migrate(&database).await?;
        let (tx, rx) = mpsc::channel(section.queue.unwrap_or(DEFAULT_AUDIT_QUEUE));
        let writer = tokio::spawn(write_rows(database.clone(), rx, metrics));
        Ok(Self { tx: std::sync::Mutex::new(Some(tx)), writer: tokio::sync::Mutex::new(Some(writer)), database })
    }

    /// Where rows go (`None` once closed).
    pub fn sender(&self) -> Option<mpsc::Sender<AuditRow>> {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The audit database (for `switchboard audit`, and readiness).
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Stops taking rows and waits, up to `limit`, until every queued row is written. Layers
    /// still holding a sender keep the channel open; they are dropped with the last catalog.
    pub async fn close(&self, limit: Duration) -> bool {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(writer) = self.writer.lock().await.take() else { return true };
        tokio::time::timeout(limit, writer).await.is_ok()
    }
}

async fn migrate(db: &Database) -> Result<(), DbError> {
    if db.kind == SourceKind::Sqlite {
        // A write-ahead log with NORMAL sync: one fsync per checkpoint instead of two per batch.
        // A crash of the process loses nothing; a power cut can lose the last batches.
        db.execute("PRAGMA journal_mode = WAL").await?;
        db.execute("PRAGMA synchronous = NORMAL").await?;
    }
    // No primary-key index: ids are 128 random bits, and a B-tree of random keys is what would
    // cost most per row. Rows are appended in time order, so the index on `at` grows at its edge.
    let create = "CREATE TABLE IF NOT EXISTS tool_calls (\
        id VARCHAR(32) NOT NULL, at VARCHAR(40) NOT NULL, principal VARCHAR(200) NOT NULL, \
        request_id VARCHAR(200) NOT NULL, tool VARCHAR(200) NOT NULL, arguments TEXT NOT NULL, \
        outcome VARCHAR(20) NOT NULL, error_kind VARCHAR(40), duration_ms BIGINT NOT NULL, \
        result_bytes BIGINT NOT NULL)";
    let mut script = vec![create.to_owned()];
    // MySQL has no CREATE INDEX IF NOT EXISTS; its table is scanned instead.
    if db.kind != SourceKind::Mysql {
        script.push("CREATE INDEX IF NOT EXISTS tool_calls_at ON tool_calls (at)".into());
    }
    db.run_script(&script.join(";\n")).await
}

/// Writes queued rows in batches until the channel closes and is empty.
async fn write_rows(db: Database, mut rx: mpsc::Receiver<AuditRow>, metrics: Arc<Metrics>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // Let a small batch fill for a moment: a transaction per handful of rows is what costs
        // most. Callers do not wait for this; only the rows do.
        if batch.len() < BATCH / 4 {
            tokio::time::sleep(LINGER).await;
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(row) => batch.push(row),
                    Err(_) => break,
                }
            }
        }
        metrics.audit_queued(i64::try_from(rx.len()).unwrap_or(i64::MAX));
        let mut backoff = Duration::from_millis(100);
        loop {
            match insert(&db, &batch).await {
                Ok(()) => break,
                Err(e) => {
                    metrics.audit_write_failed();
                    tracing::warn!(target: "switchboard::audit", error = %e, rows = batch.len(), queued = rx.len(), "audit rows not written yet; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        batch.clear();
    }
}

async fn insert(db: &Database, rows: &[AuditRow]) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 10;
    let mut text = String::from(
        "INSERT INTO tool_calls (id, at, principal, request_id, tool, arguments, outcome, error_kind, duration_ms, result_bytes) VALUES ",
    );
    for r in 0..rows.len() {
        text.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..COLUMNS {
            if c > 0 {
                text.push_str(", ");
            }
            match db.kind {
                SourceKind::Postgres => text.push_str(&format!("${}", r * COLUMNS + c + 1)),
                _ => text.push('?'),
            }
        }
        text.push(')');
    }
    let mut query = sqlx::query(&text);
    for row in rows {
        query = query
            .bind(row.id.clone())
            .bind(row.at.clone())
            .bind(row.principal.clone())
            .bind(row.request_id.clone())
            .bind(row.tool.clone())
            .bind(row.arguments.clone())
            .bind(row.outcome.clone())
            .bind(row.error_kind.clone())
            .bind(row.duration_ms)
            .bind(row.result_bytes);
    }
    query.execute(&db.pool).await.map(|_| ())
}

/// Queues one row per call of a tool.
#[derive(Debug, Clone)]
pub struct Audit {
    tool: Arc<str>,
    sink: mpsc::Sender<AuditRow>,
    secret: Arc<HashSet<String>>,
}

impl Audit {
    /// Audits `tool` into `sink`, with the values of `secret` arguments redacted.
    pub fn new(tool: &str, sink: mpsc::Sender<AuditRow>, secret: HashSet<String>) -> Self {
        Self { tool: tool.into(), sink, secret: Arc::new(secret) }
    }
}

impl Guardrail for Audit {
    fn call<S>(self, request: ToolRequest, next: Next<S>) -> impl Future<Output = Outcome> + Send
    where
        S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        let started = Instant::now();
        let mut row = AuditRow {
            id: random_id(),
            // Fixed width, so rows sort by time as text in every database.
            at: jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            principal: request.ctx.principal().id().to_owned(),
            request_id: request.ctx.request_id().to_string(),
            tool: self.tool.to_string(),
            arguments: redacted(request.args.as_object(), &self.secret),
            outcome: String::new(),
            error_kind: None,
            duration_ms: 0,
            result_bytes: 0,
        };
        async move {
            let outcome = next.run(request).await;
            row.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            match &outcome {
                Ok(result) => {
                    row.result_bytes = serde_json::to_vec(result).map_or(0, |v| i64::try_from(v.len()).unwrap_or(0));
                    if result.is_error == Some(true) {
                        row.outcome = "error".into();
                        row.error_kind = Some("tool_error".into());
                    } else {
                        row.outcome = "success".into();
                    }
                }
                Err(e) if e.error_code() == Some(ErrorCode::RATE_LIMITED) => {
                    row.outcome = "rate_limited".into();
                    row.error_kind = Some("rate_limited".into());
                }
                Err(e) => match e.kind_name() {
                    "input_required" | "task" => row.outcome = "success".into(),
                    "timeout" => {
                        row.outcome = "timeout".into();
                        row.error_kind = Some("timeout".into());
                    }
                    "unavailable" => {
                        row.outcome = "error".into();
                        row.error_kind = Some("unavailable".into());
                    }
                    "tool" => {
                        row.outcome = "error".into();
                        row.error_kind = Some("tool_error".into());
                    }
                    _ => {
                        row.outcome = "error".into();
                        row.error_kind = Some("protocol_error".into());
                    }
                },
            }
            // The answer leaves only once its row is queued: a full queue slows callers down
            // rather than losing their rows.
            if self.sink.send(row).await.is_err() {
                tracing::error!(target: "switchboard::audit", "the audit log is closed; a call was not recorded");
            }
            outcome
        }
    }
}

/// The arguments as JSON, with the values of `secret` names replaced by `"***"`.
fn redacted(args: &Map<String, Value>, secret: &HashSet<String>) -> String {
    if secret.is_empty() || !args.keys().any(|k| secret.contains(k)) {
        return Value::Object(args.clone()).to_string();
    }
    let masked: Map<String, Value> = args
        .iter()
        .map(|(k, v)| (k.clone(), if secret.contains(k) { Value::String("***".into()) } else { v.clone() }))
        .collect();
    Value::Object(masked).to_string()
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Unique enough without the OS's randomness: time and a counter.
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = jiff::Timestamp::now().as_nanosecond();
        return format!("{t:x}{n:x}");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Rows matching a query, newest first (`switchboard audit`).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this tool.
    pub tool: Option<String>,
    /// Only this principal.
    pub principal: Option<String>,
    /// Only calls at or after this RFC 3339 time.
    pub since: Option<String>,
    /// At most this many rows.
    pub limit: i64,
}

/// Reads rows of the audit table.
pub async fn query(db: &Database, q: &AuditQuery) -> Result<Vec<Map<String, Value>>, sqlx::Error> {
    let text = "SELECT id, at, principal, request_id, tool, arguments, outcome, error_kind, duration_ms, result_bytes \
        FROM tool_calls WHERE (:tool IS NULL OR tool = :tool) AND (:principal IS NULL OR principal = :principal) \
        AND (:since IS NULL OR at >= :since) ORDER BY at DESC, id LIMIT :limit";
    let compiled = sql::compile(text, db.kind);
    let params: Map<String, Value> = [
        ("tool", q.tool.clone().map_or(Value::Null, Value::String)),
        ("principal", q.principal.clone().map_or(Value::Null, Value::String)),
        ("since", q.since.clone().map_or(Value::Null, Value::String)),
        ("limit", Value::from(q.limit)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let rows = sql::bind(&compiled, &params).fetch_all(&db.pool).await?;
    Ok(rows.iter().map(sql::row_to_json).collect())
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
