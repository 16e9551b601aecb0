//! What the shop's tools share: the tool definition with its annotations, statements run inside
//! a transaction through the gateway's SQL helpers, generated identifiers and today's date.

use schemars::JsonSchema;
use serde_json::{Map, Value};
use sqlx::{Any, Transaction};
use switchboard_gateway::config::SourceKind;
use switchboard_gateway::source::sql::{self, Database};
use switchboard_mcp::protocol::tools::{Tool, ToolAnnotations};
use switchboard_mcp::server::{input_schema_of, HandlerError};

/// What a shop tool does to the data, for its annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Reads only.
    Reads,
    /// Adds records and changes nothing that exists.
    Adds,
    /// Changes or removes what exists (stock, an order's state, money).
    Changes,
}

pub(crate) fn tool<A: JsonSchema>(name: &str, description: &str, effect: Effect, idempotent: bool) -> Tool {
    let mut t = Tool::new(name, description, input_schema_of::<A>());
    t.annotations = Some(ToolAnnotations {
        read_only_hint: Some(effect == Effect::Reads),
        destructive_hint: (effect != Effect::Reads).then_some(effect == Effect::Changes),
        idempotent_hint: Some(idempotent),
        open_world_hint: Some(false),
        ..ToolAnnotations::default()
    });
    t
}

/// A failed statement of a shop tool: what to tell the caller, and whether the transaction is
/// worth running again (the database settled a conflict by rolling it back).
pub(crate) struct DbFailure {
    conflict: bool,
    error: HandlerError,
}

impl From<DbFailure> for HandlerError {
    fn from(f: DbFailure) -> Self {
        f.error
    }
}

impl From<DbFailure> for Retry {
    fn from(f: DbFailure) -> Self {
        if f.conflict {
            Retry::Conflict(f.error)
        } else {
            Retry::Fail(f.error)
        }
    }
}

pub(crate) fn db_failed(e: sqlx::Error) -> DbFailure {
    tracing::warn!(target: "switchboard::gateway", error = %e, "shop statement failed");
    let failure = sql::classify(&e);
    let error = match failure {
        sql::Failure::Unavailable => HandlerError::unavailable(format!(
            "the shop database is unavailable right now ({e}); try again in a moment (a write retried with the same idempotency key is never applied twice)"
        )),
        sql::Failure::Conflict => HandlerError::unavailable(format!(
            "the shop database kept colliding with other requests ({e}); nothing was changed, try again"
        )),
        sql::Failure::Statement => HandlerError::msg(format!("the shop database refused the operation: {e}")),
    };
    DbFailure { conflict: failure == sql::Failure::Conflict, error }
}

/// Runs `attempt` again while the database rolls it back to settle a conflict (at most five
/// times, with a short growing pause): two orders or refunds that lock the same rows in
/// different orders make one of them lose, and a retry is what the database asks for.
pub(crate) async fn on_conflict_retry<T, F, Fut>(mut attempt: F) -> Result<T, Retry>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Retry>>,
{
    let mut tries = 0u64;
    loop {
        tries += 1;
        match attempt().await {
            Err(Retry::Conflict(_)) if tries < 5 => {
                tokio::time::sleep(std::time::Duration::from_millis(10 * tries)).await
            }
            other => return other,
        }
    }
}

/// Runs `sql` (with `:name` placeholders) in `tx` and returns the rows as JSON.
pub(crate) async fn rows(
    db: &Database,
    tx: &mut Transaction<'static, Any>,
    sql_text: &str,
    args: &Map<String, Value>,
) -> Result<Vec<Map<String, Value>>, DbFailure> {
    let compiled = sql::compile(sql_text, db.kind);
    let rows = sql::bind(&compiled, args).fetch_all(&mut **tx).await.map_err(db_failed)?;
    Ok(rows.iter().map(sql::row_to_json).collect())
}

pub(crate) async fn exec(
    db: &Database,
    tx: &mut Transaction<'static, Any>,
    sql_text: &str,
    args: &Map<String, Value>,
) -> Result<u64, DbFailure> {
    let compiled = sql::compile(sql_text, db.kind);
    Ok(sql::bind(&compiled, args).execute(&mut **tx).await.map_err(db_failed)?.rows_affected())
}

pub(crate) fn params(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

pub(crate) fn lock_suffix(db: &Database) -> &'static str {
    match db.kind {
        SourceKind::Sqlite | SourceKind::Http => "",
        SourceKind::Postgres | SourceKind::Mysql => " FOR UPDATE",
    }
}

/// `n` random decimal digits (order, refund and label numbers; not secrets).
pub(crate) fn random_digits(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    if getrandom::fill(&mut bytes).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
        bytes.iter_mut().enumerate().for_each(|(i, b)| *b = (t >> (i % 4 * 8)) as u8);
    }
    bytes.iter().map(|b| char::from(b'0' + b % 10)).collect()
}

/// Today (UTC) as `(YYYYMMDD, YYYY-MM-DD)`.
pub(crate) fn today() -> (String, String) {
    let date = today_utc();
    (date.strftime("%Y%m%d").to_string(), date.to_string())
}

/// Today's civil date in UTC.
pub(crate) fn today_utc() -> jiff::civil::Date {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// Why a write tool's attempt ended without a result: a lost race worth one more try, or a
/// failure to report.
pub(crate) enum Retry {
    Again,
    /// The database rolled the transaction back to settle a conflict; the error is what to say
    /// when retries run out.
    Conflict(HandlerError),
    Fail(HandlerError),
}

impl From<HandlerError> for Retry {
    fn from(e: HandlerError) -> Self {
        Retry::Fail(e)
    }
}
