//! `find_tools` (`find_tools: true`): a search by words over the names and descriptions of the
//! tools the caller may use, answering with the best few definitions, so a host with hundreds of
//! tools behind one endpoint can offer the model this one first. It reads the snapshot its own
//! call runs against and that snapshot's policy, so it never shows a tool the caller could not
//! call (roles, toolsets) and shows each as the caller would list it (bound parameters hidden).

use std::sync::Arc;

use serde_json::{json, Value};
use switchboard_mcp::server::{HandlerError, RequestContext, Router, ValidatedArgs};
use switchboard_protocol::content::ContentBlock;
use switchboard_protocol::tools::{CallToolResult, Tool, ToolAnnotations};

/// The tool's name.
pub const NAME: &str = "find_tools";
/// Definitions returned when the caller does not say.
const DEFAULT_LIMIT: usize = 5;
/// The most definitions one call returns.
const MAX_LIMIT: usize = 20;

/// Adds `find_tools` to `router`.
pub(crate) fn register(router: Router) -> Router {
    let schema = json!({
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1, "maxLength": 500,
                      "description": "What the tool should do, in a few words (e.g. \"refund an order\")."},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT,
                      "description": "How many tool definitions to return."}
        },
        "required": ["query"],
        "additionalProperties": false
    });
    let Value::Object(schema) = schema else { return router };
    let mut tool = Tool::new(
        NAME,
        "Finds the tools for a task: give a few words, get the best matching tool definitions \
         (name, description, input schema) among those you may call. Then call the one you need.",
        schema,
    );
    tool.annotations = Some(ToolAnnotations {
        read_only_hint: Some(true),
        idempotent_hint: Some(true),
        open_world_hint: Some(false),
        destructive_hint: Some(false),
        ..ToolAnnotations::default()
    });
    router.tool(tool, |args: ValidatedArgs, ctx: RequestContext| async move { find(args, ctx) })
}

fn find(args: ValidatedArgs, ctx: RequestContext) -> Result<CallToolResult, HandlerError> {
    let args = args.into_object();
    let query = args.get("query").and_then(Value::as_str).unwrap_or_default();
    let limit = args
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_LIMIT, |l| usize::try_from(l).unwrap_or(MAX_LIMIT))
        .clamp(1, MAX_LIMIT);
    let catalog = ctx.catalog().ok_or_else(|| HandlerError::msg("find_tools runs only as a tools/call"))?;
    let policy = catalog.policy();
    let principal = ctx.principal();
    let words = words(query);
    let mut scored: Vec<(u32, Arc<Tool>)> = catalog
        .tools()
        .entries()
        .iter()
        .filter(|e| e.tool().name != NAME && policy.allows_tool(&e.tool().name, principal))
        .filter_map(|e| {
            let score = score(&words, e.tool());
            (score > 0).then(|| (score, Arc::new(policy.shape_tool(e.tool(), principal).into_owned())))
        })
        .collect();
    // Best first; equal scores in catalog order (stable sort).
    scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    let found: Vec<Value> = scored
        .into_iter()
        .take(limit)
        .map(|(_, tool)| {
            json!({
                "name": tool.name,
                "title": tool.title,
                "description": tool.description,
                "inputSchema": &*tool.input_schema,
                "annotations": tool.annotations,
            })
        })
        .collect();
    let none = found.is_empty();
    let mut result = CallToolResult::structured(json!({ "tools": found }));
    if none {
        result.content =
            vec![ContentBlock::text(format!("No tool matches {query:?}. Try other words, or list the tools."))];
    }
    Ok(result)
}

/// Lowercase words of at least three characters (shorter ones, "an", "of", "to", match noise).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= 3).map(str::to_lowercase).collect()
}

/// How well `tool` matches: a word that is a whole word of the name counts most, one inside the
/// name next, one in the title or description least.
fn score(query: &[String], tool: &Tool) -> u32 {
    let name = tool.name.to_lowercase();
    let name_words = words(&name);
    let text =
        format!("{} {}", tool.title.as_deref().unwrap_or_default(), tool.description.as_deref().unwrap_or_default())
            .to_lowercase();
    let text_words = words(&text);
    query
        .iter()
        .map(|w| {
            let stem = w.trim_end_matches('s');
            if name_words.iter().any(|n| n == w || n.trim_end_matches('s') == stem) {
                6
            } else if name.contains(stem) {
                4
            } else if text_words.iter().any(|t| t == w || t.trim_end_matches('s') == stem) {
                2
            } else {
                u32::from(text.contains(stem))
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, description: &str) -> Tool {
        let Value::Object(schema) = json!({"type": "object"}) else { unreachable!() };
        Tool::new(name, description, schema)
    }

    #[test]
    fn names_count_more_than_descriptions() {
        let q = words("refund an order");
        let refund = score(&q, &tool("process_refund", "Refunds part or all of a paid order."));
        let status = score(&q, &tool("get_order_status", "Where an order is."));
        let weather = score(&q, &tool("weather", "Forecasts."));
        assert!(refund > status && status > weather, "{refund} {status} {weather}");
        assert_eq!(weather, 0);
        assert_eq!(words("Get-Order_status!"), ["get", "order", "status"]);
    }
}
