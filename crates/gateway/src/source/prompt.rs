//! Prompts: a minijinja template rendered with the prompt's arguments and the rows of its
//! `context` queries, and SQL-backed completion of its arguments.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use switchboard_mcp::protocol::prompts::{GetPromptResult, Prompt, PromptArgument, PromptMessage};
use switchboard_mcp::server::{HandlerError, Router};

use super::common::RegisterError;
use super::sql::{self, Database};
use crate::config::{self, ResultMode};

/// Registers the prompt `name`: a minijinja template rendered with its arguments and the rows of
/// its `context` queries; arguments with `complete` get SQL-backed completion.
pub fn register(
    mut router: Router,
    name: &str,
    p: &config::Prompt,
    dbs: &BTreeMap<String, Database>,
) -> Result<Router, RegisterError> {
    let mut env = minijinja::Environment::new();
    env.add_template_owned(name.to_owned(), p.template.clone())
        .map_err(|e| RegisterError::Invalid(format!("prompts.{name}: template: {e}")))?;
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
            .ok_or_else(|| RegisterError::Invalid(format!("prompts.{name}.context.{var}: unknown source")))?;
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
                let (rows, _) = sql::fetch_capped(sql::bind(compiled, &bound), &db.pool, sql::MAX_CONTEXT_ROWS)
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
        let db = dbs.get(&q.source).cloned().ok_or_else(|| {
            RegisterError::Invalid(format!("prompts.{name}.arguments.{arg}.complete: unknown source"))
        })?;
        let compiled =
            Arc::new(sql::compile(&crate::syntax::like::add_escape_clauses(&q.sql, |p| p == "prefix"), db.kind));
        router = router.prompt_completion(name, arg, move |value, _| {
            let (db, compiled) = (db.clone(), compiled.clone());
            async move {
                // `:prefix` is what was typed, as a LIKE prefix.
                let mut args = Map::new();
                // What was typed matches itself, wildcards included.
                args.insert("prefix".into(), Value::String(format!("{}%", crate::syntax::like::escape(&value))));
                let (rows, _) = sql::fetch_capped(sql::bind(&compiled, &args), &db.pool, sql::MAX_COMPLETION_ROWS)
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
