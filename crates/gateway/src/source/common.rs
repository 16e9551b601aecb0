//! What every source shares: the error a registration fails with, and the `inputSchema` a tool's
//! declared params make.

use indexmap::IndexMap;
use serde_json::{json, Map, Value};
use switchboard_mcp::protocol::JsonObject;
use switchboard_mcp::server::RouterError;

use crate::config::{self, ParamType};

/// Why a source could not register an entry of the config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// A definition is invalid (the message starts with its key path).
    #[error("{0}")]
    Invalid(String),
    /// A resource template does not parse.
    #[error(transparent)]
    Router(#[from] RouterError),
}

/// The `inputSchema` of a tool's declared params.
pub fn input_schema(params: &IndexMap<String, config::Param>) -> JsonObject {
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

/// A JSON value as indented text (resource contents).
pub(crate) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}
