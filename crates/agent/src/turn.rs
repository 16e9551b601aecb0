//! One user message's turn: model rounds and tool calls until the model answers, a confirmation
//! is needed, the rounds run out, or the deadline passes.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use switchboard_mcp::server::LocalClient;
use switchboard_protocol::content::ContentBlock;
use switchboard_protocol::tools::CallToolResult;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::agent::{Agent, Model};
use crate::confirm::{self, Reply};
use crate::message::{AssistantTurn, Message, ToolCall, ToolOutcome, Usage};
use crate::provider::{Deltas, ModelRequest, ModelTurn};
use crate::tools::ToolNames;

pub use crate::outcome::{Event, PendingConfirmation, Timing, ToolCallRecord, TurnError, TurnOutput};

/// A turn's inputs.
#[derive(Debug, Clone, Copy)]
pub struct TurnRequest<'a> {
    /// The conversation so far, ending with the user's new message.
    pub history: &'a [Message],
    /// The caller, as whom every tool runs.
    pub client: &'a LocalClient,
    /// Sampling temperature, when the caller set one.
    pub temperature: Option<f64>,
    /// Fires when the caller goes away; in-flight tool calls are cancelled with it.
    pub cancel: &'a CancellationToken,
}

impl Agent {
    /// Runs one turn, sending [`Event`]s to `events` as it goes.
    pub async fn run_turn(
        self: &Arc<Self>,
        request: TurnRequest<'_>,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Result<TurnOutput, TurnError> {
        if !matches!(request.history.last(), Some(Message::User(_))) {
            return Err(TurnError::Invalid("the conversation must end with a user message".into()));
        }
        let principal = request.client.principal().id().to_owned();
        if let Some(budget) = self.settings.daily_token_budget {
            if self.budgets.used(&principal) >= budget {
                return Err(TurnError::Budget(budget));
            }
        }
        // Deterministic requests only; the key is the whole conversation, for this principal.
        let cache_key = (request.temperature == Some(0.0)).then(|| format!("{:?}", request.history));
        if let Some(key) = &cache_key {
            if let Some(mut hit) = self.cache.get(&principal, key) {
                let _ = events.send(Event::Text { text: hit.text.clone() });
                hit.cached = true;
                hit.timing = Timing::default();
                hit.usage = Usage::default();
                hit.cost_usd = 0.0;
                return Ok(hit);
            }
        }
        let started = std::time::Instant::now();
        let limit = self.settings.turn_timeout;
        let cancel = request.cancel.child_token();
        let _cancel_tools = cancel.clone().drop_guard();
        let request = TurnRequest { cancel: &cancel, ..request };
        let mut out = tokio::select! {
            out = self.turn(request, events) => out,
            () = tokio::time::sleep(limit) => Err(TurnError::Deadline(limit)),
            () = request.cancel.cancelled() => Err(TurnError::Cancelled),
        }?;
        out.timing.total = started.elapsed();
        if let (Some(sink), Ok(rounds)) = (&self.usage_sink, u32::try_from(out.rounds)) {
            if rounds > 0 {
                sink.round_overhead(out.timing.host() / rounds);
            }
        }
        if let Some(key) = cache_key {
            if out.tool_calls.is_empty() && out.pending.is_none() {
                self.cache.put(&principal, key, &out);
            }
        }
        Ok(out)
    }

    async fn turn(
        &self,
        request: TurnRequest<'_>,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Result<TurnOutput, TurnError> {
        let client = request.client;
        let listed = client.list_tools(request.cancel).await.map_err(|e| TurnError::Tools(e.message))?;
        let names = ToolNames::new(listed.into_iter().filter(|t| self.settings.offers(t)));
        let mut history = request.history.to_vec();
        let mut out = TurnOutput {
            text: String::new(),
            messages: Vec::new(),
            usage: Usage::default(),
            rounds: 0,
            tool_calls: Vec::new(),
            pending: None,
            model: String::new(),
            cost_usd: 0.0,
            cached: false,
            timing: Timing::default(),
        };
        let confirming = std::time::Instant::now();
        let confirmed = self.confirmed_action(&history, client, &names, request.cancel, events, &mut out).await;
        if confirmed.is_some() {
            out.timing.tools += confirming.elapsed();
        }
        if let Some(added) = confirmed {
            history.extend(added.iter().cloned());
            out.messages.extend(added);
        }
        // A model that failed in this turn is not asked again in it.
        let mut first_model = 0;
        loop {
            if out.rounds == self.settings.max_rounds {
                out.text = format!(
                    "I could not finish this within {} steps. Please try again with a narrower question.",
                    self.settings.max_rounds
                );
                let _ = events.send(Event::Text { text: out.text.clone() });
                out.messages.push(Message::Assistant(AssistantTurn { text: out.text.clone(), ..Default::default() }));
                return Ok(out);
            }
            out.rounds += 1;
            let asked = std::time::Instant::now();
            let (model, answer) = self.ask(&history, &names, request, events, &mut first_model).await?;
            out.timing.model += asked.elapsed();
            out.model = format!("{}/{}", model.provider.name(), model.model);
            out.usage.add(answer.usage);
            let cost = self.cost(&model.model, answer.usage);
            out.cost_usd += cost;
            self.budgets.add(request.client.principal().id(), answer.usage.input_tokens + answer.usage.output_tokens);
            if let Some(sink) = &self.usage_sink {
                sink.record(model.provider.name(), &model.model, answer.usage, cost);
            }
            let turn = answer.turn;
            history.push(Message::Assistant(turn.clone()));
            out.messages.push(Message::Assistant(turn.clone()));
            if turn.tool_calls.is_empty() {
                out.text = turn.text;
                return Ok(out);
            }
            let ran = std::time::Instant::now();
            let results = self.run_calls(&turn.tool_calls, client, &names, request.cancel, events, &mut out).await;
            out.timing.tools += ran.elapsed();
            history.push(Message::ToolResults(results.clone()));
            out.messages.push(Message::ToolResults(results));
            if let Some(pending) = &out.pending {
                out.text = confirmation_question(&turn.text, pending);
                let _ = events.send(Event::Text { text: out.text.clone() });
                out.messages.push(Message::Assistant(AssistantTurn { text: out.text.clone(), ..Default::default() }));
                return Ok(out);
            }
        }
    }

    /// One model round through the chain: each model with its retries, then the next.
    async fn ask(
        &self,
        history: &[Message],
        names: &ToolNames,
        request: TurnRequest<'_>,
        events: &mpsc::UnboundedSender<Event>,
        first_model: &mut usize,
    ) -> Result<(&Model, ModelTurn), TurnError> {
        let sink = events.clone();
        let deltas = Deltas::new(move |text| {
            let _ = sink.send(Event::Text { text: text.to_owned() });
        });
        let mut last_error = None;
        let last = self.models.len() - 1;
        for (i, (model, breaker)) in self.models.iter().zip(&self.breakers).enumerate().skip(*first_model) {
            // A model that keeps failing is skipped for a while (the last one is always tried).
            if i < last && breaker.is_open() {
                tracing::debug!(target: "switchboard::agent", provider = model.provider.name(), "circuit open; skipping this model");
                continue;
            }
            let round = ModelRequest {
                model: &model.model,
                system: &self.settings.system_prompt,
                messages: history,
                tools: names.specs(),
                temperature: request.temperature,
                client: request.client,
                cancel: request.cancel,
            };
            let mut attempt = 0;
            loop {
                match model.provider.complete(round, &deltas).await {
                    Ok(answer) => {
                        breaker.succeeded();
                        return Ok((model, answer));
                    }
                    Err(e) if e.is_retryable() && attempt < self.settings.retries => {
                        attempt += 1;
                        let backoff = Duration::from_millis(250 * (1 << attempt.min(6)));
                        let wait = e.retry_after().unwrap_or(backoff).min(self.settings.max_retry_wait);
                        tracing::warn!(target: "switchboard::agent", provider = model.provider.name(), error = %e, ?wait, attempt, "model round failed; retrying");
                        tokio::time::sleep(wait).await;
                    }
                    Err(e) => {
                        tracing::warn!(target: "switchboard::agent", provider = model.provider.name(), error = %e, "model round failed; trying the next model");
                        breaker.failed(self.settings.breaker_failures, self.settings.breaker_cool_down);
                        *first_model = (i + 1).min(last);
                        last_error = Some(e);
                        break;
                    }
                }
            }
        }
        Err(last_error.map_or_else(|| TurnError::Invalid("no model configured".into()), TurnError::Provider))
    }

    /// Runs a round's calls concurrently; a call that needs confirmation is kept instead.
    async fn run_calls(
        &self,
        calls: &[ToolCall],
        client: &LocalClient,
        names: &ToolNames,
        cancel: &CancellationToken,
        events: &mpsc::UnboundedSender<Event>,
        out: &mut TurnOutput,
    ) -> Vec<ToolOutcome> {
        let mut runs = Vec::new();
        let mut outcomes: Vec<Option<ToolOutcome>> = vec![None; calls.len()];
        for (i, call) in calls.iter().enumerate() {
            let refuse = |message: String, arguments: Value, out: &mut TurnOutput| {
                out.tool_calls.push(ToolCallRecord {
                    id: call.id.clone(),
                    tool: call.name.clone(),
                    arguments,
                    status: "refused",
                });
                ToolOutcome { call_id: call.id.clone(), name: call.name.clone(), content: message, is_error: true }
            };
            let Some(tool) = names.tool(&call.name) else {
                let arguments = serde_json::from_str(&call.arguments).unwrap_or(Value::String(call.arguments.clone()));
                outcomes[i] = Some(refuse(format!("there is no tool named {:?}", call.name), arguments, out));
                continue;
            };
            let arguments = match parse_arguments(&call.arguments) {
                Ok(a) => a,
                Err(problem) => {
                    let message =
                        format!("the arguments for {} are not a JSON object ({problem}); send them again", call.name);
                    outcomes[i] = Some(refuse(message, Value::String(call.arguments.clone()), out));
                    continue;
                }
            };
            if self.settings.needs_confirmation(tool) {
                // Only what can run is put to the user (the model corrects the rest first), and
                // one action at a time (the model can ask again after this one).
                let refusal = match client.check_arguments(&tool.name, &arguments) {
                    Err(problem) => Some(problem),
                    Ok(()) if out.pending.is_some() => {
                        Some("only one action can wait for confirmation at a time".to_owned())
                    }
                    Ok(()) => None,
                };
                if let Some(message) = refusal {
                    outcomes[i] = Some(refuse(message, Value::Object(arguments), out));
                    continue;
                }
                let id = self.pending.propose(client.principal().id(), &tool.name, &call.name, arguments.clone());
                let _ = events.send(Event::ConfirmationNeeded {
                    id: id.clone(),
                    tool: tool.name.clone(),
                    arguments: Value::Object(arguments.clone()),
                });
                out.tool_calls.push(ToolCallRecord {
                    id: call.id.clone(),
                    tool: tool.name.clone(),
                    arguments: Value::Object(arguments.clone()),
                    status: "needs_confirmation",
                });
                out.pending = Some(PendingConfirmation { id, tool: tool.name.clone(), arguments });
                outcomes[i] = Some(ToolOutcome {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    content: "not run yet: waiting for the user's confirmation".into(),
                    is_error: false,
                });
                continue;
            }
            let _ = events.send(Event::ToolStarted {
                id: call.id.clone(),
                tool: tool.name.clone(),
                arguments: Value::Object(arguments.clone()),
            });
            out.tool_calls.push(ToolCallRecord {
                id: call.id.clone(),
                tool: tool.name.clone(),
                arguments: Value::Object(arguments.clone()),
                status: "done",
            });
            let record = out.tool_calls.len() - 1;
            let tool_name = tool.name.clone();
            runs.push(async move {
                let result = client.call_tool(&tool_name, arguments, cancel).await;
                (i, record, tool_name, result)
            });
        }
        for (i, record, tool, result) in futures_util::future::join_all(runs).await {
            let call = &calls[i];
            let (content, is_error) = match result {
                Ok(result) => (result_text(&result, self.settings.max_result_chars), result.is_error == Some(true)),
                Err(e) => (e.message, true),
            };
            if is_error {
                out.tool_calls[record].status = "failed";
            }
            let _ = events.send(Event::ToolFinished { id: call.id.clone(), tool, is_error });
            outcomes[i] = Some(ToolOutcome { call_id: call.id.clone(), name: call.name.clone(), content, is_error });
        }
        outcomes.into_iter().flatten().collect()
    }

    /// When the user answers a confirmation question: runs (or drops) the action it named, and
    /// returns the messages that record it for the model.
    async fn confirmed_action(
        &self,
        history: &[Message],
        client: &LocalClient,
        names: &ToolNames,
        cancel: &CancellationToken,
        events: &mpsc::UnboundedSender<Event>,
        out: &mut TurnOutput,
    ) -> Option<Vec<Message>> {
        let [.., Message::Assistant(question), Message::User(answer)] = history else { return None };
        let id = confirm::mentioned_action(&question.text)?;
        let reply = confirm::reply(answer);
        if reply == Reply::Other {
            return None;
        }
        let action = self.pending.take(id, client.principal().id())?;
        let call = ToolCall {
            id: format!("confirmed_{id}"),
            name: action.provider_name.clone(),
            arguments: Value::Object(action.arguments.clone()).to_string(),
        };
        // The tool must still be offered to this caller now.
        names.tool(&call.name).filter(|t| t.name == action.tool)?;
        let (content, is_error, status) = if reply == Reply::No {
            ("the user declined; nothing was done".to_owned(), false, "declined")
        } else {
            let _ = events.send(Event::ToolStarted {
                id: call.id.clone(),
                tool: action.tool.clone(),
                arguments: Value::Object(action.arguments.clone()),
            });
            let (content, is_error) = match client.call_tool(&action.tool, action.arguments.clone(), cancel).await {
                Ok(result) => (result_text(&result, self.settings.max_result_chars), result.is_error == Some(true)),
                Err(e) => (e.message, true),
            };
            let _ = events.send(Event::ToolFinished { id: call.id.clone(), tool: action.tool.clone(), is_error });
            (content, is_error, if is_error { "failed" } else { "done" })
        };
        out.tool_calls.push(ToolCallRecord {
            id: call.id.clone(),
            tool: action.tool.clone(),
            arguments: Value::Object(action.arguments),
            status,
        });
        let outcome = ToolOutcome { call_id: call.id.clone(), name: call.name.clone(), content, is_error };
        Some(vec![
            Message::Assistant(AssistantTurn { text: String::new(), tool_calls: vec![call], opaque: Vec::new() }),
            Message::ToolResults(vec![outcome]),
        ])
    }
}

fn parse_arguments(text: &str) -> Result<Map<String, Value>, String> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!("got {}", type_name(&other))),
        Err(e) => Err(e.to_string()),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A tool result as the model reads it: structured content as JSON text, else the text blocks;
/// cut at `max_chars`.
fn result_text(result: &CallToolResult, max_chars: usize) -> String {
    let mut text = match &result.structured_content {
        Some(structured) => structured.to_string(),
        None => result
            .content
            .iter()
            .map(|block| match block {
                ContentBlock::Text(t) => t.text.clone(),
                ContentBlock::Image(_) => "[an image]".to_owned(),
                ContentBlock::Audio(_) => "[audio]".to_owned(),
                ContentBlock::ResourceLink(link) => format!("[resource {}]", link.uri),
                ContentBlock::Resource(_) => "[an embedded resource]".to_owned(),
                _ => "[content]".to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    };
    if text.chars().count() > max_chars {
        text = text.chars().take(max_chars).collect();
        text.push_str(" …[cut: the result was longer]");
    }
    text
}

/// The question a turn ends on when an action needs confirmation.
fn confirmation_question(model_text: &str, pending: &PendingConfirmation) -> String {
    let arguments = Value::Object(pending.arguments.clone());
    let lead = if model_text.trim().is_empty() { String::new() } else { format!("{}\n\n", model_text.trim()) };
    format!(
        "{lead}Before I go ahead: {} with {arguments}. Reply \"yes\" to confirm or \"no\" to cancel. [confirm:{}]",
        pending.tool, pending.id
    )
}
