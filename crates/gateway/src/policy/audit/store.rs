//! The `tool_calls` table through sqlx: its migration, batched inserts (PostgreSQL and MySQL;
//! SQLite has its own writer thread) and the reads of `switchboard audit`.

use serde_json::{Map, Value};

use switchboard_migrate::Migration;

use super::row::{AuditRow, COLUMN_NAMES};
use crate::config::SourceKind;
use crate::source::sql::{self, Database, DbError};

/// Creates the table (and its index) or brings an older one up to date.
pub(super) async fn migrate(db: &Database) -> Result<(), DbError> {
    if db.kind == SourceKind::Sqlite {
        // A write-ahead log with NORMAL sync: one fsync per checkpoint instead of two per batch.
        // A crash of the process loses nothing; a power cut can lose the last batches.
        db.execute("PRAGMA journal_mode = WAL").await?;
        db.execute("PRAGMA synchronous = NORMAL").await?;
    }
    // No primary-key index: a B-tree of unique ids is what would cost most per row. Rows are
    // appended in time order, so the index on `at` grows at its edge.
    let create = "CREATE TABLE IF NOT EXISTS tool_calls (\
        id VARCHAR(32) NOT NULL, at VARCHAR(40) NOT NULL, principal VARCHAR(200) NOT NULL, \
        request_id VARCHAR(200) NOT NULL, correlation_id VARCHAR(200), trace_id VARCHAR(32), \
        tool VARCHAR(200) NOT NULL, arguments TEXT NOT NULL, \
        outcome VARCHAR(20) NOT NULL, error_kind VARCHAR(40), duration_ms BIGINT NOT NULL, \
        result_bytes BIGINT NOT NULL)";
    let mut script = vec![create.to_owned()];
    // MySQL has no CREATE INDEX IF NOT EXISTS; its table is scanned instead.
    if db.kind != SourceKind::Mysql {
        script.push("CREATE INDEX IF NOT EXISTS tool_calls_at ON tool_calls (at)".into());
    }
    db.migrate("audit", &[Migration::new(1, "the tool_calls table", script)]).await?;
    // Tables made before migrations were versioned, and before these columns existed, get them
    // (a probe works the same everywhere).
    for (column, kind) in [("correlation_id", "VARCHAR(200)"), ("trace_id", "VARCHAR(32)")] {
        if db.execute(&format!("SELECT {column} FROM tool_calls WHERE 1 = 0")).await.is_err() {
            db.execute(&format!("ALTER TABLE tool_calls ADD COLUMN {column} {kind}")).await?;
        }
    }
    Ok(())
}

/// Inserts `rows` with one statement.
pub(super) async fn insert(db: &Database, rows: &[AuditRow]) -> Result<(), sqlx::Error> {
    let width = COLUMN_NAMES.len();
    let mut text = format!("INSERT INTO tool_calls ({}) VALUES ", COLUMN_NAMES.join(", "));
    for r in 0..rows.len() {
        text.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            if c > 0 {
                text.push_str(", ");
            }
            match db.kind {
                SourceKind::Postgres => text.push_str(&format!("${}", r * width + c + 1)),
                _ => text.push('?'),
            }
        }
        text.push(')');
    }
    let mut query = sqlx::query(&text);
    for row in rows {
        let c = row.columns();
        query = query
            .bind(c.id)
            .bind(c.at)
            .bind(c.principal)
            .bind(c.request_id)
            .bind(c.correlation_id)
            .bind(c.trace_id)
            .bind(c.tool)
            .bind(c.arguments)
            .bind(c.outcome)
            .bind(c.error_kind)
            .bind(c.duration_ms)
            .bind(c.result_bytes);
    }
    query.execute(&db.pool).await.map(|_| ())
}

/// Rows matching a query, newest first (`switchboard audit`).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this tool.
    pub tool: Option<String>,
    /// Only this principal.
    pub principal: Option<String>,
    /// Only calls carried by the HTTP request with this `X-Request-Id`.
    pub correlation_id: Option<String>,
    /// Only calls at or after this RFC 3339 time.
    pub since: Option<String>,
    /// At most this many rows.
    pub limit: i64,
}

/// Reads rows of the audit table.
pub async fn query(db: &Database, q: &AuditQuery) -> Result<Vec<Map<String, Value>>, sqlx::Error> {
    let text = format!(
        "SELECT {} FROM tool_calls WHERE (:tool IS NULL OR tool = :tool) \
         AND (:principal IS NULL OR principal = :principal) \
         AND (:correlation IS NULL OR correlation_id = :correlation) \
         AND (:since IS NULL OR at >= :since) ORDER BY at DESC, id LIMIT :limit",
        COLUMN_NAMES.join(", ")
    );
    let compiled = sql::compile(&text, db.kind);
    let text_or_null = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    let params: Map<String, Value> = [
        ("tool", text_or_null(&q.tool)),
        ("principal", text_or_null(&q.principal)),
        ("correlation", text_or_null(&q.correlation_id)),
        ("since", text_or_null(&q.since)),
        ("limit", Value::from(q.limit)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let rows = sql::bind(&compiled, &params).fetch_all(&db.pool).await?;
    Ok(rows.iter().map(sql::row_to_json).collect())
}
