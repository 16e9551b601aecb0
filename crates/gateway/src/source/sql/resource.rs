//! SQL-backed resources: a fixed resource whose contents are a query's rows, resource templates
//! whose variables are a query's `:name` placeholders, and each database's
//! `db://<source>/schema` resource.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use switchboard_mcp::protocol::content::ResourceContents;
use switchboard_mcp::protocol::resources::{Resource, ResourceTemplate};
use switchboard_mcp::server::{HandlerError, Router};

use super::db::Database;
use super::statement as sql;
use crate::config;
use crate::source::common::{pretty, RegisterError};

/// Registers the resource `def`, whose contents are the rows of `r.sql` on `r.source`, as JSON.
pub fn query_resource(
    router: Router,
    def: Resource,
    r: &config::Resource,
    dbs: &BTreeMap<String, Database>,
) -> Result<Router, RegisterError> {
    let mime = def.mime_type.clone().unwrap_or_else(|| "application/json".into());
    let (Some(query), Some(source)) = (&r.sql, &r.source) else {
        return Err(RegisterError::Invalid(format!(
            "resource {}: needs `text`, `file`, or `sql` with `source`",
            r.uri
        )));
    };
    let db = dbs
        .get(source)
        .cloned()
        .ok_or_else(|| RegisterError::Invalid(format!("resource {}: unknown source {source:?}", r.uri)))?;
    let compiled = Arc::new(sql::compile(query, db.kind));
    Ok(router.resource(def, move |uri, _| {
        let (db, compiled, mime) = (db.clone(), compiled.clone(), mime.clone());
        async move {
            let args = Map::new();
            let (rows, _) = sql::fetch_capped(sql::bind(&compiled, &args), &db.pool, sql::MAX_CONTEXT_ROWS)
                .await
                .map_err(|e| HandlerError::msg(e.to_string()))?;
            let rows: Vec<Value> = rows.iter().map(|r| Value::Object(sql::row_to_json(r))).collect();
            Ok(vec![ResourceContents::text(uri, Some(&mime), pretty(&Value::Array(rows)))])
        }
    }))
}

/// Registers the resource template `t`: its query's rows (one row: an object; several: an array;
/// none: no such resource).
pub fn resource_template(
    router: Router,
    t: &config::ResourceTemplate,
    dbs: &BTreeMap<String, Database>,
) -> Result<Router, RegisterError> {
    let db = dbs
        .get(&t.source)
        .cloned()
        .ok_or_else(|| RegisterError::Invalid(format!("resource template {}: unknown source", t.uri_template)))?;
    let compiled = Arc::new(sql::compile(&t.sql, db.kind));
    let def = ResourceTemplate {
        uri_template: t.uri_template.clone(),
        name: t.name.clone(),
        title: None,
        description: t.description.clone(),
        mime_type: Some("application/json".into()),
        icons: None,
        annotations: None,
        meta: None,
    };
    Ok(router.resource_template(def, move |uri, vars, _| {
        let (db, compiled) = (db.clone(), compiled.clone());
        async move {
            let args: Map<String, Value> = vars.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let (rows, _) = sql::fetch_capped(sql::bind(&compiled, &args), &db.pool, sql::MAX_CONTEXT_ROWS)
                .await
                .map_err(|e| HandlerError::msg(e.to_string()))?;
            let body = match rows.len() {
                0 => return Ok(None),
                1 => Value::Object(sql::row_to_json(&rows[0])),
                _ => Value::Array(rows.iter().map(|r| Value::Object(sql::row_to_json(r))).collect()),
            };
            Ok(Some(vec![ResourceContents::text(uri, Some("application/json"), pretty(&body))]))
        }
    })?)
}

/// Registers `db://<source>/schema`, the tables and columns of `db`.
pub fn schema_resource(router: Router, db: &Database) -> Router {
    let db = db.clone();
    let mut r = Resource::new(format!("db://{}/schema", db.name), format!("{}-schema", db.name));
    r.description = Some(format!("Tables and columns of the {} database", db.name));
    r.mime_type = Some("application/json".into());
    router.resource(r, move |uri, _| {
        let db = db.clone();
        async move {
            let schema = db.describe().await.map_err(|e| HandlerError::msg(e.to_string()))?;
            Ok(vec![ResourceContents::text(uri, Some("application/json"), pretty(&schema))])
        }
    })
}
