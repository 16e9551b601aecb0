//! A conversation in the host's own terms, converted to each provider's format at its edge.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One turn of a conversation (the system prompt is the agent's, never a message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", content = "content", rename_all = "snake_case")]
pub enum Message {
    /// What the user wrote.
    User(String),
    /// What the model answered: text, tool calls, or both.
    Assistant(AssistantTurn),
    /// The results of the previous assistant turn's tool calls, in its order.
    ToolResults(Vec<ToolOutcome>),
}

/// A model's turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssistantTurn {
    /// The text, possibly empty.
    pub text: String,
    /// The tools it asked for, in its order.
    pub tool_calls: Vec<ToolCall>,
    /// Provider data that must be sent back unchanged with this turn (thinking blocks,
    /// signatures), in the provider's own JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub opaque: Vec<Value>,
}

/// One tool call a model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call; results are keyed by it.
    pub id: String,
    /// The tool's name as the provider knows it (`ToolNames` maps it back to the server's).
    pub name: String,
    /// The arguments as the model wrote them: JSON text, not yet checked.
    pub arguments: String,
}

/// The result of one tool call, as the model will read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolOutcome {
    /// The call it answers.
    pub call_id: String,
    /// The tool's provider-side name.
    pub name: String,
    /// The result as text (structured results as JSON text).
    pub content: String,
    /// Whether the call failed; the model is told so it can correct itself.
    pub is_error: bool,
}

/// Tokens a turn used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
}

impl Usage {
    /// Adds another round's usage.
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }
}
