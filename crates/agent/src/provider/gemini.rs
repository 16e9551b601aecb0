//! Google Gemini `streamGenerateContent` (SSE). Tool calls arrive whole in one part; the parts
//! of a model turn (with their `thoughtSignature`s) are sent back verbatim, which Gemini 3+
//! requires. Schemas are cut to the OpenAPI subset Gemini accepts.

use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

use super::{sse, Deltas, Endpoint, KeyHeader, ModelRequest, ModelTurn, Provider, ProviderError};
use crate::message::{AssistantTurn, Message, ToolCall, Usage};

/// The tag on a turn's opaque data: its parts as Gemini sent them.
const TAG: &str = "gemini";

/// The keywords of Gemini's schema subset; everything else is dropped.
const SCHEMA_KEYWORDS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

/// The Gemini API at `base_url` (e.g. `https://generativelanguage.googleapis.com`).
#[derive(Debug, Clone)]
pub struct Gemini {
    endpoint: Endpoint,
}

impl Gemini {
    /// A provider at `base_url` with an optional key; `timeout` bounds one round.
    pub fn new(base_url: &str, api_key: Option<String>, timeout: Duration) -> Result<Self, String> {
        Ok(Self { endpoint: Endpoint::new(TAG, base_url, api_key, KeyHeader::Named("x-goog-api-key"), timeout)? })
    }

    /// The request body for one round.
    pub fn body(request: &ModelRequest<'_>) -> Value {
        let mut contents = Vec::new();
        for message in request.messages {
            match message {
                Message::User(text) => contents.push(json!({"role": "user", "parts": [{"text": text}]})),
                Message::Assistant(turn) => {
                    let parts = echoed(turn).unwrap_or_else(|| parts(turn));
                    if !parts.is_empty() {
                        contents.push(json!({"role": "model", "parts": parts}));
                    }
                }
                Message::ToolResults(results) => {
                    let parts: Vec<Value> = results
                        .iter()
                        .map(|r| {
                            // `response` must be an object: a JSON object result as is, else wrapped.
                            let response = match serde_json::from_str::<Value>(&r.content) {
                                _ if r.is_error => json!({"error": r.content}),
                                Ok(Value::Object(o)) => Value::Object(o),
                                Ok(other) => json!({"result": other}),
                                Err(_) => json!({"result": r.content}),
                            };
                            let mut call = json!({"name": r.name, "response": response});
                            if !r.call_id.starts_with("gemini_call_") {
                                call["id"] = json!(r.call_id);
                            }
                            json!({"functionResponse": call})
                        })
                        .collect();
                    contents.push(json!({"role": "user", "parts": parts}));
                }
            }
        }
        let mut body = json!({"contents": contents});
        if !request.system.is_empty() {
            body["systemInstruction"] = json!({"parts": [{"text": request.system}]});
        }
        if !request.tools.is_empty() {
            let declarations: Vec<Value> = request
                .tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "parameters": openapi_subset(&t.parameters)}))
                .collect();
            body["tools"] = json!([{"functionDeclarations": declarations}]);
            body["toolConfig"] = json!({"functionCallingConfig": {"mode": "AUTO"}});
        }
        if let Some(t) = request.temperature {
            body["generationConfig"] = json!({"temperature": t});
        }
        body
    }

    async fn round(&self, request: ModelRequest<'_>, deltas: &Deltas) -> Result<ModelTurn, ProviderError> {
        let path = format!("/v1beta/models/{}:streamGenerateContent?alt=sse", request.model);
        let response = self.endpoint.post(&path, &[], Self::body(&request).to_string()).await?;
        // No terminator: the answer is whole when the body ends.
        let mut stream = std::pin::pin!(sse::events(TAG, response));
        let mut fold = Fold::default();
        while let Some(event) = stream.next().await {
            let event = event?;
            if event.data.trim().is_empty() {
                continue;
            }
            let chunk: Value = serde_json::from_str(&event.data).map_err(|e| ProviderError::Failed {
                provider: TAG.into(),
                message: format!("a stream chunk is not JSON: {e}"),
            })?;
            if let Some(error) = chunk.get("error") {
                let code = error.get("code").and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok()).unwrap_or(500);
                return Err(ProviderError::from_status(TAG, code, None, &json!({"error": error}).to_string()));
            }
            fold.chunk(&chunk, deltas);
        }
        Ok(fold.finish())
    }
}

impl Provider for Gemini {
    fn name(&self) -> &str {
        TAG
    }

    fn complete<'a>(
        &'a self,
        request: ModelRequest<'a>,
        deltas: &'a Deltas,
    ) -> BoxFuture<'a, Result<ModelTurn, ProviderError>> {
        Box::pin(self.round(request, deltas))
    }
}

/// The turn's own parts when Gemini produced it (signatures included).
fn echoed(turn: &AssistantTurn) -> Option<Vec<Value>> {
    turn.opaque.iter().find_map(|o| {
        (o.get("provider").and_then(Value::as_str) == Some(TAG)).then(|| o.get("parts")?.as_array().cloned())?
    })
}

/// Parts for a turn another provider (or the host) produced.
fn parts(turn: &AssistantTurn) -> Vec<Value> {
    let mut parts = Vec::new();
    if !turn.text.is_empty() {
        parts.push(json!({"text": turn.text}));
    }
    for call in &turn.tool_calls {
        let args: Value = serde_json::from_str(&call.arguments).unwrap_or_else(|_| Value::Object(Map::new()));
        parts.push(json!({"functionCall": {"name": call.name, "args": args}}));
    }
    parts
}

/// `schema` cut to Gemini's subset: unknown keywords dropped, `type: [t, "null"]` made
/// `type: t, nullable: true`, `const` made a one-value `enum`.
pub fn openapi_subset(schema: &Value) -> Value {
    let Value::Object(map) = schema else { return schema.clone() };
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            "type" => match value {
                Value::Array(types) => {
                    let real: Vec<&Value> = types.iter().filter(|t| t.as_str() != Some("null")).collect();
                    if real.len() < types.len() {
                        out.insert("nullable".into(), json!(true));
                    }
                    if let Some(first) = real.first() {
                        out.insert("type".into(), (*first).clone());
                    }
                }
                other => {
                    out.insert("type".into(), other.clone());
                }
            },
            "const" => {
                out.insert("enum".into(), json!([value]));
            }
            "properties" => {
                let props: Map<String, Value> =
                    value.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), openapi_subset(v))).collect();
                out.insert(key.clone(), Value::Object(props));
            }
            "items" => {
                out.insert(key.clone(), openapi_subset(value));
            }
            "anyOf" => {
                out.insert(
                    key.clone(),
                    Value::Array(value.as_array().into_iter().flatten().map(openapi_subset).collect()),
                );
            }
            k if SCHEMA_KEYWORDS.contains(&k) => {
                out.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

/// A streamed answer being put together.
#[derive(Default)]
struct Fold {
    parts: Vec<Value>,
    usage: Usage,
}

impl Fold {
    fn chunk(&mut self, chunk: &Value, deltas: &Deltas) {
        if let Some(usage) = chunk.get("usageMetadata") {
            let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
            self.usage = Usage {
                input_tokens: n("promptTokenCount"),
                output_tokens: n("candidatesTokenCount") + n("thoughtsTokenCount"),
            };
        }
        let parts = chunk.pointer("/candidates/0/content/parts").and_then(Value::as_array);
        for part in parts.into_iter().flatten() {
            let plain_text =
                part.get("text").is_some() && part.get("thought").is_none() && part.get("thoughtSignature").is_none();
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                if part.get("thought").and_then(Value::as_bool) != Some(true) {
                    deltas.text(text);
                }
            }
            // Text streams in pieces; plain pieces are joined so the echo stays small.
            if plain_text {
                if let Some(last) = self.parts.last_mut() {
                    let last_plain = last.get("text").is_some()
                        && last.get("thought").is_none()
                        && last.get("thoughtSignature").is_none();
                    if last_plain {
                        let joined = format!(
                            "{}{}",
                            last.get("text").and_then(Value::as_str).unwrap_or_default(),
                            part.get("text").and_then(Value::as_str).unwrap_or_default()
                        );
                        last["text"] = Value::String(joined);
                        continue;
                    }
                }
            }
            self.parts.push(part.clone());
        }
    }

    fn finish(self) -> ModelTurn {
        let mut turn = AssistantTurn::default();
        for part in &self.parts {
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                turn.text.push_str(text);
            }
            if let Some(call) = part.get("functionCall") {
                let n = turn.tool_calls.len();
                let id =
                    call.get("id").and_then(Value::as_str).map_or_else(|| format!("gemini_call_{n}"), str::to_owned);
                turn.tool_calls.push(ToolCall {
                    id,
                    name: call.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    arguments: call.get("args").map_or_else(|| "{}".to_owned(), Value::to_string),
                });
            }
        }
        turn.opaque.push(json!({"provider": TAG, "parts": self.parts}));
        ModelTurn { turn, usage: self.usage }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_cut_to_the_subset_gemini_accepts() {
        let schema = json!({"type": "object", "additionalProperties": false, "$schema": "x",
            "properties": {"a": {"type": ["string", "null"], "maxLength": 5}, "b": {"const": "x"}, "c": {"type": "array", "items": {"type": "integer", "exclusiveMinimum": 0}}},
            "required": ["a"]});
        let out = openapi_subset(&schema);
        assert_eq!(
            out,
            json!({"type": "object", "properties": {"a": {"type": "string", "nullable": true, "maxLength": 5}, "b": {"enum": ["x"]}, "c": {"type": "array", "items": {"type": "integer"}}}, "required": ["a"]})
        );
    }
}
