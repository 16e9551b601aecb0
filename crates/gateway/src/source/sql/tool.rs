//! SQL tools: the tool's statements, compiled for its database, run in one transaction per call;
//! a guard, an `expect_rows` or a failure rolls all of them back with a filled-in message.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use switchboard_mcp::protocol::tools::{CallToolResult, Tool, ToolAnnotations};
use switchboard_mcp::protocol::JsonObject;
use switchboard_mcp::server::{HandlerError, Router};

use super::db::Database;
use super::statement::{self as sql, Compiled};
use crate::config::{self, ParamType, ResultMode};
use crate::source::common::{input_schema, RegisterError};

/// One statement, compiled for its database.
#[derive(Debug)]
struct SqlStep {
    compiled: Compiled,
    /// `select`, `insert`, … (the `operation` label of query metrics).
    operation: &'static str,
    guard: Option<String>,
    expect_rows: Option<String>,
}

/// A compiled SQL tool.
#[derive(Debug)]
struct SqlTool {
    name: String,
    steps: Vec<SqlStep>,
    result: ResultMode,
    not_found: Option<String>,
    max_rows: usize,
    defaults: Map<String, Value>,
    types: BTreeMap<String, ParamType>,
    like: BTreeMap<String, config::LikeMode>,
}

/// Registers the SQL tool `name` on `router`: its statements compiled for the database its
/// `source` names (one of `dbs`), read-only when every statement reads.
pub fn register(
    router: Router,
    name: &str,
    tool: &config::Tool,
    dbs: &BTreeMap<String, Database>,
) -> Result<Router, RegisterError> {
    let source = tool.source.as_deref().unwrap_or_default();
    let db = dbs
        .get(source)
        .cloned()
        .ok_or_else(|| RegisterError::Invalid(format!("tools.{name}: unknown source {source:?}")))?;
    let read_only = tool.read_only.unwrap_or_else(|| {
        tool.statements.iter().all(|s| {
            s.sql.trim_start().to_ascii_uppercase().starts_with("SELECT")
                || s.sql.trim_start().to_ascii_uppercase().starts_with("WITH")
        })
    });
    let destructive = tool.destructive.unwrap_or_else(|| tool.statements.iter().any(|s| changes_what_exists(&s.sql)));
    let mut def = Tool::new(name, tool.description.clone(), input_schema(&tool.params));
    def.title = tool.title.clone();
    def.annotations = Some(ToolAnnotations {
        read_only_hint: Some(read_only),
        destructive_hint: (!read_only).then_some(destructive),
        open_world_hint: Some(false),
        ..ToolAnnotations::default()
    });
    def.output_schema = Some(Arc::new(output_schema(tool.result)));
    let compiled = Arc::new(SqlTool {
        name: name.to_owned(),
        steps: tool
            .statements
            .iter()
            .map(|s| SqlStep {
                compiled: sql::compile(
                    &crate::syntax::like::add_escape_clauses(&s.sql, |p| {
                        tool.params.get(p).is_some_and(|spec| spec.like.is_some())
                    }),
                    db.kind,
                ),
                operation: super::operation_of(&s.sql),
                guard: s.guard.clone(),
                expect_rows: s.expect_rows.clone(),
            })
            .collect(),
        result: tool.result,
        not_found: tool.not_found.clone(),
        max_rows: tool.max_rows.unwrap_or(100),
        defaults: tool.params.iter().filter_map(|(k, p)| Some((k.clone(), p.default.clone()?))).collect(),
        types: tool.params.iter().map(|(k, p)| (k.clone(), p.kind)).collect(),
        like: tool.params.iter().filter_map(|(k, p)| Some((k.clone(), p.like?))).collect(),
    });
    Ok(router.tool(def, move |args, _ctx| {
        let (db, t) = (db.clone(), compiled.clone());
        async move { run_sql_tool(&db, &t, args.into_object()).await }
    }))
}

fn output_schema(mode: ResultMode) -> JsonObject {
    let v = match mode {
        ResultMode::Many => {
            json!({"type": "object", "properties": {"rows": {"type": "array", "items": {"type": "object"}}, "truncated": {"type": "boolean"}}, "required": ["rows"]})
        }
        ResultMode::One => json!({"type": "object"}),
        ResultMode::None => {
            json!({"type": "object", "properties": {"affected": {"type": "integer"}}, "required": ["affected"]})
        }
    };
    match v {
        Value::Object(o) => o,
        _ => JsonObject::new(),
    }
}

/// Whether a statement may change or remove existing rows: anything but a read or a plain
/// `INSERT` (an upsert or `REPLACE` overwrites; statements we do not recognise might).
fn changes_what_exists(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    match super::operation_of(sql) {
        "select" => false,
        "insert" => {
            upper.trim_start().starts_with("REPLACE")
                || upper.contains("ON DUPLICATE KEY")
                || (upper.contains("ON CONFLICT") && upper.contains("DO UPDATE"))
        }
        _ => true,
    }
}

/// Fills `{name}` placeholders from the arguments and a row.
fn fill(message: &str, args: &Map<String, Value>, row: Option<&Map<String, Value>>) -> String {
    let mut out = message.to_owned();
    for (k, v) in args.iter().chain(row.into_iter().flat_map(|r| r.iter())) {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out = out.replace(&format!("{{{k}}}"), &text);
    }
    out
}

fn truthy(row: &Map<String, Value>) -> bool {
    match row.values().next() {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

async fn run_sql_tool(
    db: &Database,
    tool: &SqlTool,
    mut args: Map<String, Value>,
) -> Result<CallToolResult, HandlerError> {
    for (k, v) in &tool.defaults {
        args.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, mode) in &tool.like {
        if let Some(Value::String(s)) = args.get_mut(k) {
            *s = match mode {
                config::LikeMode::Contains => format!("%{}%", crate::syntax::like::escape(s)),
                config::LikeMode::Prefix => format!("{}%", crate::syntax::like::escape(s)),
            };
        }
    }
    let last = tool.steps.len().saturating_sub(1);
    // A lone statement is atomic by itself: run it on the pool, which for SQLite saves the BEGIN
    // and COMMIT round trips to the connection's worker thread (two of every three).
    if let [step] = tool.steps.as_slice() {
        return match run_step(db, tool, step, true, &args, &db.pool).await? {
            Step::Done(output) => Ok(CallToolResult::structured(output)),
            Step::Next => Ok(CallToolResult::structured(Value::Null)),
        };
    }
    // Several statements run in one transaction: a guard or failure rolls all of them back.
    let mut tx = db.pool.begin().await.map_err(|e| failed(tool, e))?;
    let mut output = Value::Null;
    for (i, step) in tool.steps.iter().enumerate() {
        if let Step::Done(value) = run_step(db, tool, step, i == last, &args, &mut *tx).await? {
            output = value;
        }
    }
    tx.commit().await.map_err(|e| failed(tool, e))?;
    Ok(CallToolResult::structured(output))
}

/// What one statement left: the tool's output (from the last one), or nothing yet.
enum Step {
    Done(Value),
    Next,
}

fn failed(tool: &SqlTool, e: sqlx::Error) -> HandlerError {
    tracing::warn!(target: "switchboard::gateway", tool = %tool.name, error = %e, "statement failed");
    match super::classify(&e) {
        super::Failure::Unavailable => HandlerError::unavailable(format!(
            "{}: the database is unavailable right now ({e}); try again in a moment",
            tool.name
        )),
        _ => HandlerError::msg(format!("{} failed in the database: {e}", tool.name)),
    }
}

/// Runs one statement on `exec`: a guard checks its row, a write counts what it changed, and
/// the last statement of a reading tool shapes the rows into the tool's output.
async fn run_step<'c, E>(
    db: &Database,
    tool: &SqlTool,
    step: &SqlStep,
    is_last: bool,
    args: &Map<String, Value>,
    exec: E,
) -> Result<Step, HandlerError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let type_of = |name: &str| tool.types.get(name).copied();
    let query = sql::bind_typed(&step.compiled, args, &type_of);
    let started = std::time::Instant::now();
    if let Some(message) = &step.guard {
        let row = query.fetch_optional(exec).await;
        db.observed(step.operation, started);
        let row = row.map_err(|e| failed(tool, e))?.map(|r| sql::row_to_json(&r));
        if !row.as_ref().is_some_and(truthy) {
            return Err(HandlerError::msg(fill(message, args, row.as_ref())));
        }
        return Ok(Step::Next);
    }
    if !is_last || tool.result == ResultMode::None {
        let done = query.execute(exec).await;
        db.observed(step.operation, started);
        let done = done.map_err(|e| failed(tool, e))?;
        if let Some(message) = &step.expect_rows {
            if done.rows_affected() == 0 {
                return Err(HandlerError::msg(fill(message, args, None)));
            }
        }
        return Ok(if is_last { Step::Done(json!({"affected": done.rows_affected()})) } else { Step::Next });
    }
    let cap = if tool.result == ResultMode::One { 1 } else { tool.max_rows };
    let rows = sql::fetch_capped(query, exec, cap).await;
    db.observed(step.operation, started);
    let (rows, truncated) = rows.map_err(|e| failed(tool, e))?;
    Ok(Step::Done(match tool.result {
        ResultMode::One => match rows.first() {
            Some(r) => Value::Object(sql::row_to_json(r)),
            None => {
                let message = tool.not_found.as_deref().unwrap_or("no matching record");
                return Err(HandlerError::msg(fill(message, args, None)));
            }
        },
        _ => {
            let rows: Vec<Value> = rows.iter().map(|r| Value::Object(sql::row_to_json(r))).collect();
            json!({"rows": rows, "truncated": truncated})
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::changes_what_exists;

    #[test]
    fn only_reads_and_plain_inserts_leave_what_exists_alone() {
        for sql in ["SELECT 1", "WITH x AS (SELECT 1) SELECT * FROM x", "INSERT INTO t (a) VALUES (:a)"] {
            assert!(!changes_what_exists(sql), "{sql}");
        }
        for sql in [
            "UPDATE t SET a = 1",
            "DELETE FROM t",
            "REPLACE INTO t VALUES (1)",
            "INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1",
            "INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 1",
            "CALL cleanup()",
        ] {
            assert!(changes_what_exists(sql), "{sql}");
        }
    }
}
