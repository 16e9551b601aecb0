//! OpenAI Chat Completions, and every server that speaks it (`base_url`: Ollama, vLLM,
//! llama.cpp's server, LiteLLM). Always streamed, with usage: tool-call arguments arrive as
//! fragments keyed by the call's `index`, and are joined here.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::{sse, Deltas, Endpoint, KeyHeader, ModelRequest, ModelTurn, Provider, ProviderError};
use crate::message::{Message, ToolCall, Usage};

/// An OpenAI-compatible endpoint.
#[derive(Clone, Debug)]
pub struct OpenAi {
    name: String,
    endpoint: Endpoint,
    streaming: bool,
}

impl OpenAi {
    /// A provider at `base_url` (e.g. `https://api.openai.com/v1`), with an optional key.
    /// `timeout` bounds one whole round.
    pub fn new(name: &str, base_url: &str, api_key: Option<String>, timeout: Duration) -> Result<Self, String> {
        let endpoint = Endpoint::new(name, base_url, api_key, KeyHeader::Bearer, timeout)?;
        Ok(Self { name: name.to_owned(), endpoint, streaming: true })
    }

    /// Whether answers are asked for streamed (the default) or whole, for compatible servers
    /// that cannot stream tool calls.
    pub fn with_streaming(mut self, streaming: bool) -> Self {
        self.streaming = streaming;
        self
    }

    /// The request body for one round.
    pub fn body(request: &ModelRequest<'_>) -> Value {
        let mut messages = vec![json!({"role": "system", "content": request.system})];
        for message in request.messages {
            match message {
                Message::User(text) => messages.push(json!({"role": "user", "content": text})),
                Message::Assistant(turn) => {
                    let mut m = json!({"role": "assistant", "content": if turn.text.is_empty() { Value::Null } else { Value::String(turn.text.clone()) }});
                    if !turn.tool_calls.is_empty() {
                        m["tool_calls"] = turn
                            .tool_calls
                            .iter()
                            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                            .collect();
                    }
                    messages.push(m);
                }
                Message::ToolResults(results) => {
                    for r in results {
                        let content = if r.is_error { format!("Error: {}", r.content) } else { r.content.clone() };
                        messages.push(json!({"role": "tool", "tool_call_id": r.call_id, "content": content}));
                    }
                }
            }
        }
        let mut body = json!({
            "model": request.model,
            "messages": messages,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|t| {
                    let mut function =
                        json!({"name": t.name, "description": t.description, "parameters": t.parameters});
                    // Strict mode (arguments guaranteed to match) only where OpenAI allows it.
                    if strict_compatible(&t.parameters) {
                        function["strict"] = json!(true);
                    }
                    json!({"type": "function", "function": function})
                })
                .collect();
        }
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        body
    }

    async fn round(&self, request: ModelRequest<'_>, deltas: &Deltas) -> Result<ModelTurn, ProviderError> {
        let unavailable = |message: String| ProviderError::Unavailable { provider: self.name.clone(), message };
        let mut body = Self::body(&request);
        if !self.streaming {
            body["stream"] = json!(false);
            if let Value::Object(o) = &mut body {
                o.remove("stream_options");
            }
        }
        let response = self.endpoint.post("/chat/completions", &[], body.to_string()).await?;
        if !self.streaming {
            let body = response.bytes().await.map_err(|e| unavailable(format!("the answer broke off: {e}")))?;
            let whole: Value = serde_json::from_slice(&body).map_err(|e| ProviderError::Failed {
                provider: self.name.clone(),
                message: format!("the answer is not JSON: {e}"),
            })?;
            let mut fold = Fold::default();
            fold.chunk(&as_chunk(&whole), deltas);
            return fold.finish(&self.name);
        }
        let mut stream = std::pin::pin!(sse::events(&self.name, response));
        let mut fold = Fold::default();
        while let Some(event) = stream.next().await {
            let event = event?;
            let data = event.data.trim();
            if data == "[DONE]" {
                return fold.finish(&self.name);
            }
            if data.is_empty() {
                continue;
            }
            let chunk: Value = serde_json::from_str(data).map_err(|e| ProviderError::Failed {
                provider: self.name.clone(),
                message: format!("a stream chunk is not JSON: {e}"),
            })?;
            if let Some(error) = chunk.get("error") {
                let body = json!({"error": error}).to_string();
                let code = error.get("code").and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok()).unwrap_or(500);
                return Err(ProviderError::from_status(&self.name, code, None, &body));
            }
            fold.chunk(&chunk, deltas);
        }
        // Some compatible servers end without `[DONE]`; a finish reason means the answer is whole.
        if fold.finished {
            return fold.finish(&self.name);
        }
        Err(unavailable("the stream ended before the answer was complete".into()))
    }
}

impl Provider for OpenAi {
    fn name(&self) -> &str {
        &self.name
    }

    fn complete<'a>(
        &'a self,
        request: ModelRequest<'a>,
        deltas: &'a Deltas,
    ) -> BoxFuture<'a, Result<ModelTurn, ProviderError>> {
        Box::pin(self.round(request, deltas))
    }
}

/// Whether OpenAI's strict mode accepts `schema`: every object closed
/// (`additionalProperties: false`) with every property required, all the way down.
pub fn strict_compatible(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => {
            let is_object = map.get("type").and_then(Value::as_str) == Some("object") || map.contains_key("properties");
            if is_object {
                let closed = map.get("additionalProperties") == Some(&Value::Bool(false));
                let properties = map.get("properties").and_then(Value::as_object);
                let required: Vec<&str> = map
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let all_required = properties.is_none_or(|p| p.keys().all(|k| required.contains(&k.as_str())));
                if !closed || !all_required {
                    return false;
                }
            }
            map.iter()
                .filter(|(k, _)| k.as_str() != "required" && k.as_str() != "enum")
                .all(|(_, v)| strict_compatible(v))
        }
        Value::Array(items) => items.iter().all(strict_compatible),
        _ => true,
    }
}

/// A whole (non-streamed) completion in the shape of one stream chunk, so one fold reads both:
/// `message` becomes `delta`, and each tool call gets its `index`.
fn as_chunk(whole: &Value) -> Value {
    let choice = whole.pointer("/choices/0").cloned().unwrap_or(Value::Null);
    let message = choice.get("message").cloned().unwrap_or(Value::Null);
    let mut delta = json!({"content": message.get("content").cloned().unwrap_or(Value::Null)});
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        let indexed: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut c = c.clone();
                c["index"] = json!(i);
                c
            })
            .collect();
        delta["tool_calls"] = Value::Array(indexed);
    }
    let finish = choice.get("finish_reason").cloned().filter(|f| !f.is_null()).unwrap_or(json!("stop"));
    json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": whole.get("usage").cloned().unwrap_or(Value::Null)})
}

/// A streamed answer being put together.
#[derive(Default)]
struct Fold {
    text: String,
    /// Calls by their stream `index`: id, name, argument fragments joined.
    calls: BTreeMap<u64, (String, String, String)>,
    usage: Usage,
    finished: bool,
}

impl Fold {
    fn chunk(&mut self, chunk: &Value, deltas: &Deltas) {
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Usage {
                input_tokens: usage.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
                output_tokens: usage.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0),
            };
        }
        let Some(choice) = chunk.get("choices").and_then(Value::as_array).and_then(|c| c.first()) else { return };
        if choice.get("finish_reason").is_some_and(|r| !r.is_null()) {
            self.finished = true;
        }
        let Some(delta) = choice.get("delta") else { return };
        if let Some(text) = delta.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            self.text.push_str(text);
            deltas.text(text);
        }
        for call in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            let entry = self.calls.entry(index).or_default();
            if let Some(id) = call.get("id").and_then(Value::as_str) {
                entry.0 = id.to_owned();
            }
            let function = call.get("function");
            if let Some(name) = function.and_then(|f| f.get("name")).and_then(Value::as_str) {
                entry.1.push_str(name);
            }
            if let Some(args) = function.and_then(|f| f.get("arguments")).and_then(Value::as_str) {
                entry.2.push_str(args);
            }
        }
    }

    fn finish(self, provider: &str) -> Result<ModelTurn, ProviderError> {
        let mut tool_calls = Vec::with_capacity(self.calls.len());
        for (index, (id, name, arguments)) in self.calls {
            if name.is_empty() {
                return Err(ProviderError::Failed {
                    provider: provider.to_owned(),
                    message: format!("tool call {index} has no function name"),
                });
            }
            // A server that sends no id still needs results keyed to something.
            let id = if id.is_empty() { format!("call_{index}") } else { id };
            tool_calls.push(ToolCall { id, name, arguments });
        }
        Ok(ModelTurn {
            turn: crate::message::AssistantTurn { text: self.text, tool_calls, opaque: Vec::new() },
            usage: self.usage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_answer_reads_like_a_stream() {
        let whole = json!({"id": "x", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "one", "arguments": "{}"}},
                {"id": "b", "type": "function", "function": {"name": "two", "arguments": "{\"x\":1}"}}]}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}});
        let mut fold = Fold::default();
        fold.chunk(&as_chunk(&whole), &Deltas::ignored());
        let turn = fold.finish("openai").expect("whole");
        let names: Vec<&str> = turn.turn.tool_calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["one", "two"]);
        assert_eq!(turn.turn.tool_calls[1].arguments, "{\"x\":1}");
        assert_eq!(turn.usage, Usage { input_tokens: 5, output_tokens: 2 });
        let text = json!({"choices": [{"message": {"content": "hello"}, "finish_reason": "stop"}]});
        let mut fold = Fold::default();
        fold.chunk(&as_chunk(&text), &Deltas::ignored());
        assert_eq!(fold.finish("openai").expect("whole").turn.text, "hello");
    }

    #[test]
    fn strict_mode_only_for_closed_fully_required_schemas() {
        let closed = json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false});
        assert!(strict_compatible(&closed));
        let optional =
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false});
        assert!(!strict_compatible(&optional));
        let open_inside = json!({"type": "object", "properties": {"a": {"type": "object", "properties": {}}}, "required": ["a"], "additionalProperties": false});
        assert!(!strict_compatible(&open_inside));
    }

    #[test]
    fn fragments_join_by_index_and_text_streams() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = seen.clone();
        let deltas = Deltas::new(move |t| sink.lock().unwrap_or_else(|p| p.into_inner()).push_str(t));
        let mut fold = Fold::default();
        let chunks = [
            json!({"choices": [{"index": 0, "delta": {"content": "Let me "}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "check.", "tool_calls": [{"index": 1, "id": "b", "function": {"name": "two", "arguments": "{\"x\""}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "one", "arguments": ""}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": ":1}"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}),
        ];
        for c in &chunks {
            fold.chunk(c, &deltas);
        }
        assert!(fold.finished);
        let turn = fold.finish("openai").expect("whole");
        assert_eq!(turn.turn.text, "Let me check.");
        assert_eq!(*seen.lock().unwrap_or_else(|p| p.into_inner()), "Let me check.");
        let calls: Vec<(&str, &str, &str)> =
            turn.turn.tool_calls.iter().map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str())).collect();
        assert_eq!(calls, [("a", "one", ""), ("b", "two", "{\"x\":1}")]);
        assert_eq!(turn.usage, Usage { input_tokens: 7, output_tokens: 3 });
    }
}
