//! `subscriptions/listen` (modern era): a long-lived request whose stream carries the
//! list-changed and resource-updated notifications the client opted in to.

use serde::{Deserialize, Serialize};

use crate::lifecycle::Implementation;
use crate::meta::{NotificationMeta, RequestMeta};
use crate::result::ResultType;
use crate::{JsonObject, RequestId};

/// Which notifications a client wants on a listen stream; everything is opt-in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionFilter {
    /// `notifications/tools/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools_list_changed: Option<bool>,
    /// `notifications/prompts/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts_list_changed: Option<bool>,
    /// `notifications/resources/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources_list_changed: Option<bool>,
    /// `notifications/resources/updated` for these URIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_subscriptions: Option<Vec<String>>,
}

/// Params of `subscriptions/listen`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenParams {
    /// What to deliver.
    pub notifications: SubscriptionFilter,
    /// Request metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<RequestMeta>,
}

/// Params of `notifications/subscriptions/acknowledged`: the subset the server will honour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcknowledgedParams {
    /// The honoured filter.
    pub notifications: SubscriptionFilter,
    /// Carries the subscription id.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<NotificationMeta>,
}

/// `_meta` of a listen result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenResultMeta {
    /// The subscription this result closes (the listen request's id).
    #[serde(rename = "io.modelcontextprotocol/subscriptionId")]
    pub subscription_id: RequestId,
    /// The server's identity.
    #[serde(rename = "io.modelcontextprotocol/serverInfo", default, skip_serializing_if = "Option::is_none")]
    pub server_info: Option<std::sync::Arc<Implementation>>,
    /// Other keys.
    #[serde(flatten)]
    pub other: JsonObject,
}

/// Result of `subscriptions/listen`, sent only when the server ends the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenResult {
    /// Always `complete`.
    pub result_type: ResultType,
    /// Identifies the closed subscription.
    #[serde(rename = "_meta")]
    pub meta: ListenResultMeta,
}
