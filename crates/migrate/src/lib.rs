//! Versioned schema migrations, run exactly once however many replicas start at the same moment.
//!
//! Each component (the audit log, conversations, a source's init scripts) owns an ordered list of
//! [`Migration`]s. [`run`] takes a database-wide lock (PostgreSQL `pg_advisory_lock`, MySQL
//! `GET_LOCK`; SQLite's own write lock serializes its processes), creates the
//! `switchboard_migrations` table if it is missing, applies the versions not yet recorded — each in
//! a transaction with its record — and releases the lock. A replica that waited on the lock finds
//! the versions recorded and applies nothing, so a fresh database is created and seeded once.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::AnyConnection;
use sqlx::{Any, AnyPool, Connection, Row};

/// The table that records applied migrations.
pub const TABLE: &str = "switchboard_migrations";

/// Tables Switchboard creates for itself: they do not make a database "non-empty" for a source's
/// init scripts (the audit log or conversations may share the shop's database).
pub const OWN_TABLES: &[&str] = &[TABLE, "tool_calls", "agent_conversations", "agent_messages"];

/// How long a replica waits for another one's migrations before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(120);

/// An arbitrary constant naming Switchboard's advisory lock in PostgreSQL (one per database).
const PG_LOCK_KEY: i64 = 0x5357_4254_4d49_4752; // "SWBTMIGR"

/// The SQL dialect of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (one file, one writer at a time).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

impl Dialect {
    /// The dialect a `sqlite:`, `postgres:`/`postgresql:` or `mysql:`/`mariadb:` URL names.
    pub fn of_url(url: &str) -> Option<Self> {
        match url.split(':').next().unwrap_or_default() {
            "sqlite" => Some(Self::Sqlite),
            "postgres" | "postgresql" => Some(Self::Postgres),
            "mysql" | "mariadb" => Some(Self::Mysql),
            _ => None,
        }
    }
}

/// When a migration applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Always (the usual case).
    Always,
    /// Only on a database with no tables but [`OWN_TABLES`] (a source's init scripts: a database
    /// that already holds business tables is adopted as it is, and the version recorded).
    EmptyDatabase,
}

/// One step of a component's schema.
#[derive(Debug, Clone)]
pub struct Migration {
    /// Its version: versions of a component ascend and are never reused.
    pub version: i64,
    /// What it does, for the record and the log.
    pub name: String,
    /// Its statements, run in order in one transaction (MySQL commits DDL as it goes).
    pub statements: Vec<String>,
    /// When it applies.
    pub when: When,
}

impl Migration {
    /// A migration that always applies.
    pub fn new(version: i64, name: impl Into<String>, statements: Vec<String>) -> Self {
        Self { version, name: name.into(), statements, when: When::Always }
    }
}

/// Why migrations could not run.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The lock could not be taken (or the database could not be reached).
    #[error("taking the migration lock: {0}")]
    Lock(String),
    /// The `switchboard_migrations` table could not be created or read.
    #[error("reading the migrations table: {0}")]
    Table(#[source] sqlx::Error),
    /// One migration failed (its transaction was rolled back).
    #[error("migration {component} v{version} ({name}): {source}")]
    Step {
        /// The component.
        component: String,
        /// The version that failed.
        version: i64,
        /// Its name.
        name: String,
        /// What the database said.
        #[source]
        source: sqlx::Error,
    },
}

/// What [`run`] did for one component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Versions applied now.
    pub applied: Vec<i64>,
    /// Versions recorded without running ([`When::EmptyDatabase`] on a database with tables).
    pub adopted: Vec<i64>,
}

/// Applies `component`'s migrations that are not yet recorded, under the database lock.
pub async fn run(
    pool: &AnyPool,
    dialect: Dialect,
    component: &str,
    migrations: &[Migration],
) -> Result<Report, MigrateError> {
    let mut conn = pool.acquire().await.map_err(|e| MigrateError::Lock(e.to_string()))?;
    if let Err(e) = lock(&mut conn, dialect).await {
        // A wait cut short may still be granted later: that connection must not go back to the pool.
        drop(conn.detach());
        return Err(e);
    }
    let outcome = apply(&mut conn, dialect, component, migrations).await;
    // A failed unlock leaves the lock to the connection's end: close it rather than return it.
    if unlock(&mut conn, dialect).await.is_err() {
        let _ = conn.detach().close().await;
    }
    outcome
}

async fn lock(conn: &mut PoolConnection<Any>, dialect: Dialect) -> Result<(), MigrateError> {
    let wait = |e: sqlx::Error| MigrateError::Lock(e.to_string());
    match dialect {
        Dialect::Sqlite => Ok(()),
        Dialect::Postgres => {
            // `pg_advisory_lock` has no timeout of its own: a bounded wait keeps a stuck peer from
            // hanging every start (the dropped connection's wait ends with it).
            let take = sqlx::query("SELECT pg_advisory_lock($1)").bind(PG_LOCK_KEY).execute(&mut **conn);
            match tokio::time::timeout(LOCK_WAIT, take).await {
                Ok(r) => r.map(|_| ()).map_err(wait),
                Err(_) => Err(MigrateError::Lock(format!("another replica held it for {} s", LOCK_WAIT.as_secs()))),
            }
        }
        Dialect::Mysql => {
            let row = sqlx::query("SELECT GET_LOCK(CONCAT('switchboard_migrations:', DATABASE()), ?)")
                .bind(i64::try_from(LOCK_WAIT.as_secs()).unwrap_or(120))
                .fetch_one(&mut **conn)
                .await
                .map_err(wait)?;
            match row.try_get::<i64, _>(0) {
                Ok(1) => Ok(()),
                _ => Err(MigrateError::Lock(format!("another replica held it for {} s", LOCK_WAIT.as_secs()))),
            }
        }
    }
}

async fn unlock(conn: &mut PoolConnection<Any>, dialect: Dialect) -> Result<(), sqlx::Error> {
    match dialect {
        Dialect::Sqlite => Ok(()),
        Dialect::Postgres => {
            sqlx::query("SELECT pg_advisory_unlock($1)").bind(PG_LOCK_KEY).execute(&mut **conn).await.map(|_| ())
        }
        Dialect::Mysql => sqlx::query("SELECT RELEASE_LOCK(CONCAT('switchboard_migrations:', DATABASE()))")
            .execute(&mut **conn)
            .await
            .map(|_| ()),
    }
}

async fn apply(
    conn: &mut AnyConnection,
    dialect: Dialect,
    component: &str,
    migrations: &[Migration],
) -> Result<Report, MigrateError> {
    let text = if dialect == Dialect::Mysql { "VARCHAR(200)" } else { "TEXT" };
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (component {text} NOT NULL, version BIGINT NOT NULL, \
         name {text} NOT NULL, applied_at {text} NOT NULL, adopted BIGINT NOT NULL DEFAULT 0, \
         PRIMARY KEY (component, version))"
    );
    sqlx::query(&create).execute(&mut *conn).await.map_err(MigrateError::Table)?;
    let select = placeholders(dialect, &format!("SELECT version FROM {TABLE} WHERE component = ?"));
    let done: Vec<i64> = sqlx::query(&select)
        .bind(component)
        .fetch_all(&mut *conn)
        .await
        .map_err(MigrateError::Table)?
        .iter()
        .filter_map(|row| row.try_get::<i64, _>(0).ok())
        .collect();
    let mut report = Report::default();
    for m in migrations.iter().filter(|m| !done.contains(&m.version)) {
        let step = |source| MigrateError::Step {
            component: component.to_owned(),
            version: m.version,
            name: m.name.clone(),
            source,
        };
        let run_it = match m.when {
            When::Always => true,
            When::EmptyDatabase => business_tables(conn, dialect).await.map_err(step)? == 0,
        };
        let mut tx = conn.begin().await.map_err(step)?;
        if run_it {
            for statement in &m.statements {
                sqlx::query(statement).execute(&mut *tx).await.map_err(step)?;
            }
        }
        let record = placeholders(
            dialect,
            &format!("INSERT INTO {TABLE} (component, version, name, applied_at, adopted) VALUES (?, ?, ?, ?, ?)"),
        );
        sqlx::query(&record)
            .bind(component)
            .bind(m.version)
            .bind(&m.name)
            .bind(jiff::Timestamp::now().to_string())
            .bind(i64::from(!run_it))
            .execute(&mut *tx)
            .await
            .map_err(step)?;
        tx.commit().await.map_err(step)?;
        if run_it {
            tracing::info!(target: "switchboard::migrate", component, version = m.version, name = %m.name, "migration applied");
            report.applied.push(m.version);
        } else {
            tracing::info!(target: "switchboard::migrate", component, version = m.version, name = %m.name,
                "the database already has tables: recorded without running");
            report.adopted.push(m.version);
        }
    }
    Ok(report)
}

/// How many tables the database holds besides [`OWN_TABLES`].
async fn business_tables(conn: &mut AnyConnection, dialect: Dialect) -> Result<usize, sqlx::Error> {
    let sql = match dialect {
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        Dialect::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()"
        }
        Dialect::Mysql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()"
        }
    };
    let rows = sqlx::query(sql).fetch_all(&mut *conn).await?;
    Ok(rows
        .iter()
        .filter_map(|row| row.try_get::<String, _>(0).ok())
        .filter(|name| !OWN_TABLES.iter().any(|own| own.eq_ignore_ascii_case(name)))
        .count())
}

/// `?` placeholders as the dialect wants them (`$n` for PostgreSQL).
pub fn placeholders(dialect: Dialect, sql: &str) -> String {
    if dialect != Dialect::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// One applied migration, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The component it belongs to.
    pub component: String,
    /// Its version.
    pub version: i64,
    /// What it did.
    pub name: String,
    /// When it was applied (RFC 3339).
    pub applied_at: String,
    /// Recorded without running (the database already had tables).
    pub adopted: bool,
}

/// Every migration recorded in the database (none if it has no migrations table yet).
pub async fn recorded(pool: &AnyPool) -> Result<Vec<Record>, sqlx::Error> {
    let sql = format!("SELECT component, version, name, applied_at, adopted FROM {TABLE} ORDER BY component, version");
    let rows = match sqlx::query(&sql).fetch_all(pool).await {
        Ok(rows) => rows,
        // No table yet: nothing was ever migrated here.
        Err(sqlx::Error::Database(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    rows.iter()
        .map(|row| {
            Ok(Record {
                component: row.try_get(0)?,
                version: row.try_get(1)?,
                name: row.try_get(2)?,
                applied_at: row.try_get(3)?,
                adopted: row.try_get::<i64, _>(4)? != 0,
            })
        })
        .collect()
}
