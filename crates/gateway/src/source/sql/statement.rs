//! Statements for one database: `:name` placeholders rewritten to the database's positional
//! syntax and every value bound (typed NULLs), rows turned into JSON objects.

use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{Column, Row, TypeInfo, ValueRef};

use crate::config::{ParamType, SourceKind};
use crate::syntax::placeholders::scan;

/// A statement rewritten for one database: positional placeholders and the parameter order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The SQL to send.
    pub sql: String,
    /// The parameter bound at each position.
    pub order: Vec<String>,
}

/// Rewrites `:name` placeholders to `$n` (PostgreSQL) or `?` (SQLite, MySQL).
pub fn compile(sql: &str, kind: SourceKind) -> Compiled {
    let mut out = String::with_capacity(sql.len());
    let mut order = Vec::new();
    let mut last = 0;
    for (name, range) in scan(sql) {
        out.push_str(&sql[last..range.start]);
        order.push(name);
        match kind {
            SourceKind::Postgres => out.push_str(&format!("${}", order.len())),
            // An http source never becomes a `Database` (`connect` refuses it).
            SourceKind::Sqlite | SourceKind::Mysql | SourceKind::Http => out.push('?'),
        }
        last = range.end;
    }
    out.push_str(&sql[last..]);
    Compiled { sql: out, order }
}

/// Rows a resource read or a prompt's context query returns at most.
pub const MAX_CONTEXT_ROWS: usize = 1000;
/// Values a completion query offers at most (the MCP limit for one completion).
pub const MAX_COMPLETION_ROWS: usize = 100;

/// Runs `query` on `exec` and keeps at most `cap` rows: rows are read one at a time and reading
/// stops at the cap (the `bool` says whether there were more), so a large result set is never
/// loaded whole.
pub async fn fetch_capped<'e, 'c: 'e, 'q: 'e, E>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    exec: E,
    cap: usize,
) -> Result<(Vec<AnyRow>, bool), sqlx::Error>
where
    E: 'e + sqlx::Executor<'c, Database = sqlx::Any>,
{
    use futures_util::TryStreamExt as _;
    let mut stream = query.fetch(exec);
    let mut rows = Vec::new();
    while let Some(row) = stream.try_next().await? {
        if rows.len() == cap {
            return Ok((rows, true));
        }
        rows.push(row);
    }
    Ok((rows, false))
}

/// Binds `args` to a compiled statement, in its order. Missing values bind as text NULL; use
/// [`bind_typed`] when the parameter types are known (PostgreSQL types NULLs strictly).
pub fn bind<'q>(
    compiled: &'q Compiled,
    args: &'q Map<String, Value>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    bind_typed(compiled, args, &|_| None)
}

/// Binds `args`, typing NULLs by `type_of(name)`. Booleans bind as 0/1 everywhere.
pub fn bind_typed<'q>(
    compiled: &'q Compiled,
    args: &'q Map<String, Value>,
    type_of: &dyn Fn(&str) -> Option<ParamType>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut q = sqlx::query(&compiled.sql);
    for name in &compiled.order {
        q = match args.get(name) {
            None | Some(Value::Null) => match type_of(name) {
                Some(ParamType::Integer | ParamType::Boolean) => q.bind(Option::<i64>::None),
                Some(ParamType::Number) => q.bind(Option::<f64>::None),
                _ => q.bind(Option::<String>::None),
            },
            Some(Value::Bool(b)) => q.bind(i64::from(*b)),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => q.bind(i),
                None => q.bind(n.as_f64().unwrap_or(0.0)),
            },
            Some(Value::String(s)) => q.bind(s.as_str()),
            Some(other) => q.bind(other.to_string()),
        };
    }
    q
}

/// A row as a JSON object.
pub fn row_to_json(row: &AnyRow) -> Map<String, Value> {
    let mut map = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let value = match row.try_get_raw(i) {
            Ok(raw) if raw.is_null() => Value::Null,
            Ok(raw) => {
                let ty = raw.type_info().name().to_ascii_uppercase();
                if ty.contains("BOOL") {
                    row.try_get::<bool, _>(i).map(Value::Bool).unwrap_or(Value::Null)
                } else if ty.contains("INT") {
                    row.try_get::<i64, _>(i).map(Value::from).unwrap_or(Value::Null)
                } else if ty.contains("REAL") || ty.contains("DOUBLE") || ty.contains("FLOAT") {
                    row.try_get::<f64, _>(i).map(Value::from).unwrap_or(Value::Null)
                } else {
                    row.try_get::<String, _>(i)
                        .map(Value::String)
                        .or_else(|_| row.try_get::<i64, _>(i).map(Value::from))
                        .or_else(|_| row.try_get::<f64, _>(i).map(Value::from))
                        .unwrap_or(Value::Null)
                }
            }
            Err(_) => Value::Null,
        };
        map.insert(column.name().to_owned(), value);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_and_never_spliced() {
        let sql = "SELECT * FROM t WHERE a = :a AND b = ':not' AND c::text = :c -- :comment\n AND d = :a";
        let pg = compile(sql, SourceKind::Postgres);
        assert_eq!(pg.sql, "SELECT * FROM t WHERE a = $1 AND b = ':not' AND c::text = $2 -- :comment\n AND d = $3");
        assert_eq!(pg.order, vec!["a", "c", "a"]);
        let lite = compile(sql, SourceKind::Sqlite);
        assert!(lite.sql.contains("a = ? AND b = ':not'"));
    }
}
