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

pub(crate) fn db_failed(e: sqlx::Error) -> HandlerError {
    tracing::warn!(target: "switchboard::gateway", error = %e, "shop statement failed");
    HandlerError::msg(format!("the shop database refused the operation: {e}"))
}

/// Runs `sql` (with `:name` placeholders) in `tx` and returns the rows as JSON.
pub(crate) async fn rows(
    db: &Database,
    tx: &mut Transaction<'static, Any>,
    sql_text: &str,
    args: &Map<String, Value>,
) -> Result<Vec<Map<String, Value>>, HandlerError> {
    let compiled = sql::compile(sql_text, db.kind);
    let rows = sql::bind(&compiled, args).fetch_all(&mut **tx).await.map_err(db_failed)?;
    Ok(rows.iter().map(sql::row_to_json).collect())
}

pub(crate) async fn exec(
    db: &Database,
    tx: &mut Transaction<'static, Any>,
    sql_text: &str,
    args: &Map<String, Value>,
) -> Result<u64, HandlerError> {
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
    Fail(HandlerError),
}

impl From<HandlerError> for Retry {
    fn from(e: HandlerError) -> Self {
        Retry::Fail(e)
    }
}
