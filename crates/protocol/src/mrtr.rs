//! Multi round-trip requests (modern era): a server that needs sampling, elicitation or roots
//! answers `InputRequiredResult`; the client fulfils the embedded requests and retries the
//! original request with `inputResponses` and the echoed `requestState`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::client::{CreateMessageParams, CreateMessageResult, ElicitParams, ElicitResult, ListRootsResult};
use crate::meta::ResultMeta;
use crate::result::{shape_common, ResultType};
use crate::{methods, JsonObject, ProtocolVersion, Shape};

/// A request the server needs the client to fulfil: `{method, params}` without an id.
///
/// Kept as method plus raw params so unknown members round-trip; [`InputRequest::kind`] gives the
/// typed view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputRequest {
    /// `sampling/createMessage`, `elicitation/create` or `roots/list`.
    pub method: String,
    /// The request's params.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    /// Members this crate does not know, kept as they came.
    #[serde(flatten)]
    pub extra: JsonObject,
}

/// The typed view of an [`InputRequest`].
#[derive(Debug, Clone, PartialEq)]
pub enum InputRequestKind {
    /// `sampling/createMessage`.
    CreateMessage(CreateMessageParams),
    /// `elicitation/create`.
    Elicit(ElicitParams),
    /// `roots/list`.
    ListRoots,
}

impl InputRequest {
    fn with(method: &str, params: Option<serde_json::Value>) -> Self {
        Self { method: method.to_owned(), params, extra: JsonObject::new() }
    }

    /// A sampling request.
    pub fn create_message(params: &CreateMessageParams) -> Self {
        Self::with(methods::SAMPLING_CREATE_MESSAGE, serde_json::to_value(params).ok())
    }

    /// An elicitation request.
    pub fn elicit(params: &ElicitParams) -> Self {
        Self::with(methods::ELICITATION_CREATE, serde_json::to_value(params).ok())
    }

    /// A roots request.
    pub fn list_roots() -> Self {
        Self::with(methods::ROOTS_LIST, None)
    }

    /// Parses the params by method.
    pub fn kind(&self) -> Result<InputRequestKind, String> {
        let params = || self.params.clone().ok_or_else(|| format!("{} needs params", self.method));
        match self.method.as_str() {
            methods::SAMPLING_CREATE_MESSAGE => {
                serde_json::from_value(params()?).map(InputRequestKind::CreateMessage).map_err(|e| e.to_string())
            }
            methods::ELICITATION_CREATE => {
                serde_json::from_value(params()?).map(InputRequestKind::Elicit).map_err(|e| e.to_string())
            }
            methods::ROOTS_LIST => Ok(InputRequestKind::ListRoots),
            other => Err(format!("unknown input request method {other:?}")),
        }
    }

    /// The client capability this request needs: its name and a `ClientCapabilities` fragment.
    pub fn required_capability(&self) -> (&'static str, serde_json::Value) {
        match self.method.as_str() {
            methods::SAMPLING_CREATE_MESSAGE => ("sampling", serde_json::json!({ "sampling": {} })),
            methods::ROOTS_LIST => ("roots", serde_json::json!({ "roots": {} })),
            _ => ("elicitation", serde_json::json!({ "elicitation": {} })),
        }
    }
}

/// The client's answer to one input request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InputResponse {
    /// Answer to sampling.
    CreateMessage(Box<CreateMessageResult>),
    /// Answer to roots.
    ListRoots(ListRootsResult),
    /// Answer to elicitation.
    Elicit(ElicitResult),
}

/// Input requests by server-chosen key.
pub type InputRequests = BTreeMap<String, InputRequest>;
/// Input responses by the same keys.
pub type InputResponses = BTreeMap<String, InputResponse>;

/// The server needs input before it can finish the request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputRequiredResult {
    /// Always `input_required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType>,
    /// What the client must fulfil.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_requests: Option<InputRequests>,
    /// Opaque state to echo on the retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_state: Option<String>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ResultMeta>,
}

crate::impl_result_fields!(InputRequiredResult);

impl Shape for InputRequiredResult {
    fn shape(&mut self, v: ProtocolVersion) {
        shape_common(self, v);
    }
}
