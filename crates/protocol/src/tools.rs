//! Tools: definitions, `tools/list`, `tools/call`.

use serde::{Deserialize, Serialize};

use crate::content::ContentBlock;
use crate::meta::{RequestMeta, ResultMeta};
use crate::mrtr::InputResponses;
use crate::result::{shape_common, ResultType};
pub use crate::tool::{Tool, ToolAnnotations};
use crate::{CacheScope, JsonObject, ProtocolVersion, Shape};

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
