//! Typed tools: input schemas derived from argument types and output schemas from return types
//! (via `schemars`), and [`IntoToolResult`] for everything a tool function may return.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use switchboard_protocol::content::ContentBlock;
use switchboard_protocol::tools::CallToolResult;
use switchboard_protocol::JsonObject;

use super::HandlerError;

/// Structured output: the value becomes `structuredContent` (and a JSON text block), and its
/// type's schema becomes the tool's `outputSchema`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

/// Values a tool function may return.
pub trait IntoToolResult {
    /// The tool's `outputSchema`, when the type has one.
    fn output_schema() -> Option<JsonObject> {
        None
    }

    /// Converts the value into a result.
    fn into_tool_result(self) -> Result<CallToolResult, HandlerError>;
}

impl IntoToolResult for CallToolResult {
    fn into_tool_result(self) -> Result<CallToolResult, HandlerError> {
        Ok(self)
    }
}

impl IntoToolResult for String {
    fn into_tool_result(self) -> Result<CallToolResult, HandlerError> {
        Ok(CallToolResult::text(self))
    }
}

impl IntoToolResult for &'static str {
    fn into_tool_result(self) -> Result<CallToolResult, HandlerError> {
        Ok(CallToolResult::text(self))
    }
}

impl IntoToolResult for ContentBlock {
    fn into_tool_result(self) -> Result<CallToolResult, HandlerError> {
        Ok(CallToolResult { content: vec![self], ..CallToolResult::default() })
    }
}

impl IntoToolResult for Vec<ContentBlock> {
    fn into_tool_result(self) -> Result<CallToolResult, HandlerError> {
        Ok(CallToolResult { content: self, ..CallToolResult::default() })
    }
}

impl IntoToolResult for () {
    fn into_tool_result(self) -> Result<CallToolResult, HandlerError> {
        Ok(CallToolResult::default())
    }
}

macro_rules! display_results {
    ($($t:ty),*) => {$(
        impl IntoToolResult for $t {
            fn into_tool_result(self) -> Result<CallToolResult, HandlerError> {
                Ok(CallToolResult::text(self.to_string()))
            }
        }
    )*};
}
display_results!(bool, char, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);

impl<T: IntoToolResult, E: Into<HandlerError>> IntoToolResult for Result<T, E> {
    fn output_schema() -> Option<JsonObject> {
        T::output_schema()
    }

    fn into_tool_result(self) -> Result<CallToolResult, HandlerError> {
        self.map_err(Into::into)?.into_tool_result()
    }
}

impl<T: Serialize + JsonSchema> IntoToolResult for Json<T> {
    fn output_schema() -> Option<JsonObject> {
        let schema = schema_of::<T>();
        Some(if is_object_schema(&schema) { schema } else { wrap_schema(schema) })
    }

    fn into_tool_result(self) -> Result<CallToolResult, HandlerError> {
        let value = serde_json::to_value(&self.0)
            .map_err(|e| HandlerError::msg(format!("could not encode the result: {e}")))?;
        let schema_is_object = is_object_schema(&schema_of::<T>());
        let value = if schema_is_object { value } else { serde_json::json!({ "result": value }) };
        Ok(CallToolResult::structured(value))
    }
}

/// The JSON Schema (2020-12) of `T`, without the `$schema` marker (2020-12 is the default).
pub fn schema_of<T: JsonSchema>() -> JsonObject {
    let schema = schemars::SchemaGenerator::default().into_root_schema_for::<T>();
    let mut map = match schema.to_value() {
        Value::Object(map) => map,
        // `true`/`false` schemas: accept anything as an open object.
        _ => JsonObject::new(),
    };
    // 2020-12 is the default dialect, and the type's name says nothing to a client.
    map.remove("$schema");
    map.remove("title");
    map
}

/// The input schema for argument type `A`; it must describe an object.
pub fn input_schema_of<A: JsonSchema>() -> JsonObject {
    let mut schema = schema_of::<A>();
    if !is_object_schema(&schema) {
        // A unit or empty argument type: no arguments.
        schema = JsonObject::new();
        schema.insert("type".into(), "object".into());
    }
    schema
}

fn is_object_schema(schema: &JsonObject) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("object")
}

fn wrap_schema(mut inner: JsonObject) -> JsonObject {
    let defs = inner.remove("$defs");
    let mut outer = serde_json::json!({
        "type": "object",
        "properties": { "result": Value::Object(inner) },
        "required": ["result"],
    });
    if let (Some(defs), Value::Object(o)) = (defs, &mut outer) {
        o.insert("$defs".into(), defs);
    }
    match outer {
        Value::Object(o) => o,
        _ => JsonObject::new(),
    }
}

/// Arguments of a tool that takes none.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, JsonSchema)]
pub struct NoArgs {}

/// Values a prompt function may return.
pub trait IntoPromptResult {
    /// Converts the value into a rendered prompt.
    fn into_prompt_result(self) -> Result<switchboard_protocol::prompts::GetPromptResult, HandlerError>;
}

impl IntoPromptResult for switchboard_protocol::prompts::GetPromptResult {
    fn into_prompt_result(self) -> Result<switchboard_protocol::prompts::GetPromptResult, HandlerError> {
        Ok(self)
    }
}

impl IntoPromptResult for Vec<switchboard_protocol::prompts::PromptMessage> {
    fn into_prompt_result(self) -> Result<switchboard_protocol::prompts::GetPromptResult, HandlerError> {
        Ok(switchboard_protocol::prompts::GetPromptResult { messages: self, ..Default::default() })
    }
}

impl IntoPromptResult for String {
    /// One user message with this text.
    fn into_prompt_result(self) -> Result<switchboard_protocol::prompts::GetPromptResult, HandlerError> {
        Ok(switchboard_protocol::prompts::GetPromptResult {
            messages: vec![switchboard_protocol::prompts::PromptMessage {
                role: switchboard_protocol::content::Role::User,
                content: ContentBlock::text(self),
            }],
            ..Default::default()
        })
    }
}

impl<T: IntoPromptResult, E: Into<HandlerError>> IntoPromptResult for Result<T, E> {
    fn into_prompt_result(self) -> Result<switchboard_protocol::prompts::GetPromptResult, HandlerError> {
        self.map_err(Into::into)?.into_prompt_result()
    }
}

/// Anything that can become a [`Router`](super::Router): a router itself, or a type with a
/// `#[handler]` impl block.
pub trait IntoRouter {
    /// Builds the router.
    fn into_router(self) -> super::Router;
}

impl IntoRouter for super::Router {
    fn into_router(self) -> super::Router {
        self
    }
}
