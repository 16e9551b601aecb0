//! Getting acquainted: `initialize` (legacy), `server/discover` (modern), capabilities and
//! implementation info.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::capabilities::{
    ClientCapabilities, ElicitationCapability, Implementation, ListChangedCapability, ResourcesCapability,
    RootsCapability, SamplingCapability, ServerCapabilities,
};
use crate::meta::{RequestMeta, ResultMeta};
use crate::result::{shape_common, ResultType};
use crate::{CacheScope, ProtocolVersion, Shape};

/// Params of `initialize` (legacy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeParams {
    /// The newest version the client supports.
    pub protocol_version: String,
    /// The client's capabilities for the session.
    pub capabilities: ClientCapabilities,
    /// The client's identity.
    pub client_info: Implementation,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<RequestMeta>,
}

/// Result of `initialize` (legacy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeResult {
    /// The version the session will speak.
    pub protocol_version: String,
    /// The server's capabilities.
    pub capabilities: ServerCapabilities,
    /// The server's identity.
    pub server_info: Arc<Implementation>,
    /// Guidance for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ResultMeta>,
}

/// Result of `server/discover` (modern).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverResult {
    /// Always `complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType>,
    /// The versions the server speaks.
    pub supported_versions: Vec<String>,
    /// The server's capabilities.
    pub capabilities: ServerCapabilities,
    /// Guidance for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Freshness hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// Cache scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_scope: Option<CacheScope>,
    /// Metadata, including `serverInfo`.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ResultMeta>,
}

crate::impl_result_fields!(DiscoverResult, cacheable);

impl Shape for DiscoverResult {
    fn shape(&mut self, v: ProtocolVersion) {
        self.capabilities.shape(v);
        shape_common(self, v);
    }
}

impl Shape for InitializeResult {
    fn shape(&mut self, v: ProtocolVersion) {
        self.capabilities.shape(v);
        let info = Arc::make_mut(&mut self.server_info);
        info.shape(v);
    }
}
