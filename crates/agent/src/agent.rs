//! An agent: a system prompt, the tools it may offer, which of them need the user's
//! confirmation, and the chain of models it asks (the first that answers wins).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use switchboard_protocol::tools::Tool;

use crate::confirm::PendingActions;
use crate::provider::Provider;

/// How an agent behaves. Every field has a default but the name.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// The name clients ask for (the chat API's `model`).
    pub name: String,
    /// One line for model lists.
    pub description: String,
    /// The system prompt (fixed by the server; clients cannot replace it).
    pub system_prompt: String,
    /// The only tools it may offer (by server name); `None`: every tool the caller may use.
    pub tools: Option<BTreeSet<String>>,
    /// Tools that run only after the user confirms, besides those annotated destructive.
    pub confirm: BTreeSet<String>,
    /// Model rounds per user message. Default 5.
    pub max_rounds: usize,
    /// The whole turn's deadline, tool calls included. Default 120 s.
    pub turn_timeout: Duration,
    /// Retries of a round a provider could not serve (429, 5xx, broken stream). Default 2.
    pub retries: u32,
    /// The longest wait between retries, whatever `Retry-After` says. Default 30 s.
    pub max_retry_wait: Duration,
    /// The most characters of one tool result the model is shown. Default 32 KiB.
    pub max_result_chars: usize,
}

impl AgentSettings {
    /// Settings with defaults.
    pub fn new(name: impl Into<String>, system_prompt: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            system_prompt: system_prompt.into(),
            tools: None,
            confirm: BTreeSet::new(),
            max_rounds: 5,
            turn_timeout: Duration::from_secs(120),
            retries: 2,
            max_retry_wait: Duration::from_secs(30),
            max_result_chars: 32 * 1024,
        }
    }

    /// Whether `tool` may be offered.
    pub fn offers(&self, tool: &Tool) -> bool {
        self.tools.as_ref().is_none_or(|allowed| allowed.contains(&tool.name))
    }

    /// Whether `tool` runs only after the user confirms: listed, or able to destroy data
    /// (the MCP defaults: a tool not marked read-only is destructive unless it says otherwise).
    pub fn needs_confirmation(&self, tool: &Tool) -> bool {
        if self.confirm.contains(&tool.name) {
            return true;
        }
        let annotations = tool.annotations.as_ref();
        let read_only = annotations.and_then(|a| a.read_only_hint).unwrap_or(false);
        let destructive = annotations.and_then(|a| a.destructive_hint).unwrap_or(true);
        !read_only && destructive
    }
}

/// A model with its provider.
#[derive(Debug, Clone)]
pub struct Model {
    /// Who serves it.
    pub provider: Arc<dyn Provider>,
    /// Its name at the provider.
    pub model: String,
}

/// An agent, ready to run turns (`Agent::run_turn`).
#[derive(Debug)]
pub struct Agent {
    pub(crate) settings: AgentSettings,
    pub(crate) models: Vec<Model>,
    pub(crate) pending: PendingActions,
}

impl Agent {
    /// An agent asking `models` in order (at least one).
    pub fn new(settings: AgentSettings, models: Vec<Model>) -> Result<Self, String> {
        if models.is_empty() {
            return Err(format!("agent {:?} has no model to ask", settings.name));
        }
        Ok(Self { settings, models, pending: PendingActions::default() })
    }

    /// Its settings.
    pub fn settings(&self) -> &AgentSettings {
        &self.settings
    }

    /// The models it asks, in order.
    pub fn models(&self) -> &[Model] {
        &self.models
    }
}
