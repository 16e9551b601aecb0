//! Anthropic Messages, streamed. Tool input arrives as `input_json_delta` fragments per content
//! block; thinking blocks (with their signatures) are kept verbatim and sent back with the turn,
//! as the API requires.

use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

use super::{sse, Deltas, Endpoint, KeyHeader, ModelRequest, ModelTurn, Provider, ProviderError};
use crate::message::{AssistantTurn, Message, ToolCall, Usage};

/// The API version header every request carries.
const VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the API; the answer's length limit.
const MAX_TOKENS: u32 = 4096;
/// The tag on a turn's opaque data: its content blocks as Anthropic sent them.
const TAG: &str = "anthropic";

/// The Anthropic Messages API at `base_url` (e.g. `https://api.anthropic.com`).
#[derive(Debug, Clone)]
pub struct Anthropic {
    endpoint: Endpoint,
}

impl Anthropic {
    /// A provider at `base_url` with an optional key; `timeout` bounds one round.
    pub fn new(base_url: &str, api_key: Option<String>, timeout: Duration) -> Result<Self, String> {
        Ok(Self { endpoint: Endpoint::new(TAG, base_url, api_key, KeyHeader::Named("x-api-key"), timeout)? })
    }

    /// The request body for one round.
    pub fn body(request: &ModelRequest<'_>) -> Value {
        let mut messages = Vec::new();
        for message in request.messages {
            match message {
                Message::User(text) => messages.push(json!({"role": "user", "content": text})),
                Message::Assistant(turn) => {
                    let content = echoed(turn).unwrap_or_else(|| blocks(turn));
                    if !content.is_empty() {
                        messages.push(json!({"role": "assistant", "content": content}));
                    }
                }
                Message::ToolResults(results) => {
                    let content: Vec<Value> = results
                        .iter()
                        .map(|r| {
                            let mut block =
                                json!({"type": "tool_result", "tool_use_id": r.call_id, "content": r.content});
                            if r.is_error {
                                block["is_error"] = json!(true);
                            }
                            block
                        })
                        .collect();
                    messages.push(json!({"role": "user", "content": content}));
                }
            }
        }
        let mut body = json!({"model": request.model, "max_tokens": MAX_TOKENS, "messages": messages, "stream": true});
        if !request.system.is_empty() {
            body["system"] = json!(request.system);
        }
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
                .collect();
        }
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t.min(1.0));
        }
        body
    }

    async fn round(&self, request: ModelRequest<'_>, deltas: &Deltas) -> Result<ModelTurn, ProviderError> {
        let unavailable = |message: String| ProviderError::Unavailable { provider: TAG.into(), message };
        let headers = [("anthropic-version", VERSION)];
        let response = self.endpoint.post("/v1/messages", &headers, Self::body(&request).to_string()).await?;
        let mut stream = std::pin::pin!(sse::events(TAG, response));
        let mut fold = Fold::default();
        while let Some(event) = stream.next().await {
            let event = event?;
            if event.data.trim().is_empty() {
                continue;
            }
            let data: Value = serde_json::from_str(&event.data).map_err(|e| ProviderError::Failed {
                provider: TAG.into(),
                message: format!("a stream event is not JSON: {e}"),
            })?;
            let kind = event.name.as_deref().or_else(|| data.get("type").and_then(Value::as_str)).unwrap_or_default();
            match kind {
                "message_stop" => return fold.finish(),
                "error" => return Err(stream_error(&data)),
                _ => fold.event(kind, &data, deltas)?,
            }
        }
        Err(unavailable("the stream ended before message_stop".into()))
    }
}

impl Provider for Anthropic {
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

/// The turn's own blocks when Anthropic produced it (thinking and signatures included).
fn echoed(turn: &AssistantTurn) -> Option<Vec<Value>> {
    turn.opaque.iter().find_map(|o| {
        (o.get("provider").and_then(Value::as_str) == Some(TAG)).then(|| o.get("content")?.as_array().cloned())?
    })
}

/// Blocks for a turn another provider (or the host) produced.
fn blocks(turn: &AssistantTurn) -> Vec<Value> {
    let mut content = Vec::new();
    if !turn.text.is_empty() {
        content.push(json!({"type": "text", "text": turn.text}));
    }
    for call in &turn.tool_calls {
        let input: Value = serde_json::from_str(&call.arguments).unwrap_or_else(|_| Value::Object(Map::new()));
        content.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
    }
    content
}

fn stream_error(data: &Value) -> ProviderError {
    let error = data.get("error").cloned().unwrap_or(Value::Null);
    let kind = error.get("type").and_then(Value::as_str).unwrap_or_default();
    let message = error.get("message").and_then(Value::as_str).unwrap_or("no details").to_owned();
    let provider = TAG.to_owned();
    match kind {
        "overloaded_error" | "api_error" => ProviderError::Unavailable { provider, message },
        "rate_limit_error" => ProviderError::RateLimited { provider, retry_after: None, message },
        "authentication_error" | "permission_error" => ProviderError::Auth { provider, message },
        _ => ProviderError::Failed { provider, message: format!("{kind}: {message}") },
    }
}

/// A streamed message being put together: its content blocks by index.
#[derive(Default)]
struct Fold {
    blocks: Vec<Value>,
    /// Each tool_use block's input JSON fragments, joined.
    partial: Vec<String>,
    usage: Usage,
}

impl Fold {
    fn event(&mut self, kind: &str, data: &Value, deltas: &Deltas) -> Result<(), ProviderError> {
        let index = data.get("index").and_then(Value::as_u64).and_then(|i| usize::try_from(i).ok());
        match kind {
            "message_start" => {
                let usage = &data["message"]["usage"];
                let input = ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"]
                    .iter()
                    .filter_map(|k| usage.get(*k).and_then(Value::as_u64))
                    .sum();
                self.usage.input_tokens = input;
                self.usage.output_tokens = usage.get("output_tokens").and_then(Value::as_u64).unwrap_or(0);
            }
            "content_block_start" => {
                let i = index.ok_or_else(|| malformed("content_block_start without an index"))?;
                if i > 1024 {
                    return Err(malformed("a content block index over 1024"));
                }
                while self.blocks.len() <= i {
                    self.blocks.push(Value::Null);
                    self.partial.push(String::new());
                }
                self.blocks[i] = data.get("content_block").cloned().unwrap_or(Value::Null);
            }
            "content_block_delta" => {
                let i = index.ok_or_else(|| malformed("content_block_delta without an index"))?;
                let (Some(block), Some(partial)) = (self.blocks.get_mut(i), self.partial.get_mut(i)) else {
                    return Err(malformed("a delta for a block that never started"));
                };
                let delta = &data["delta"];
                match delta.get("type").and_then(Value::as_str).unwrap_or_default() {
                    "text_delta" => {
                        let text = delta.get("text").and_then(Value::as_str).unwrap_or_default();
                        append(block, "text", text);
                        deltas.text(text);
                    }
                    "input_json_delta" => {
                        partial.push_str(delta.get("partial_json").and_then(Value::as_str).unwrap_or_default())
                    }
                    "thinking_delta" => {
                        append(block, "thinking", delta.get("thinking").and_then(Value::as_str).unwrap_or_default())
                    }
                    "signature_delta" => {
                        append(block, "signature", delta.get("signature").and_then(Value::as_str).unwrap_or_default())
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                let i = index.ok_or_else(|| malformed("content_block_stop without an index"))?;
                if let (Some(block), Some(partial)) = (self.blocks.get_mut(i), self.partial.get(i)) {
                    if block.get("type").and_then(Value::as_str) == Some("tool_use") && !partial.is_empty() {
                        // Kept as text: a malformed input is the model's to correct, not ours to drop.
                        block["input"] =
                            serde_json::from_str(partial).unwrap_or_else(|_| Value::String(partial.clone()));
                    }
                }
            }
            "message_delta" => {
                if let Some(out) = data["usage"].get("output_tokens").and_then(Value::as_u64) {
                    self.usage.output_tokens = out;
                }
            }
            _ => {} // ping, and event types added later
        }
        Ok(())
    }

    fn finish(self) -> Result<ModelTurn, ProviderError> {
        let mut turn = AssistantTurn::default();
        let blocks: Vec<Value> = self.blocks.into_iter().filter(|b| !b.is_null()).collect();
        for block in &blocks {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => turn.text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
                Some("tool_use") => {
                    let arguments = match block.get("input") {
                        Some(Value::String(raw)) => raw.clone(),
                        Some(v) => v.to_string(),
                        None => "{}".into(),
                    };
                    turn.tool_calls.push(ToolCall {
                        id: block.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                        name: block.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                        arguments,
                    });
                }
                _ => {}
            }
        }
        // A tool_use whose input did not parse is echoed with an empty input (the API refuses a
        // string there); its result tells the model what was wrong.
        let echoed: Vec<Value> = blocks
            .into_iter()
            .map(|mut b| {
                if b.get("input").is_some_and(Value::is_string) {
                    b["input"] = json!({});
                }
                b
            })
            .collect();
        turn.opaque.push(json!({"provider": TAG, "content": echoed}));
        Ok(ModelTurn { turn, usage: self.usage })
    }
}

fn append(block: &mut Value, key: &str, text: &str) {
    let joined = format!("{}{text}", block.get(key).and_then(Value::as_str).unwrap_or_default());
    block[key] = Value::String(joined);
}

fn malformed(message: &str) -> ProviderError {
    ProviderError::Failed { provider: TAG.into(), message: format!("malformed stream: {message}") }
}
