//! From MCP tools to what a provider accepts: names limited to `[A-Za-z0-9_-]{1,64}` with a
//! mapping back that cannot collide, and schemas with their `$ref`s inlined.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use switchboard_protocol::tools::Tool;

use crate::provider::ToolSpec;

/// The longest tool name providers accept.
const MAX_NAME: usize = 64;
/// How deep `$ref`s are followed before a recursive schema is cut to `{}`.
const MAX_REF_DEPTH: usize = 8;

/// The tools offered to a model and the way back from its names to the server's.
#[derive(Debug, Clone, Default)]
pub struct ToolNames {
    specs: Vec<ToolSpec>,
    to_mcp: BTreeMap<String, Tool>,
}

impl ToolNames {
    /// Converts `tools`, in their order.
    pub fn new(tools: impl IntoIterator<Item = Tool>) -> Self {
        let mut names = Self::default();
        for tool in tools {
            let name = names.unique(&tool.name);
            let parameters = inline_refs(&Value::Object((*tool.input_schema).clone()));
            let description = tool.description.clone().or_else(|| tool.title.clone()).unwrap_or_default();
            names.specs.push(ToolSpec { name: name.clone(), description, parameters });
            names.to_mcp.insert(name, tool);
        }
        names
    }

    /// What the model is offered.
    pub fn specs(&self) -> &[ToolSpec] {
        &self.specs
    }

    /// The server's tool behind a provider-side name.
    pub fn tool(&self, provider_name: &str) -> Option<&Tool> {
        self.to_mcp.get(provider_name)
    }

    /// A provider-safe name for `mcp_name` that no earlier tool has taken.
    fn unique(&self, mcp_name: &str) -> String {
        let mut base: String = mcp_name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
            .take(MAX_NAME)
            .collect();
        if base.is_empty() {
            base.push_str("tool");
        }
        if !self.to_mcp.contains_key(&base) {
            return base;
        }
        (2..)
            .map(|n| {
                let suffix = format!("_{n}");
                let keep = MAX_NAME - suffix.len();
                format!("{}{suffix}", base.chars().take(keep).collect::<String>())
            })
            .find(|candidate| !self.to_mcp.contains_key(candidate))
            .unwrap_or(base)
    }
}

/// `schema` with every local `$ref` (`#/$defs/…`, `#/definitions/…`) replaced by its target and
/// the definitions dropped: several providers reject references.
pub fn inline_refs(schema: &Value) -> Value {
    let defs = schema.get("$defs").or_else(|| schema.get("definitions")).cloned().unwrap_or(Value::Null);
    let mut out = resolve(schema, &defs, 0);
    if let Value::Object(map) = &mut out {
        map.remove("$defs");
        map.remove("definitions");
        if !map.contains_key("type") {
            map.insert("type".into(), Value::String("object".into()));
        }
        if map.get("type").and_then(Value::as_str) == Some("object") && !map.contains_key("properties") {
            map.insert("properties".into(), Value::Object(Map::new()));
        }
    }
    out
}

fn resolve(value: &Value, defs: &Value, depth: usize) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref").and_then(Value::as_str) {
                let name = target.strip_prefix("#/$defs/").or_else(|| target.strip_prefix("#/definitions/"));
                let found = name.and_then(|n| defs.get(n));
                return match found {
                    Some(def) if depth < MAX_REF_DEPTH => {
                        let mut inlined = resolve(def, defs, depth + 1);
                        // Siblings of `$ref` (a description) stay.
                        if let Value::Object(target) = &mut inlined {
                            for (k, v) in map.iter().filter(|(k, _)| k.as_str() != "$ref") {
                                target.entry(k.clone()).or_insert_with(|| resolve(v, defs, depth));
                            }
                        }
                        inlined
                    }
                    _ => Value::Object(Map::new()),
                };
            }
            Value::Object(
                map.iter()
                    .filter(|(k, _)| k.as_str() != "$defs" && k.as_str() != "definitions")
                    .map(|(k, v)| (k.clone(), resolve(v, defs, depth)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, defs, depth)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, schema: Value) -> Tool {
        let Value::Object(schema) = schema else { panic!("schema is an object") };
        Tool::new(name, "", schema)
    }

    #[test]
    fn names_are_made_safe_and_never_collide() {
        let names = ToolNames::new([
            tool("github.search", json!({})),
            tool("github_search", json!({})),
            tool("github/search", json!({})),
            tool(&"x".repeat(80), json!({})),
        ]);
        let provider: Vec<&str> = names.specs().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(provider[..3], ["github_search", "github_search_2", "github_search_3"]);
        assert_eq!(provider[3].len(), 64);
        assert_eq!(names.tool("github_search_2").map(|t| t.name.as_str()), Some("github_search"));
        assert_eq!(names.tool("github_search").map(|t| t.name.as_str()), Some("github.search"));
    }

    #[test]
    fn references_are_inlined() {
        let schema = json!({
            "type": "object",
            "properties": {"item": {"$ref": "#/$defs/Item", "description": "the item"}, "list": {"type": "array", "items": {"$ref": "#/$defs/Item"}}},
            "$defs": {"Item": {"type": "object", "properties": {"sku": {"type": "string"}}}}
        });
        let out = inline_refs(&schema);
        assert_eq!(out["properties"]["item"]["properties"]["sku"]["type"], "string");
        assert_eq!(out["properties"]["item"]["description"], "the item");
        assert_eq!(out["properties"]["list"]["items"]["properties"]["sku"]["type"], "string");
        assert!(out.get("$defs").is_none());
        // A recursive definition is cut, not followed forever.
        let recursive = json!({"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}, "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}}});
        assert!(inline_refs(&recursive).to_string().len() < 2000);
    }
}
