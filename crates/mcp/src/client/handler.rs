//! What the client does when the server asks something of it (sampling, elicitation, roots) or
//! tells it something (notifications). The same handler serves both eras: legacy servers send
//! server-to-client requests; modern servers embed them in an `InputRequiredResult`.

use futures_util::future::BoxFuture;
use serde_json::Value;
use switchboard_protocol::client::{
    CreateMessageParams, CreateMessageResult, ElicitAction, ElicitParams, ElicitResult, ListRootsResult,
};
use switchboard_protocol::lifecycle::{ClientCapabilities, ElicitationCapability, RootsCapability, SamplingCapability};
use switchboard_protocol::{methods, ErrorCode, ErrorObject, JsonObject};

/// Answers the server's requests and observes its notifications. Every method has a default,
/// so a handler implements only what its application supports; [`ClientHandler::capabilities`]
/// must then declare exactly that.
pub trait ClientHandler: Send + Sync + 'static {
    /// The capabilities this handler provides (declared in `initialize` or in every modern
    /// request's `_meta`). Default: none.
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default()
    }

    /// `sampling/createMessage`: run the model. Default: refused.
    fn create_message(
        &self,
        params: CreateMessageParams,
    ) -> BoxFuture<'static, Result<CreateMessageResult, ErrorObject>> {
        let _ = params;
        Box::pin(async { Err(ErrorObject::new(ErrorCode::METHOD_NOT_FOUND, "this client does not support sampling")) })
    }

    /// `elicitation/create`: ask the user. Default: declined.
    fn elicit(&self, params: ElicitParams) -> BoxFuture<'static, Result<ElicitResult, ErrorObject>> {
        let _ = params;
        Box::pin(async { Ok(ElicitResult { action: ElicitAction::Decline, content: None, meta: None }) })
    }

    /// `roots/list`: the client's roots. Default: refused.
    fn list_roots(&self) -> BoxFuture<'static, Result<ListRootsResult, ErrorObject>> {
        Box::pin(async { Err(ErrorObject::new(ErrorCode::METHOD_NOT_FOUND, "this client does not expose roots")) })
    }

    /// Whether accepted elicitation answers get the requested schema's `default` values for the
    /// fields the handler left out (SEP-1034). Default: yes.
    fn apply_elicitation_defaults(&self) -> bool {
        true
    }

    /// Any notification from the server (progress is also routed to the call that asked for it).
    fn notification(&self, method: &str, params: &Value) {
        let _ = (method, params);
    }
}

/// A handler that supports nothing: the server learns the client has no capabilities.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHandler;

impl ClientHandler for NoHandler {}

/// Runs one server request through the handler and returns the result as JSON. Elicitation
/// answers get the requested schema's defaults for fields the handler left out (SEP-1034).
pub(crate) async fn answer(
    handler: &dyn ClientHandler,
    method: &str,
    params: Option<Value>,
) -> Result<Value, ErrorObject> {
    let decode = |p: Option<Value>| -> Result<Value, ErrorObject> {
        p.ok_or_else(|| ErrorObject::invalid_params(format!("{method} needs params")))
    };
    let encoded = match method {
        methods::PING => return Ok(Value::Object(JsonObject::new())),
        methods::SAMPLING_CREATE_MESSAGE => {
            let params: CreateMessageParams = serde_json::from_value(decode(params)?)
                .map_err(|e| ErrorObject::invalid_params(format!("invalid sampling request: {e}")))?;
            serde_json::to_value(handler.create_message(params).await?)
        }
        methods::ELICITATION_CREATE => {
            let params: ElicitParams = serde_json::from_value(decode(params)?)
                .map_err(|e| ErrorObject::invalid_params(format!("invalid elicitation request: {e}")))?;
            let schema = params.requested_schema.clone();
            let mut result = handler.elicit(params).await?;
            if handler.apply_elicitation_defaults() && result.action == ElicitAction::Accept {
                if let Some(schema) = schema {
                    apply_defaults(&schema, result.content.get_or_insert_with(JsonObject::new));
                }
            }
            serde_json::to_value(result)
        }
        methods::ROOTS_LIST => serde_json::to_value(handler.list_roots().await?),
        other => {
            return Err(ErrorObject::new(ErrorCode::METHOD_NOT_FOUND, format!("the client does not handle {other}")))
        }
    };
    encoded.map_err(|e| ErrorObject::internal(format!("could not encode the answer to {method}: {e}")))
}

/// Fills fields the user left out with the schema's `default` values.
pub fn apply_defaults(schema: &JsonObject, content: &mut JsonObject) {
    let Some(Value::Object(props)) = schema.get("properties") else { return };
    for (name, prop) in props {
        if content.contains_key(name) {
            continue;
        }
        if let Some(default) = prop.get("default") {
            content.insert(name.clone(), default.clone());
        }
    }
}

/// Capabilities declaring sampling, form elicitation and roots.
pub fn full_capabilities() -> ClientCapabilities {
    ClientCapabilities {
        roots: Some(RootsCapability { list_changed: Some(true) }),
        sampling: Some(SamplingCapability::default()),
        elicitation: Some(ElicitationCapability { form: Some(JsonObject::new()), url: None }),
        ..Default::default()
    }
}
