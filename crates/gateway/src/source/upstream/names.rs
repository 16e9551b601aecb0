//! How upstream names are served: namespaces (`<prefix><separator><name>`, or as given in
//! `never` mode), resource URIs rewritten so reads route back, include/exclude patterns, and
//! tool transformation (rename, description, fixed and default arguments).

use std::sync::Arc;

use serde_json::Value;
use switchboard_protocol::tools::Tool;
use switchboard_protocol::JsonObject;

use crate::config::{glob_match, NamespaceMode, Namespacing, ToolTransform, UpstreamSpec};

/// The scheme of rewritten resource URIs: `upstream://<prefix>/<the upstream's URI>`.
pub const URI_SCHEME: &str = "upstream";

/// The config's namespacing, applied.
#[derive(Debug, Clone)]
pub struct Naming {
    mode: NamespaceMode,
    separator: String,
}

impl Naming {
    /// From the config's `namespacing:` section.
    pub fn new(config: &Namespacing) -> Self {
        Self { mode: config.mode, separator: config.separator.clone() }
    }

    /// The served name of a prompt (or tool) `name` of the upstream namespaced `prefix`.
    pub fn name(&self, prefix: &str, name: &str) -> String {
        match self.mode {
            NamespaceMode::Prefix => format!("{prefix}{}{name}", self.separator),
            NamespaceMode::Never => name.to_owned(),
        }
    }

    /// The served name of a tool: its rename if it has one, else [`Naming::name`].
    pub(crate) fn tool_name(&self, prefix: &str, name: &str, transform: &ToolTransform) -> String {
        transform.name.clone().unwrap_or_else(|| self.name(prefix, name))
    }

    /// How the resource URIs of the upstream namespaced `prefix` are served.
    pub(crate) fn uris(&self, prefix: &str) -> Uris {
        match self.mode {
            NamespaceMode::Prefix => Uris { prefix: Some(format!("{URI_SCHEME}://{prefix}/").into()) },
            NamespaceMode::Never => Uris { prefix: None },
        }
    }
}

/// One upstream's resource URIs: ours ↔ its own.
#[derive(Debug, Clone, Default)]
pub(crate) struct Uris {
    prefix: Option<Arc<str>>,
}

impl Uris {
    /// Our URI for the upstream's `uri` (templates too: the prefix is literal text).
    pub(crate) fn served(&self, uri: &str) -> String {
        match &self.prefix {
            Some(p) => format!("{p}{uri}"),
            None => uri.to_owned(),
        }
    }

    /// Whether our URIs carry a namespace (else they are the upstream's own).
    pub(crate) fn is_prefixed(&self) -> bool {
        self.prefix.is_some()
    }

    /// The upstream's URI for our `uri`, when it is one of this upstream's.
    pub(crate) fn original<'a>(&self, uri: &'a str) -> Option<&'a str> {
        match &self.prefix {
            Some(p) => uri.strip_prefix(&**p),
            None => Some(uri),
        }
    }
}

/// The variable names of an RFC 6570 URI template (`{id}`, `{+path}`, `{?q,page}`, `{list*}`,
/// `{name:3}`), in order, without repeats.
pub(crate) fn template_variables(template: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        let expression = rest[open + 1..open + close].trim_start_matches(['+', '#', '.', '/', ';', '?', '&']);
        for spec in expression.split(',') {
            let name = spec.split(':').next().unwrap_or_default().trim_end_matches('*');
            if !name.is_empty() && !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        rest = &rest[open + close + 1..];
    }
    names
}

/// Whether the upstream's tool `name` is served (its `include:` and `exclude:` patterns).
pub(crate) fn included(spec: &UpstreamSpec, name: &str) -> bool {
    let wanted = spec.include.as_ref().is_none_or(|patterns| patterns.iter().any(|p| glob_match(p, name)));
    wanted && !spec.exclude.iter().any(|p| glob_match(p, name))
}

/// The tool as served: renamed, described, fixed arguments removed from its schema and
/// defaulted ones marked (and no longer required).
pub(crate) fn transform_tool(tool: &Tool, served_name: String, transform: &ToolTransform) -> Result<Tool, String> {
    let mut served = tool.clone();
    served.name = served_name;
    if let Some(description) = &transform.description {
        served.description = Some(description.clone());
    }
    if transform.fixed.is_empty() && transform.defaults.is_empty() {
        return Ok(served);
    }
    let mut schema: JsonObject = (*tool.input_schema).clone();
    let mut properties = match schema.remove("properties") {
        Some(Value::Object(p)) => p,
        _ => JsonObject::new(),
    };
    let mut required: Vec<Value> = match schema.remove("required") {
        Some(Value::Array(r)) => r,
        _ => Vec::new(),
    };
    for (arg, value) in
        transform.defaults.iter().map(|(k, v)| (k, Some(v))).chain(transform.fixed.keys().map(|k| (k, None)))
    {
        let Some(property) = properties.get_mut(arg) else {
            return Err(format!("{arg:?} is not an argument of this tool"));
        };
        required.retain(|r| r.as_str() != Some(arg));
        match value {
            Some(default) => {
                if let Value::Object(p) = property {
                    p.insert("default".into(), default.clone());
                }
            }
            None => {
                properties.remove(arg);
            }
        }
    }
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    served.input_schema = Arc::new(schema);
    Ok(served)
}

/// The arguments sent upstream: defaults for what the caller left out, fixed values over
/// anything.
pub(crate) fn apply_arguments(transform: &ToolTransform, args: &mut JsonObject) {
    for (k, v) in &transform.defaults {
        args.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, v) in &transform.fixed {
        args.insert(k.clone(), v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn template_variables_cover_every_operator_form() {
        assert_eq!(template_variables("demo://resource/{type}/{id}"), ["type", "id"]);
        assert_eq!(template_variables("file:///{+path}{?q,page}{#frag}"), ["path", "q", "page", "frag"]);
        assert_eq!(template_variables("x://{list*}/{name:3}/{name}"), ["list", "name"]);
        assert!(template_variables("plain://no/vars").is_empty());
    }

    fn tool() -> Tool {
        let schema = json!({
            "type": "object",
            "properties": {"q": {"type": "string"}, "limit": {"type": "integer"}, "tenant": {"type": "string"}},
            "required": ["q", "tenant"],
            "additionalProperties": false
        });
        let Value::Object(schema) = schema else { unreachable!() };
        Tool::new("search", "Searches.", schema)
    }

    #[test]
    fn tools_are_transformed_and_their_arguments_filled() {
        let transform = ToolTransform {
            name: None,
            description: Some("Finds things.".into()),
            fixed: [("tenant".to_owned(), json!("acme"))].into(),
            defaults: [("limit".to_owned(), json!(5))].into(),
        };
        let naming = Naming::new(&Namespacing::default());
        let served = transform_tool(&tool(), naming.tool_name("docs", "search", &transform), &transform).expect("ok");
        assert_eq!(served.name, "docs_search");
        assert_eq!(served.description.as_deref(), Some("Finds things."));
        let schema = Value::Object((*served.input_schema).clone());
        assert_eq!(schema["properties"].get("tenant"), None, "a fixed argument is hidden");
        assert_eq!(schema["properties"]["limit"]["default"], json!(5));
        assert_eq!(schema["required"], json!(["q"]));
        let mut args = JsonObject::new();
        args.insert("q".into(), json!("x"));
        apply_arguments(&transform, &mut args);
        assert_eq!(Value::Object(args), json!({"q": "x", "limit": 5, "tenant": "acme"}));
        let bad = ToolTransform { fixed: [("nope".to_owned(), json!(1))].into(), ..ToolTransform::default() };
        assert!(transform_tool(&tool(), "x".into(), &bad).expect_err("refused").contains("\"nope\""));
    }

    #[test]
    fn uris_round_trip_and_never_mode_keeps_names() {
        let naming = Naming::new(&Namespacing::default());
        let uris = naming.uris("ev");
        let served = uris.served("test://static/resource/1");
        assert_eq!(served, "upstream://ev/test://static/resource/1");
        assert_eq!(uris.original(&served), Some("test://static/resource/1"));
        assert_eq!(uris.original("upstream://other/x"), None);
        let never = Naming::new(&Namespacing { mode: NamespaceMode::Never, separator: "_".into() });
        assert_eq!(never.name("ev", "echo"), "echo");
        assert_eq!(never.uris("ev").served("a://b"), "a://b");
    }
}
