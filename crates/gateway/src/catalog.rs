//! Turns a [`Config`] into a served catalog: connects the databases and prepares the HTTP APIs,
//! then registers every SQL, native, HTTP and command tool, resource, resource template and
//! prompt on one SDK `Router`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use switchboard_mcp::protocol::content::ResourceContents;
use switchboard_mcp::protocol::prompts::{GetPromptResult, Prompt, PromptArgument, PromptMessage};
use switchboard_mcp::protocol::resources::{Resource, ResourceTemplate};
use switchboard_mcp::protocol::tools::{CallToolResult, Tool, ToolAnnotations};
use switchboard_mcp::protocol::JsonObject;
use switchboard_mcp::server::{HandlerError, Router, RouterError};

use crate::config::{self, Config, ParamType, ResultMode, SourceKind, ToolKind};
use crate::http::{self, Upstream};
use crate::native::{NativeTool, NativeTools};
use crate::sql::{self, Compiled, Database, DbError};

/// Everything a config serves.
#[derive(Debug)]
pub struct Catalog {
    /// The handlers.
    pub router: Router,
    /// The connected databases, by source name.
    pub databases: BTreeMap<String, Database>,
}

/// Why a catalog could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A database could not be reached or initialized.
    #[error(transparent)]
    Database(#[from] DbError),
    /// An HTTP API source or tool could not be set up.
    #[error(transparent)]
    Http(#[from] http::SetupError),
    /// A definition is invalid.
    #[error("{0}")]
    Invalid(String),
    /// A resource template does not parse.
    #[error(transparent)]
    Router(#[from] RouterError),
}

/// Connects every source and builds the catalog. `data_dir` holds embedded databases; `natives`
/// are the native tools the config may name.
pub async fn build(config: &Config, data_dir: &Path, natives: &NativeTools) -> Result<Catalog, BuildError> {
    let mut databases = BTreeMap::new();
    let mut upstreams = BTreeMap::new();
    for (name, source) in &config.sources {
        if source.kind == SourceKind::Http {
            upstreams.insert(name.clone(), Upstream::new(name, source)?);
        } else {
            databases.insert(name.clone(), sql::connect(name, source, data_dir, &config.base_dir).await?);
        }
    }
    let mut router = Router::new();
    for (name, tool) in config.tools.iter() {
        let kind = tool.kind().map_err(|m| BuildError::Invalid(format!("tools.{name}: {m}")))?;
        router = match kind {
            ToolKind::Native(native) => {
                let database = tool.source.as_ref().and_then(|s| databases.get(s)).cloned();
                let native = NativeTool { name, native, config: tool, database };
                natives.register(router, &native).map_err(BuildError::Invalid)?
            }
            ToolKind::Http(spec) => {
                let source = tool.source.as_deref().unwrap_or_default();
                let upstream = upstreams
                    .get(source)
                    .ok_or_else(|| BuildError::Invalid(format!("tools.{name}: {source:?} is not an http source")))?;
                http::register(router, name, tool, spec, upstream)?
            }
            ToolKind::Command(spec) => crate::command::register(router, config, name, tool, spec)?,
            ToolKind::Sql => sql_tool(router, name, tool, &databases)?,
        };
    }
    for resource in &config.resources {
        router = fixed_resource(router, resource, config, &databases)?;
    }
    for db in databases.values() {
        let db = db.clone();
        let mut r = Resource::new(format!("db://{}/schema", db.name), format!("{}-schema", db.name));
        r.description = Some(format!("Tables and columns of the {} database", db.name));
        r.mime_type = Some("application/json".into());
        router = router.resource(r, move |uri, _| {
            let db = db.clone();
            async move {
                let schema = db.describe().await.map_err(|e| HandlerError::msg(e.to_string()))?;
                Ok(vec![ResourceContents::text(uri, Some("application/json"), pretty(&schema))])
            }
        });
    }
    for t in &config.resource_templates {
        router = resource_template(router, t, &databases)?;
    }
    for (name, prompt) in config.prompts.iter() {
        router = template_prompt(router, name, prompt, &databases)?;
    }
    Ok(Catalog { router, databases })
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The `inputSchema` of a SQL tool's params.
pub fn input_schema(params: &config::indexmap_like::OrderedMap<config::Param>) -> JsonObject {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, p) in params.iter() {
        let mut s = Map::new();
        s.insert(
            "type".into(),
            json!(match p.kind {
                ParamType::String | ParamType::Path => "string",
                ParamType::Integer => "integer",
                ParamType::Number => "number",
                ParamType::Boolean => "boolean",
            }),
        );
        if let Some(d) = &p.description {
            s.insert("description".into(), json!(d));
        }
        if let Some(e) = &p.allowed {
            s.insert("enum".into(), json!(e));
        }
        if let Some(pat) = &p.pattern {
            s.insert("pattern".into(), json!(pat));
        }
        if let Some(m) = p.minimum {
            s.insert("minimum".into(), json!(m));
        }
        if let Some(m) = p.maximum {
            s.insert("maximum".into(), json!(m));
        }
        if let Some(m) = p.max_length {
            s.insert("maxLength".into(), json!(m));
        }
        if let Some(d) = &p.default {
            s.insert("default".into(), d.clone());
        }
        if p.required.unwrap_or(p.default.is_none()) {
            required.push(json!(name));
        }
        properties.insert(name.clone(), Value::Object(s));
    }
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    schema.insert("additionalProperties".into(), json!(false));
    schema
}

/// One statement, compiled for its database.
#[derive(Debug)]
struct Step {
    compiled: Compiled,
    guard: Option<String>,
    expect_rows: Option<String>,
}

/// A compiled SQL tool.
#[derive(Debug)]
struct SqlTool {
    name: String,
    steps: Vec<Step>,
    result: ResultMode,
    not_found: Option<String>,
    max_rows: usize,
    defaults: Map<String, Value>,
    types: BTreeMap<String, ParamType>,
    like: BTreeMap<String, config::LikeMode>,
}

fn sql_tool(
    router: Router,
    name: &str,
    tool: &config::Tool,
    dbs: &BTreeMap<String, Database>,
) -> Result<Router, BuildError> {
    let source = tool.source.as_deref().unwrap_or_default();
    let db = dbs
        .get(source)
        .cloned()
        .ok_or_else(|| BuildError::Invalid(format!("tools.{name}: unknown source {source:?}")))?;
    let read_only = tool.read_only.unwrap_or_else(|| {
        tool.statements.iter().all(|s| {
            s.sql.trim_start().to_ascii_uppercase().starts_with("SELECT")
                || s.sql.trim_start().to_ascii_uppercase().starts_with("WITH")
        })
    });
    let mut def = Tool::new(name, tool.description.clone(), input_schema(&tool.params));
    def.title = tool.title.clone();
    def.annotations = Some(ToolAnnotations {
        read_only_hint: Some(read_only),
        destructive_hint: (!read_only).then_some(false),
        open_world_hint: Some(false),
        ..ToolAnnotations::default()
    });
    def.output_schema = Some(Arc::new(output_schema(tool.result)));
    let compiled = Arc::new(SqlTool {
        name: name.to_owned(),
        steps: tool
            .statements
            .iter()
            .map(|s| Step {
                compiled: sql::compile(&s.sql, db.kind),
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
                config::LikeMode::Contains => format!("%{s}%"),
                config::LikeMode::Prefix => format!("{s}%"),
            };
        }
    }
    let type_of = |name: &str| tool.types.get(name).copied();
    let failed = |e: sqlx::Error| {
        tracing::warn!(target: "switchboard::gateway", tool = %tool.name, error = %e, "statement failed");
        HandlerError::msg(format!("{} failed in the database: {e}", tool.name))
    };
    // Every statement runs in one transaction: a guard or failure rolls all of them back.
    let mut tx = db.pool.begin().await.map_err(failed)?;
    let last = tool.steps.len().saturating_sub(1);
    let mut output = Value::Null;
    for (i, step) in tool.steps.iter().enumerate() {
        let query = sql::bind_typed(&step.compiled, &args, &type_of);
        if let Some(message) = &step.guard {
            let row = query.fetch_optional(&mut *tx).await.map_err(failed)?.map(|r| sql::row_to_json(&r));
            if !row.as_ref().is_some_and(truthy) {
                return Err(HandlerError::msg(fill(message, &args, row.as_ref())));
            }
            continue;
        }
        if i < last || tool.result == ResultMode::None {
            let done = query.execute(&mut *tx).await.map_err(failed)?;
            if let Some(message) = &step.expect_rows {
                if done.rows_affected() == 0 {
                    return Err(HandlerError::msg(fill(message, &args, None)));
                }
            }
            if i == last {
                output = json!({"affected": done.rows_affected()});
            }
            continue;
        }
        let rows = query.fetch_all(&mut *tx).await.map_err(failed)?;
        output = match tool.result {
            ResultMode::One => match rows.first() {
                Some(r) => Value::Object(sql::row_to_json(r)),
                None => {
                    let message = tool.not_found.as_deref().unwrap_or("no matching record");
                    return Err(HandlerError::msg(fill(message, &args, None)));
                }
            },
            _ => {
                let truncated = rows.len() > tool.max_rows;
                let rows: Vec<Value> =
                    rows.iter().take(tool.max_rows).map(|r| Value::Object(sql::row_to_json(r))).collect();
                json!({"rows": rows, "truncated": truncated})
            }
        };
    }
    tx.commit().await.map_err(failed)?;
    Ok(CallToolResult::structured(output))
}

fn fixed_resource(
    router: Router,
    r: &config::Resource,
    config: &Config,
    dbs: &BTreeMap<String, Database>,
) -> Result<Router, BuildError> {
    let mut def = Resource::new(r.uri.clone(), r.name.clone());
    def.description = r.description.clone();
    let is_md = r.file.as_ref().is_some_and(|f| f.extension().is_some_and(|e| e == "md"));
    let mime = r.mime_type.clone().unwrap_or_else(|| {
        if r.sql.is_some() {
            "application/json"
        } else if is_md {
            "text/markdown"
        } else {
            "text/plain"
        }
        .into()
    });
    def.mime_type = Some(mime.clone());
    if let Some(text) = &r.text {
        return Ok(router.text_resource(def, text.clone()));
    }
    if let Some(file) = &r.file {
        let path = config.resolve(file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| BuildError::Invalid(format!("resource {}: cannot read {}: {e}", r.uri, path.display())))?;
        return Ok(router.text_resource(def, text));
    }
    let (Some(query), Some(source)) = (&r.sql, &r.source) else {
        return Err(BuildError::Invalid(format!("resource {}: needs `text`, `file`, or `sql` with `source`", r.uri)));
    };
    let db = dbs
        .get(source)
        .cloned()
        .ok_or_else(|| BuildError::Invalid(format!("resource {}: unknown source {source:?}", r.uri)))?;
    let compiled = Arc::new(sql::compile(query, db.kind));
    Ok(router.resource(def, move |uri, _| {
        let (db, compiled, mime) = (db.clone(), compiled.clone(), mime.clone());
        async move {
            let args = Map::new();
            let rows =
                sql::bind(&compiled, &args).fetch_all(&db.pool).await.map_err(|e| HandlerError::msg(e.to_string()))?;
            let rows: Vec<Value> = rows.iter().map(|r| Value::Object(sql::row_to_json(r))).collect();
            Ok(vec![ResourceContents::text(uri, Some(&mime), pretty(&Value::Array(rows)))])
        }
    }))
}

fn resource_template(
    router: Router,
    t: &config::ResourceTemplate,
    dbs: &BTreeMap<String, Database>,
) -> Result<Router, BuildError> {
    let db = dbs
        .get(&t.source)
        .cloned()
        .ok_or_else(|| BuildError::Invalid(format!("resource template {}: unknown source", t.uri_template)))?;
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
            let rows =
                sql::bind(&compiled, &args).fetch_all(&db.pool).await.map_err(|e| HandlerError::msg(e.to_string()))?;
            let body = match rows.len() {
                0 => return Ok(None),
                1 => Value::Object(sql::row_to_json(&rows[0])),
                _ => Value::Array(rows.iter().map(|r| Value::Object(sql::row_to_json(r))).collect()),
            };
            Ok(Some(vec![ResourceContents::text(uri, Some("application/json"), pretty(&body))]))
        }
    })?)
}

fn template_prompt(
    mut router: Router,
    name: &str,
    p: &config::Prompt,
    dbs: &BTreeMap<String, Database>,
) -> Result<Router, BuildError> {
    let mut env = minijinja::Environment::new();
    env.add_template_owned(name.to_owned(), p.template.clone())
        .map_err(|e| BuildError::Invalid(format!("prompts.{name}: template: {e}")))?;
    let env = Arc::new(env);
    let mut def = Prompt::new(name).with_description(p.description.clone());
    for (arg, a) in p.arguments.iter() {
        let mut pa = PromptArgument::new(arg.clone(), a.required.unwrap_or(true));
        pa.description = a.description.clone();
        def = def.with_argument(pa);
    }
    let mut queries = Vec::new();
    for (var, q) in p.context.iter() {
        let db = dbs
            .get(&q.source)
            .cloned()
            .ok_or_else(|| BuildError::Invalid(format!("prompts.{name}.context.{var}: unknown source")))?;
        queries.push((var.clone(), db.clone(), sql::compile(&q.sql, db.kind), q.result));
    }
    let queries = Arc::new(queries);
    let prompt_name = name.to_owned();
    router = router.prompt(def, move |args, _| {
        let (env, queries, prompt_name) = (env.clone(), queries.clone(), prompt_name.clone());
        async move {
            let bound: Map<String, Value> = args.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            let mut vars = bound.clone();
            for (var, db, compiled, mode) in queries.iter() {
                let rows = sql::bind(compiled, &bound)
                    .fetch_all(&db.pool)
                    .await
                    .map_err(|e| HandlerError::msg(e.to_string()))?;
                let rows: Vec<Value> = rows.iter().map(|r| Value::Object(sql::row_to_json(r))).collect();
                let value = match mode {
                    ResultMode::One => rows.into_iter().next().unwrap_or(Value::Null),
                    _ => Value::Array(rows),
                };
                vars.insert(var.clone(), value);
            }
            let template = env.get_template(&prompt_name).map_err(|e| HandlerError::msg(e.to_string()))?;
            let text = template
                .render(Value::Object(vars))
                .map_err(|e| HandlerError::msg(format!("rendering {prompt_name}: {e}")))?;
            Ok(GetPromptResult {
                messages: vec![PromptMessage {
                    role: switchboard_mcp::protocol::content::Role::User,
                    content: switchboard_mcp::protocol::content::ContentBlock::text(text),
                }],
                ..Default::default()
            })
        }
    });
    for (arg, a) in p.arguments.iter() {
        let Some(q) = &a.complete else { continue };
        let db = dbs
            .get(&q.source)
            .cloned()
            .ok_or_else(|| BuildError::Invalid(format!("prompts.{name}.arguments.{arg}.complete: unknown source")))?;
        let compiled = Arc::new(sql::compile(&q.sql, db.kind));
        router = router.prompt_completion(name, arg, move |value, _| {
            let (db, compiled) = (db.clone(), compiled.clone());
            async move {
                // `:prefix` is what was typed, as a LIKE prefix.
                let mut args = Map::new();
                args.insert("prefix".into(), Value::String(format!("{value}%")));
                let rows = sql::bind(&compiled, &args)
                    .fetch_all(&db.pool)
                    .await
                    .map_err(|e| HandlerError::msg(e.to_string()))?;
                Ok(rows
                    .iter()
                    .filter_map(|r| {
                        sql::row_to_json(r).into_iter().next().and_then(|(_, v)| v.as_str().map(str::to_owned))
                    })
                    .collect())
            }
        });
    }
    Ok(router)
}
