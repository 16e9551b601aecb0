//! Connected databases through sqlx's `Any` driver (one code path for SQLite, PostgreSQL and
//! MySQL/MariaDB): pools, init scripts run on an empty database, the schema description.

use std::path::Path;
use std::sync::{Arc, Once, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use switchboard_migrate::{
    Dialect, MigrateError, Migration, Record as MigrationRecord, Report as MigrationReport, When,
};

use super::statement::row_to_json;
use crate::config::{Source, SourceKind};

/// A connected database.
#[derive(Debug, Clone)]
pub struct Database {
    /// The source's name in the config.
    pub name: String,
    /// Which database.
    pub kind: SourceKind,
    /// The pool.
    pub pool: AnyPool,
    /// Hears how long tool statements took; set once, after connecting, by whoever keeps the
    /// metrics (every clone of this database shares the slot).
    observer: Arc<OnceLock<Arc<dyn QueryObserver>>>,
}

/// Hears how long each statement a tool ran took.
pub trait QueryObserver: Send + Sync + std::fmt::Debug {
    /// A statement of `operation` (`select`, `insert`, `update`, `delete` or `other`) on the
    /// source `source` took `elapsed`.
    fn observe(&self, source: &str, operation: &'static str, elapsed: Duration);
}

/// The kind of statement `sql` is, by its first keyword (a `WITH` query counts as what it
/// ends in doing only roughly: as `select`).
pub fn operation_of(sql: &str) -> &'static str {
    let word: String =
        sql.trim_start().chars().take_while(|c| c.is_ascii_alphabetic()).map(|c| c.to_ascii_lowercase()).collect();
    match word.as_str() {
        "select" | "with" | "values" => "select",
        "insert" | "replace" => "insert",
        "update" => "update",
        "delete" => "delete",
        _ => "other",
    }
}

/// A database failure, with the statement it happened in.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct DbError {
    /// What was being done.
    pub context: String,
    /// The driver's error.
    #[source]
    pub source: sqlx::Error,
}

fn not_a_database(name: &str) -> DbError {
    DbError {
        context: format!("source {name}"),
        source: sqlx::Error::Configuration("an http source is not a database".into()),
    }
}

fn db_err(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> DbError {
    let context = context.into();
    move |source| DbError { context, source }
}

/// What a failed statement means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The database could not be reached (down, restarting, pool exhausted): worth trying again
    /// later; circuit breakers count it.
    Unavailable,
    /// The database rolled the transaction back to settle a conflict with another one (a
    /// deadlock or a serialization failure): run the transaction again.
    Conflict,
    /// Anything else: the statement itself failed.
    Statement,
}

/// Classifies a failed statement.
pub fn classify(e: &sqlx::Error) -> Failure {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => {
            Failure::Unavailable
        }
        // PostgreSQL 40P01/40001; MySQL and MariaDB report deadlocks (1213) as 40001.
        sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("40P01" | "40001")) => Failure::Conflict,
        // A connection cut mid-statement (the server stopped): the driver reports the short read.
        sqlx::Error::Protocol(m) if m.contains("EOF") || m.contains("connection") => Failure::Unavailable,
        _ => Failure::Statement,
    }
}

/// How long a PostgreSQL or MySQL statement may run when the source sets no `timeout_ms`.
pub(crate) const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 30_000;

/// Sets the session's statement time limit, in the server's own terms. SQLite runs in-process
/// and has no such setting: there the call's timeout is what stops the caller waiting.
async fn limit_statements(conn: &mut sqlx::AnyConnection, kind: SourceKind, ms: u64) -> Result<(), sqlx::Error> {
    use sqlx::Executor;
    match kind {
        SourceKind::Postgres => {
            conn.execute(format!("SET statement_timeout = {ms}").as_str()).await?;
        }
        SourceKind::Mysql => {
            // MariaDB counts seconds (any statement); MySQL milliseconds (SELECTs).
            let mariadb = format!("SET SESSION max_statement_time = {}", ms as f64 / 1000.0);
            if conn.execute(mariadb.as_str()).await.is_err() {
                conn.execute(format!("SET SESSION max_execution_time = {ms}").as_str()).await?;
            }
        }
        SourceKind::Sqlite | SourceKind::Http => {}
    }
    Ok(())
}

/// Connects to a source; runs its `init` scripts if the database has no tables.
pub async fn connect(name: &str, source: &Source, data_dir: &Path, config_dir: &Path) -> Result<Database, DbError> {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
    let (url, max) = match source.kind {
        SourceKind::Http => return Err(not_a_database(name)),
        SourceKind::Sqlite => {
            let file = data_dir.join(source.path.as_deref().unwrap_or(Path::new("db.sqlite")));
            if let Some(dir) = file.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            // One connection: SQLite has one writer anyway, and a single connection makes every
            // transaction serializable without busy retries.
            (format!("sqlite://{}?mode=rwc", file.display()), 1)
        }
        _ => (source.url.clone().unwrap_or_default(), source.max_connections.unwrap_or(8)),
    };
    let statement_ms = source.timeout_ms.unwrap_or(DEFAULT_STATEMENT_TIMEOUT_MS);
    let kind = source.kind;
    let pool = AnyPoolOptions::new()
        // The server stops a statement that runs too long, so a runaway query cannot hold a
        // connection (and its locks) after the call that started it has timed out.
        .after_connect(move |conn, _| Box::pin(async move { limit_statements(conn, kind, statement_ms).await }))
        .max_connections(max)
        // sqlx pings every connection it hands out; for SQLite that is one more round trip to the
        // connection's worker thread per statement, to check a file that cannot hang up.
        .test_before_acquire(source.kind != SourceKind::Sqlite)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(&url)
        .await
        .map_err(db_err(format!("connecting to source {name}")))?;
    if matches!(source.kind, SourceKind::Sqlite) {
        sqlx::query("PRAGMA foreign_keys = ON").execute(&pool).await.map_err(db_err("enabling foreign keys"))?;
    }
    let db = Database { name: name.to_owned(), kind: source.kind, pool, observer: Arc::default() };
    if !source.init.is_empty() {
        let mut statements = Vec::new();
        for script in &source.init {
            let path = if script.is_absolute() { script.clone() } else { config_dir.join(script) };
            let text = std::fs::read_to_string(&path)
                .map_err(|e| DbError { context: format!("reading {}", path.display()), source: sqlx::Error::Io(e) })?;
            let text = render_script(&text).map_err(|e| DbError {
                context: format!("rendering {}", path.display()),
                source: sqlx::Error::Protocol(e),
            })?;
            statements.extend(split_statements(&text));
        }
        // Version 1 of the source: its init scripts, on an empty database only, exactly once
        // however many replicas start together.
        let init = Migration { version: 1, name: "init scripts".into(), statements, when: When::EmptyDatabase };
        let report = db.migrate(&format!("source:{name}"), &[init]).await?;
        if !report.applied.is_empty() {
            tracing::info!(target: "switchboard::gateway", source = name, "database initialized");
        }
    }
    Ok(db)
}

impl Database {
    /// Reports every tool statement's time to `observer` from now on (the first one set wins).
    pub fn observe_with(&self, observer: Arc<dyn QueryObserver>) {
        let _ = self.observer.set(observer);
    }

    /// Reports a statement of `operation` that started at `started`.
    pub(crate) fn observed(&self, operation: &'static str, started: Instant) {
        if let Some(observer) = self.observer.get() {
            observer.observe(&self.name, operation, started.elapsed());
        }
    }

    /// Whether the database answers a trivial query within `limit` (readiness probes).
    pub async fn ping(&self, limit: std::time::Duration) -> bool {
        matches!(tokio::time::timeout(limit, sqlx::query("SELECT 1").execute(&self.pool)).await, Ok(Ok(_)))
    }

    /// Connections in use now, and the most the pool opens.
    pub fn pool_usage(&self) -> (i64, i64) {
        let open = i64::from(self.pool.size());
        let idle = i64::try_from(self.pool.num_idle()).unwrap_or(0);
        ((open - idle).max(0), i64::from(self.pool.options().get_max_connections()))
    }

    /// The migrations dialect of this database.
    pub fn dialect(&self) -> Dialect {
        match self.kind {
            SourceKind::Postgres => Dialect::Postgres,
            SourceKind::Mysql => Dialect::Mysql,
            _ => Dialect::Sqlite,
        }
    }

    /// Applies `component`'s migrations not yet recorded, under the database's migration lock
    /// (see `switchboard_migrate`).
    pub async fn migrate(&self, component: &str, migrations: &[Migration]) -> Result<MigrationReport, DbError> {
        if self.kind == SourceKind::Http {
            return Err(not_a_database(&self.name));
        }
        let source = &self.name;
        switchboard_migrate::run(&self.pool, self.dialect(), component, migrations).await.map_err(|e| match e {
            MigrateError::Step { component, version, name, source: cause } => DbError {
                context: format!("migration {component} v{version} ({name}) in source {source}"),
                source: cause,
            },
            MigrateError::Table(cause) => {
                DbError { context: format!("the migrations table of source {source}"), source: cause }
            }
            other => DbError { context: format!("source {source}"), source: sqlx::Error::Protocol(other.to_string()) },
        })
    }

    /// Every migration recorded in this database (`switchboard migrate` prints them).
    pub async fn migrations(&self) -> Result<Vec<MigrationRecord>, DbError> {
        switchboard_migrate::recorded(&self.pool).await.map_err(db_err("reading the migrations table"))
    }

    /// Runs one statement outside any transaction (settings such as SQLite's `journal_mode`
    /// cannot change inside one).
    pub async fn execute(&self, sql: &str) -> Result<(), DbError> {
        sqlx::query(sql).execute(&self.pool).await.map(|_| ()).map_err(db_err(format!("running {}", first_line(sql))))
    }

    /// The tables and columns, as JSON (the `db://<source>/schema` resource).
    pub async fn describe(&self) -> Result<Value, DbError> {
        let sql = match self.kind {
            SourceKind::Sqlite => {
                "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, p.pk AS primary_key \
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY m.name, p.cid"
            }
            SourceKind::Postgres => {
                "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type \
                 FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
            }
            SourceKind::Mysql => {
                "SELECT CAST(table_name AS CHAR) AS table_name, CAST(column_name AS CHAR) AS column_name, CAST(data_type AS CHAR) AS data_type \
                 FROM information_schema.columns WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position"
            }
            SourceKind::Http => return Err(not_a_database(&self.name)),
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await.map_err(db_err("describing the schema"))?;
        let mut tables: Map<String, Value> = Map::new();
        for row in &rows {
            let r = row_to_json(row);
            let table = r.get("table_name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let entry = tables.entry(table).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(cols) = entry {
                cols.push(serde_json::json!({"name": r.get("column_name"), "type": r.get("data_type")}));
            }
        }
        Ok(
            serde_json::json!({"source": self.name, "kind": format!("{:?}", self.kind).to_lowercase(), "tables": tables}),
        )
    }
}

/// Renders an init script as a minijinja template; `days_ago(n)` is the ISO date `n` days
/// before now, so seeded data stays relative to when the database was created.
fn render_script(text: &str) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    env.add_function("days_ago", move |n: i64| days_before(today, n));
    env.render_str(text, ()).map_err(|e| e.to_string())
}

/// The ISO date `n` days before `today` (`today` itself when that is out of range).
fn days_before(today: jiff::civil::Date, n: i64) -> String {
    jiff::Span::new().try_days(n).and_then(|span| today.checked_sub(span)).unwrap_or(today).to_string()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().chars().take(80).collect()
}

/// Splits a script at `;` that end a line (comments and blank lines dropped).
fn split_statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            let stmt = current.trim().trim_end_matches(';').to_owned();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_ago_counts_back_across_months_and_leap_days() {
        let today = jiff::civil::date(2024, 3, 1);
        assert_eq!(days_before(today, 0), "2024-03-01");
        assert_eq!(days_before(today, 1), "2024-02-29");
        assert_eq!(days_before(today, 366), "2023-03-01");
        assert_eq!(days_before(today, -31), "2024-04-01");
    }

    #[test]
    fn scripts_split_at_line_ending_semicolons() {
        let parts = split_statements(
            "-- c\nCREATE TABLE a (x INT);\n\nINSERT INTO a VALUES (1);\nINSERT INTO a\n VALUES (2);\n",
        );
        assert_eq!(parts.len(), 3);
    }
}
