//! Tools: definitions, `tools/list`, `tools/call`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::content::{ContentBlock, Icon};
use crate::meta::{RequestMeta, ResultMeta};
use crate::mrtr::InputResponses;
use crate::result::{shape_common, ResultType};
use crate::{CacheScope, JsonObject, ProtocolVersion, Shape};

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

/// Result of `tools/list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListToolsResult {
    /// The result kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType>,
    /// One page of tools.
    pub tools: Vec<Tool>,
    /// Where the next page starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Freshness hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// Cache scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_scope: Option<CacheScope>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ResultMeta>,
}

crate::impl_result_fields!(ListToolsResult, cacheable);

impl Shape for ListToolsResult {
    fn shape(&mut self, v: ProtocolVersion) {
        shape_common(self, v);
        self.tools.iter_mut().for_each(|t| t.shape(v));
    }
}

/// Params of `tools/call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallToolParams {
    /// The tool.
    pub name: String,
    /// The arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<JsonObject>,
    /// MRTR: answers to the previous round's input requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_responses: Option<InputResponses>,
    /// MRTR: the state echoed from the previous round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_state: Option<String>,
    /// Legacy tasks: run as a task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<crate::tasks::TaskMetadata>,
    /// Request metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<RequestMeta>,
}

/// Result of `tools/call`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallToolResult {
    /// The result kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType>,
    /// Unstructured content.
    pub content: Vec<ContentBlock>,
    /// Structured content, conforming to the tool's `outputSchema` (2025-06-18+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<serde_json::Value>,
    /// Whether the tool failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ResultMeta>,
}

crate::impl_result_fields!(CallToolResult);

impl CallToolResult {
    /// A successful result with one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self { content: vec![ContentBlock::text(text)], ..Self::default() }
    }

    /// A tool-level failure the model can see and correct (`isError: true`).
    pub fn error(text: impl Into<String>) -> Self {
        Self { content: vec![ContentBlock::text(text)], is_error: Some(true), ..Self::default() }
    }

    /// A successful result with structured content and its JSON text as the readable block.
    pub fn structured(value: serde_json::Value) -> Self {
        let text = value.to_string();
        Self { content: vec![ContentBlock::text(text)], structured_content: Some(value), ..Self::default() }
    }
}

impl Shape for CallToolResult {
    fn shape(&mut self, v: ProtocolVersion) {
        shape_common(self, v);
        if v < ProtocolVersion::V2025_06_18 {
            self.structured_content = None;
        } else if !v.is_modern() && self.structured_content.as_ref().is_some_and(|s| !s.is_object()) {
            // Legacy revisions only allow an object here; the text block still carries it.
            self.structured_content = None;
        }
        if v < ProtocolVersion::LATEST_LEGACY {
            self.content.iter_mut().for_each(|c| c.shape(v));
        }
    }
}
