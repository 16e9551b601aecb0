//! A tool's definition: name, schemas, annotations. Shared by `tools/list` and by sampling
//! requests that offer tools to the client's model.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::content::Icon;
use crate::{JsonObject, ProtocolVersion, Shape};

/// Behaviour hints about a tool (2025-03-26+). Hints only: never trust them for security.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    /// Display title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The tool does not modify its environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    /// The tool may destroy data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// Repeating a call has no further effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    /// The tool reaches an open world of external entities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
}

/// A tool definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    /// The unique name.
    pub name: String,
    /// Display name (2025-06-18+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the tool does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments (`type: object` at the root).
    pub input_schema: Arc<JsonObject>,
    /// JSON Schema of `structuredContent` (2025-06-18+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Arc<JsonObject>>,
    /// Behaviour hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ToolAnnotations>,
    /// Task support (2025-11-25 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<JsonObject>,
    /// Icons (2025-11-25+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<Icon>>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<JsonObject>,
}

impl Tool {
    /// A tool with a name, description and input schema.
    pub fn new(name: impl Into<String>, description: impl Into<String>, input_schema: JsonObject) -> Self {
        Self {
            name: name.into(),
            title: None,
            description: Some(description.into()),
            input_schema: Arc::new(input_schema),
            output_schema: None,
            annotations: None,
            execution: None,
            icons: None,
            meta: None,
        }
    }
}

impl Shape for Tool {
    fn shape(&mut self, v: ProtocolVersion) {
        if v.is_modern() || v < ProtocolVersion::V2025_11_25 {
            self.execution = None;
        }
        if v < ProtocolVersion::V2025_11_25 {
            self.icons = None;
        }
        if v < ProtocolVersion::V2025_06_18 {
            self.title = None;
            self.output_schema = None;
            self.meta = None;
        } else if !v.is_modern() {
            // Legacy revisions require an object-typed outputSchema; drop any other.
            if self.output_schema.as_ref().is_some_and(|s| s.get("type").and_then(|t| t.as_str()) != Some("object")) {
                self.output_schema = None;
            }
        }
        if v < ProtocolVersion::V2025_03_26 {
            self.annotations = None;
        }
    }
}
