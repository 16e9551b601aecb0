//! The OpenAI-compatible chat API: `POST /v1/chat/completions` (streamed or not) and
//! `GET /v1/models`. `model` names an agent; the server runs the tools itself, as the caller's
//! principal, and returns the final answer with every round's usage summed and the tool calls it
//! made in an extra field, `tool_calls_made`.
//!
//! A client sends only user turns and earlier assistant text: the system prompt is the agent's
//! and tool turns are the server's, so `system`, `developer` and `tool` messages are refused.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use switchboard_mcp::server::{Principal, Server};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::agent::Agent;
use crate::message::Message;
use crate::provider::ProviderError;
use crate::turn::{Event, TurnError, TurnOutput, TurnRequest};

/// The agents a server offers, by name.
#[derive(Debug, Clone)]
struct ChatState {
    server: Server,
    agents: Arc<BTreeMap<String, Arc<Agent>>>,
}

/// The chat API's routes for `agents` over `server`'s tools: the OpenAI-compatible endpoints,
/// and with a `store`, server-side conversations too. Mount them behind the server's
/// authentication (`HttpConfig::extra_routes`): the caller's principal comes from there.
pub fn router(
    server: Server,
    agents: impl IntoIterator<Item = Arc<Agent>>,
    store: Option<crate::store::ConversationStore>,
) -> Router {
    let agents: Arc<BTreeMap<String, Arc<Agent>>> =
        Arc::new(agents.into_iter().map(|a| (a.settings().name.clone(), a)).collect());
    let state = ChatState { server: server.clone(), agents: agents.clone() };
    let mut router = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(completions))
        .with_state(state);
    if let Some(store) = store {
        use crate::conversations as c;
        let state = c::ConversationsState::new(server, agents, store);
        router = router.merge(
            Router::new()
                .route("/v1/conversations", post(c::create))
                .route("/v1/conversations/{id}", get(c::get))
                .route("/v1/conversations/{id}/messages", post(c::post_message))
                .route("/v1/conversations/{id}/stream", get(c::resume))
                .with_state(state),
        );
    }
    router
}

async fn models(State(state): State<ChatState>) -> Response {
    let data: Vec<Value> = state
        .agents
        .values()
        .map(|a| json!({"id": a.settings().name, "object": "model", "created": 0, "owned_by": "switchboard", "description": a.settings().description}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

use crate::http_error::{error, invalid, ApiError};

/// What a completion request asks for.
struct ChatRequest {
    agent: Arc<Agent>,
    history: Vec<Message>,
    stream: bool,
    include_usage: bool,
    temperature: Option<f64>,
}

fn parse(state: &ChatState, body: &[u8]) -> Result<ChatRequest, ApiError> {
    let body: Value = serde_json::from_slice(body).map_err(|e| invalid(format!("the body is not JSON: {e}")))?;
    let Some(body) = body.as_object() else { return Err(invalid("the body must be a JSON object")) };
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return Err(invalid("`model` is required: the name of an agent (GET /v1/models lists them)"));
    };
    let Some(agent) = state.agents.get(model).cloned() else {
        let known: Vec<&str> = state.agents.keys().map(String::as_str).collect();
        return Err(error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("model_not_found"),
            format!("unknown model {model:?}; this server's agents are: {}", known.join(", ")),
        ));
    };
    for refused in ["tools", "functions", "tool_choice", "function_call"] {
        if body.contains_key(refused) {
            return Err(invalid(format!("`{refused}` is not accepted: the agent runs its own tools on the server")));
        }
    }
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return Err(invalid("`messages` is required: an array of user and assistant messages"));
    };
    let mut history = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        let text = content_text(m.get("content")).map_err(|p| invalid(format!("messages[{i}].content: {p}")))?;
        match role {
            "user" => history.push(Message::User(text)),
            "assistant" => {
                history.push(Message::Assistant(crate::message::AssistantTurn { text, ..Default::default() }))
            }
            "system" | "developer" => {
                return Err(invalid(format!(
                    "messages[{i}]: {role} messages are not accepted; the agent's instructions are set by the server"
                )))
            }
            "tool" => {
                return Err(invalid(format!(
                    "messages[{i}]: tool messages are not accepted; the server runs the tools itself"
                )))
            }
            other => return Err(invalid(format!("messages[{i}].role {other:?} is not user or assistant"))),
        }
    }
    if !matches!(history.last(), Some(Message::User(t)) if !t.trim().is_empty()) {
        return Err(invalid("the last message must be a non-empty user message"));
    }
    let temperature = match body.get("temperature") {
        None | Some(Value::Null) => None,
        Some(t) => match t.as_f64() {
            Some(t) if (0.0..=2.0).contains(&t) => Some(t),
            _ => return Err(invalid("`temperature` must be a number from 0 to 2")),
        },
    };
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage =
        body.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool).unwrap_or(false);
    Ok(ChatRequest { agent, history, stream, include_usage, temperature })
}

/// A message's text: a string, or an array of `{"type":"text","text":…}` parts.
fn content_text(content: Option<&Value>) -> Result<String, String> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| match (p.get("type").and_then(Value::as_str), p.get("text").and_then(Value::as_str)) {
                (Some("text"), Some(text)) => Ok(text.to_owned()),
                (kind, _) => Err(format!("only text parts are accepted, not {}", kind.unwrap_or("an untyped part"))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|t| t.join("\n")),
        Some(_) => Err("must be a string or an array of text parts".into()),
    }
}

async fn completions(State(state): State<ChatState>, principal: Option<Extension<Principal>>, body: Bytes) -> Response {
    let request = match parse(&state, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let principal = principal.map(|Extension(p)| p).unwrap_or_default();
    let client = state.server.local_client(principal, &format!("chat:{}", request.agent.settings().name));
    let id = format!("chatcmpl-{}", switchboard_mcp::server::unique_id());
    let created = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let name = request.agent.settings().name.clone();
    if !request.stream {
        let (events, _ignored) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let turn = TurnRequest {
            history: &request.history,
            client: &client,
            temperature: request.temperature,
            cancel: &cancel,
        };
        return match request.agent.run_turn(turn, &events).await {
            Ok(out) => Json(completion(&id, created, &name, &out)).into_response(),
            Err(e) => turn_error(&e),
        };
    }
    // Streamed: the turn runs in a task of its own and its events become chunks; a client that
    // goes away drops the body, whose guard cancels the turn and its tool calls.
    let (events, mut rx) = mpsc::unbounded_channel::<Event>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let cancel = CancellationToken::new();
    let guard = cancel.clone().drop_guard();
    let agent = request.agent.clone();
    tokio::spawn(async move {
        let turn = TurnRequest {
            history: &request.history,
            client: &client,
            temperature: request.temperature,
            cancel: &cancel,
        };
        let out = agent.run_turn(turn, &events).await;
        drop(events);
        let _ = done_tx.send(out);
    });
    let include_usage = request.include_usage;
    let chunk = move |delta: Value, finish: Option<&str>, extra: Option<(&str, Value)>| {
        let mut c = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": name,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]});
        if let Some((k, v)) = extra {
            c[k] = v;
        }
        c
    };
    let stream = crate::body::produced(move |tx: mpsc::Sender<Bytes>| async move {
        let _guard = guard;
        let send = |v: Value| {
            let tx = tx.clone();
            async move { tx.send(Bytes::from(format!("data: {v}\n\n"))).await.is_ok() }
        };
        if !send(chunk(json!({"role": "assistant", "content": ""}), None, None)).await {
            return;
        }
        while let Some(event) = rx.recv().await {
            let sent = match event {
                Event::Text { text } => send(chunk(json!({"content": text}), None, None)).await,
                other => {
                    send(chunk(
                        json!({}),
                        None,
                        Some(("tool_event", serde_json::to_value(&other).unwrap_or(Value::Null))),
                    ))
                    .await
                }
            };
            if !sent {
                return;
            }
        }
        match done_rx.await {
            Ok(Ok(out)) => {
                let mut last = chunk(json!({}), Some("stop"), Some(("tool_calls_made", json!(out.tool_calls))));
                if let Some(pending) = &out.pending {
                    last["pending_confirmation"] = json!(pending);
                }
                send(last).await;
                if include_usage {
                    let mut usage = chunk(json!({}), None, Some(("usage", usage(&out))));
                    usage["choices"] = json!([]);
                    send(usage).await;
                }
            }
            Ok(Err(e)) => {
                let (_, kind, code) = error_kind(&e);
                send(json!({"error": {"message": e.to_string(), "type": kind, "param": null, "code": code}})).await;
            }
            Err(_) => return,
        }
        let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(stream)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn usage(out: &TurnOutput) -> Value {
    let (i, o) = (out.usage.input_tokens, out.usage.output_tokens);
    json!({"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o, "cost_usd": out.cost_usd})
}

/// Where the turn's time went, in milliseconds.
fn timing(out: &TurnOutput) -> Value {
    let ms = |d: std::time::Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
    let t = out.timing;
    json!({"total": ms(t.total), "model": ms(t.model), "tools": ms(t.tools), "host": ms(t.host())})
}

fn completion(id: &str, created: u64, model: &str, out: &TurnOutput) -> Value {
    let mut body = json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": out.text, "refusal": null}, "finish_reason": "stop", "logprobs": null}],
        "usage": usage(out),
        "tool_calls_made": out.tool_calls,
        "rounds": out.rounds,
        "timing_ms": timing(out),
    });
    if let Some(pending) = &out.pending {
        body["pending_confirmation"] = json!(pending);
    }
    body
}

fn error_kind(e: &TurnError) -> (StatusCode, &'static str, Option<&'static str>) {
    match e {
        TurnError::Deadline(_) => (StatusCode::GATEWAY_TIMEOUT, "timeout", Some("turn_timeout")),
        TurnError::Cancelled => (StatusCode::BAD_REQUEST, "cancelled", None),
        TurnError::Provider(ProviderError::RateLimited { .. }) => {
            (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", Some("model_rate_limited"))
        }
        TurnError::Provider(ProviderError::ContextLength { .. }) => {
            (StatusCode::BAD_REQUEST, "invalid_request_error", Some("context_length_exceeded"))
        }
        TurnError::Provider(_) => (StatusCode::BAD_GATEWAY, "api_error", Some("model_unavailable")),
        TurnError::Tools(_) => (StatusCode::INTERNAL_SERVER_ERROR, "api_error", None),
        TurnError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request_error", None),
        TurnError::Budget(_) => (StatusCode::TOO_MANY_REQUESTS, "insufficient_quota", Some("token_budget_exhausted")),
    }
}

fn turn_error(e: &TurnError) -> Response {
    let (status, kind, code) = error_kind(e);
    error(status, kind, code, e.to_string()).into_response()
}
