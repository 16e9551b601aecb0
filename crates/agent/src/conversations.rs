//! Server-side conversations: `POST /v1/conversations`, `POST /v1/conversations/{id}/messages`
//! (an SSE stream of the turn: `delta`, `tool_started`, `tool_finished`,
//! `confirmation_needed`, `final`, `usage` or `error`), `GET /v1/conversations/{id}/stream`
//! (resume with `Last-Event-ID`), and `GET /v1/conversations/{id}` (the history).
//!
//! A turn runs detached from the request that started it, so a dropped connection loses
//! nothing: the client resumes the stream, and the turn (bounded by the agent's deadline) is
//! written to the store in one transaction when it ends. A conversation is its principal's
//! alone; to anyone else it does not exist.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};
use switchboard_mcp::server::{Principal, Server};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::agent::Agent;
use crate::http_error::{invalid, ApiError};
use crate::message::Message;
use crate::store::{self, ConversationStore};
use crate::turn::{Event, TurnRequest};

/// How long a finished turn's events stay for a resumption.
const KEEP_FINISHED: Duration = Duration::from_secs(5 * 60);
/// The longest user message accepted.
const MAX_MESSAGE_CHARS: usize = 32 * 1024;
/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The events of one turn, kept for resumption.
#[derive(Debug)]
struct TurnLog {
    /// Which turn of the conversation (1 for the first), the first part of each event id.
    turn: usize,
    events: Mutex<Vec<(&'static str, Value)>>,
    /// How many events there are, and whether the turn ended.
    progress: watch::Sender<(usize, bool)>,
}

impl TurnLog {
    fn push(&self, name: &'static str, data: Value) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        events.push((name, data));
        let n = events.len();
        self.progress.send_modify(|p| p.0 = n);
    }

    fn finish(&self) {
        self.progress.send_modify(|p| p.1 = true);
    }

    fn running(&self) -> bool {
        !self.progress.borrow().1
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ConversationsState {
    pub(crate) server: Server,
    pub(crate) agents: Arc<std::collections::BTreeMap<String, Arc<Agent>>>,
    pub(crate) store: ConversationStore,
    turns: Arc<Mutex<HashMap<String, Arc<TurnLog>>>>,
}

impl ConversationsState {
    pub(crate) fn new(
        server: Server,
        agents: Arc<std::collections::BTreeMap<String, Arc<Agent>>>,
        store: ConversationStore,
    ) -> Self {
        Self { server, agents, store, turns: Arc::default() }
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    crate::http_error::error(status, "invalid_request_error", None, message).into_response()
}

fn store_failed(e: &store::StoreError) -> Response {
    tracing::error!(target: "switchboard::agent", error = %e, "conversation store");
    error(StatusCode::SERVICE_UNAVAILABLE, "the conversation store is unavailable; try again")
}

fn caller(principal: Option<Extension<Principal>>) -> Principal {
    principal.map(|Extension(p)| p).unwrap_or_default()
}

fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(invalid("the body must be a JSON object")),
        Err(e) => Err(invalid(format!("the body is not JSON: {e}"))),
    }
}

/// `POST /v1/conversations` `{"agent"?: name}`.
pub(crate) async fn create(
    State(state): State<ConversationsState>,
    principal: Option<Extension<Principal>>,
    body: Bytes,
) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let agent = match body.get("agent").and_then(Value::as_str) {
        Some(name) => match state.agents.get(name) {
            Some(_) => name.to_owned(),
            None => {
                let known: Vec<&str> = state.agents.keys().map(String::as_str).collect();
                return error(StatusCode::NOT_FOUND, format!("unknown agent {name:?}; known: {}", known.join(", ")));
            }
        },
        None if state.agents.len() == 1 => state.agents.keys().next().cloned().unwrap_or_default(),
        None => return error(StatusCode::BAD_REQUEST, "`agent` is required: this server has several"),
    };
    let id = format!("conv_{}", switchboard_mcp::server::unique_id());
    match state.store.create(&id, &agent, caller(principal).id()).await {
        Ok(info) => {
            (StatusCode::CREATED, Json(json!({"id": info.id, "agent": info.agent, "created_at": info.created_at})))
                .into_response()
        }
        Err(e) => store_failed(&e),
    }
}

/// The conversation `id` if it is `principal`'s.
async fn owned(
    state: &ConversationsState,
    id: &str,
    principal: &Principal,
) -> Result<store::ConversationInfo, Response> {
    match state.store.info(id).await {
        Ok(Some(info)) if info.principal == principal.id() => Ok(info),
        Ok(_) => Err(error(StatusCode::NOT_FOUND, format!("no conversation {id}"))),
        Err(e) => Err(store_failed(&e)),
    }
}

/// `GET /v1/conversations/{id}`.
pub(crate) async fn get(
    State(state): State<ConversationsState>,
    principal: Option<Extension<Principal>>,
    Path(id): Path<String>,
) -> Response {
    let info = match owned(&state, &id, &caller(principal)).await {
        Ok(info) => info,
        Err(r) => return r,
    };
    let messages = match state.store.messages(&id).await {
        Ok(m) => m,
        Err(e) => return store_failed(&e),
    };
    let running = state.turns.lock().unwrap_or_else(|p| p.into_inner()).get(&id).is_some_and(|t| t.running());
    Json(json!({
        "id": info.id,
        "agent": info.agent,
        "created_at": info.created_at,
        "usage": {"input_tokens": info.usage.input_tokens, "output_tokens": info.usage.output_tokens, "cost_usd": info.cost_usd},
        "running": running,
        "messages": messages.iter().map(store::display).collect::<Vec<_>>(),
    }))
    .into_response()
}

/// `POST /v1/conversations/{id}/messages` `{"content": text}`: runs a turn, streamed.
pub(crate) async fn post_message(
    State(state): State<ConversationsState>,
    principal: Option<Extension<Principal>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let principal = caller(principal);
    let info = match owned(&state, &id, &principal).await {
        Ok(info) => info,
        Err(r) => return r,
    };
    let body = match object(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let Some(text) = body.get("content").and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "`content` is required: the user's message as a non-empty string");
    };
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a message may have at most {MAX_MESSAGE_CHARS} characters"),
        );
    }
    let Some(agent) = state.agents.get(&info.agent).cloned() else {
        return error(StatusCode::GONE, format!("the agent {:?} of this conversation is no longer served", info.agent));
    };
    let mut history = match state.store.messages(&id).await {
        Ok(m) => m,
        Err(e) => return store_failed(&e),
    };
    let turn = history.iter().filter(|m| matches!(m, Message::User(_))).count() + 1;
    let log = {
        let mut turns = state.turns.lock().unwrap_or_else(|p| p.into_inner());
        if turns.get(&id).is_some_and(|t| t.running()) {
            return error(
                StatusCode::CONFLICT,
                "a turn is already running in this conversation; resume its stream instead",
            );
        }
        let (progress, _) = watch::channel((0, false));
        let log = Arc::new(TurnLog { turn, events: Mutex::new(Vec::new()), progress });
        turns.insert(id.clone(), log.clone());
        log
    };
    history.push(Message::User(text.to_owned()));
    spawn_turn(state.clone(), agent, principal, id.clone(), history, log.clone());
    stream(log, 0)
}

/// Runs a turn detached from the request, logging its events, and stores it when it ends.
fn spawn_turn(
    state: ConversationsState,
    agent: Arc<Agent>,
    principal: Principal,
    id: String,
    history: Vec<Message>,
    log: Arc<TurnLog>,
) {
    tokio::spawn(async move {
        let client = state.server.local_client(principal, &format!("conversation:{}", agent.settings().name));
        let (events, mut rx) = mpsc::unbounded_channel::<Event>();
        let forward = {
            let log = log.clone();
            tokio::spawn(async move {
                while let Some(event) = rx.recv().await {
                    let name = match &event {
                        Event::Text { .. } => "delta",
                        Event::ToolStarted { .. } => "tool_started",
                        Event::ToolFinished { .. } => "tool_finished",
                        Event::ConfirmationNeeded { .. } => "confirmation_needed",
                    };
                    let mut data = serde_json::to_value(&event).unwrap_or(Value::Null);
                    if let Value::Object(o) = &mut data {
                        o.remove("type");
                    }
                    log.push(name, data);
                }
            })
        };
        let cancel = CancellationToken::new();
        let request = TurnRequest { history: &history, client: &client, temperature: None, cancel: &cancel };
        let outcome = agent.run_turn(request, &events).await;
        drop(events);
        let _ = forward.await;
        match outcome {
            Ok(out) => {
                let mut added = vec![history.last().cloned().unwrap_or(Message::User(String::new()))];
                added.extend(out.messages.iter().cloned());
                match state.store.append_turn(&id, &added, out.usage, out.cost_usd).await {
                    Ok(()) => {
                        let mut last = json!({"text": out.text, "tool_calls": out.tool_calls});
                        if let Some(pending) = &out.pending {
                            last["pending_confirmation"] = json!(pending);
                        }
                        log.push("final", last);
                        log.push(
                            "usage",
                            json!({"input_tokens": out.usage.input_tokens, "output_tokens": out.usage.output_tokens, "cost_usd": out.cost_usd, "model": out.model}),
                        );
                    }
                    Err(e) => {
                        tracing::error!(target: "switchboard::agent", error = %e, "storing a turn");
                        log.push("error", json!({"message": "the answer could not be saved; nothing was kept, send the message again"}));
                    }
                }
            }
            Err(e) => log.push("error", json!({"message": e.to_string()})),
        }
        log.finish();
        // Kept a while for a client that resumes late, then forgotten (unless a newer turn
        // has taken its place).
        tokio::time::sleep(KEEP_FINISHED).await;
        let mut turns = state.turns.lock().unwrap_or_else(|p| p.into_inner());
        if turns.get(&id).is_some_and(|t| Arc::ptr_eq(t, &log)) {
            turns.remove(&id);
        }
    });
}

/// `GET /v1/conversations/{id}/stream` with `Last-Event-ID: <turn>-<n>`: the latest turn's
/// events after that one (all of them without the header), then live until it ends.
pub(crate) async fn resume(
    State(state): State<ConversationsState>,
    principal: Option<Extension<Principal>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = owned(&state, &id, &caller(principal)).await {
        return r;
    }
    let Some(log) = state.turns.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned() else {
        return error(StatusCode::NOT_FOUND, "no turn to resume: none is running or recently finished");
    };
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let start = match last.map(|l| l.split_once('-').map(|(t, n)| (t.parse::<usize>(), n.parse::<usize>()))) {
        None => 0,
        Some(Some((Ok(turn), Ok(n)))) if turn == log.turn => n + 1,
        Some(Some((Ok(_), Ok(_)))) => {
            return error(
                StatusCode::GONE,
                "that turn's events are no longer kept; GET the conversation for its history",
            )
        }
        Some(_) => {
            return error(StatusCode::BAD_REQUEST, "Last-Event-ID must look like <turn>-<n>, as the stream sent it")
        }
    };
    stream(log, start)
}

/// The SSE stream of `log` from event `start` on.
fn stream(log: Arc<TurnLog>, start: usize) -> Response {
    let body = crate::body::produced(move |tx: mpsc::Sender<Bytes>| async move {
        let mut progress = log.progress.subscribe();
        let mut next = start;
        loop {
            let (pending, done) = {
                let events = log.events.lock().unwrap_or_else(|p| p.into_inner());
                let pending: Vec<(usize, &'static str, Value)> =
                    events.iter().enumerate().skip(next).map(|(i, (n, d))| (i, *n, d.clone())).collect();
                (pending, progress.borrow_and_update().1)
            };
            for (i, name, data) in pending {
                let frame = format!("id: {}-{i}\nevent: {name}\ndata: {data}\n\n", log.turn);
                if tx.send(Bytes::from(frame)).await.is_err() {
                    return;
                }
                next = i + 1;
            }
            if done && next >= log.events.lock().unwrap_or_else(|p| p.into_inner()).len() {
                return;
            }
            tokio::select! {
                changed = progress.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(KEEP_ALIVE) => {
                    if tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
