//! What a turn produces: its events as they happen, and how it ended.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::message::{Message, Usage};
use crate::provider::ProviderError;

/// What happens during a turn, in order, for streaming clients.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A piece of the answer's text.
    Text {
        /// The text.
        text: String,
    },
    /// A tool call starts.
    ToolStarted {
        /// The call's id.
        id: String,
        /// The server's tool name.
        tool: String,
        /// Its arguments.
        arguments: Value,
    },
    /// A tool call ended.
    ToolFinished {
        /// The call's id.
        id: String,
        /// The server's tool name.
        tool: String,
        /// Whether it failed.
        is_error: bool,
    },
    /// An action waits for the user's confirmation.
    ConfirmationNeeded {
        /// The action's id.
        id: String,
        /// The server's tool name.
        tool: String,
        /// The arguments it will run with.
        arguments: Value,
    },
}

/// A tool call made (or proposed) during a turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCallRecord {
    /// The call's id.
    pub id: String,
    /// The server's tool name (the name the model used when it named no tool we know).
    pub tool: String,
    /// The arguments as the model sent them (JSON when they parse).
    pub arguments: Value,
    /// `done`, `failed`, `refused` (not offered, or arguments that do not parse) or
    /// `needs_confirmation`.
    pub status: &'static str,
}

/// A confirmation the turn ended on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingConfirmation {
    /// The action's id (the user confirms by answering the question that names it).
    pub id: String,
    /// The server's tool name.
    pub tool: String,
    /// The arguments it will run with.
    pub arguments: Map<String, Value>,
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnOutput {
    /// The answer.
    pub text: String,
    /// The messages the turn added after the user's (assistant turns and tool results).
    pub messages: Vec<Message>,
    /// Tokens used by every round.
    pub usage: Usage,
    /// Model rounds run.
    pub rounds: usize,
    /// The tool calls, in order.
    pub tool_calls: Vec<ToolCallRecord>,
    /// The action waiting for confirmation, if the turn ended on one.
    pub pending: Option<PendingConfirmation>,
    /// The model that answered last (`provider/model`).
    pub model: String,
    /// What the rounds cost, from the agent's price table.
    pub cost_usd: f64,
    /// Whether the answer came from the answer cache (no model was asked).
    pub cached: bool,
    /// Where the turn's time went.
    pub timing: Timing,
}

/// Where a turn's time went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timing {
    /// The whole turn.
    pub total: Duration,
    /// Waiting for models (requests, streams, retries' waits).
    pub model: Duration,
    /// Running tools (each round's concurrent batch counted once).
    pub tools: Duration,
}

impl Timing {
    /// The host's own time: the rest.
    pub fn host(&self) -> Duration {
        self.total.saturating_sub(self.model).saturating_sub(self.tools)
    }
}

/// Why a turn failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TurnError {
    /// The turn's deadline passed.
    #[error("the answer took longer than the limit of {0:?}")]
    Deadline(Duration),
    /// The client went away.
    #[error("the turn was cancelled")]
    Cancelled,
    /// No model in the chain could answer.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The tools could not be listed.
    #[error("the tools could not be listed: {0}")]
    Tools(String),
    /// The request itself is unusable.
    #[error("{0}")]
    Invalid(String),
    /// The caller used its daily token budget.
    #[error("the daily token budget of {0} tokens is used up; it renews at midnight UTC")]
    Budget(u64),
}
