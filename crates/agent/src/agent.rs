//! An agent: a system prompt, the tools it may offer, which of them need the user's
//! confirmation, and the chain of models it asks (the first that answers wins).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_protocol::tools::Tool;

use crate::confirm::PendingActions;
use crate::message::Usage;
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
    /// Prices by model name, for the cost of each turn.
    pub prices: BTreeMap<String, Price>,
    /// Tokens (input + output) one principal may use per UTC day; `None`: no limit.
    pub daily_token_budget: Option<u64>,
    /// Consecutive failed rounds after which a model is skipped for `breaker_cool_down`. Default 3.
    pub breaker_failures: u32,
    /// How long a failing model is skipped. Default 30 s.
    pub breaker_cool_down: Duration,
}

/// A model's price in US dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    /// Per million input (prompt) tokens.
    pub input_per_mtok: f64,
    /// Per million output tokens.
    pub output_per_mtok: f64,
}

impl Price {
    /// What `usage` costs.
    pub fn cost(&self, usage: Usage) -> f64 {
        (usage.input_tokens as f64 * self.input_per_mtok + usage.output_tokens as f64 * self.output_per_mtok) / 1e6
    }
}

/// Where each round's usage is reported (the binary's metrics).
pub trait UsageSink: std::fmt::Debug + Send + Sync + 'static {
    /// One model round: who served it, its tokens, and their cost.
    fn record(&self, provider: &str, model: &str, usage: Usage, cost_usd: f64);

    /// One finished turn's own time per model round (see [`crate::outcome::Timing`]).
    fn round_overhead(&self, _per_round: Duration) {}
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
            prices: BTreeMap::new(),
            daily_token_budget: None,
            breaker_failures: 3,
            breaker_cool_down: Duration::from_secs(30),
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
    pub(crate) breakers: Vec<Breaker>,
    pub(crate) budgets: Budgets,
    pub(crate) cache: crate::cache::AnswerCache<crate::outcome::TurnOutput>,
    pub(crate) usage_sink: Option<Arc<dyn UsageSink>>,
}

impl Agent {
    /// An agent asking `models` in order (at least one).
    pub fn new(settings: AgentSettings, models: Vec<Model>) -> Result<Self, String> {
        if models.is_empty() {
            return Err(format!("agent {:?} has no model to ask", settings.name));
        }
        Ok(Self {
            breakers: models.iter().map(|_| Breaker::default()).collect(),
            settings,
            models,
            pending: PendingActions::default(),
            budgets: Budgets::default(),
            cache: crate::cache::AnswerCache::default(),
            usage_sink: None,
        })
    }

    /// Reports every round's usage to `sink`.
    pub fn with_usage_sink(mut self, sink: Arc<dyn UsageSink>) -> Self {
        self.usage_sink = Some(sink);
        self
    }

    /// What `usage` on `model` costs, from the price table (0 for an unpriced model).
    pub fn cost(&self, model: &str, usage: Usage) -> f64 {
        self.settings.prices.get(model).map_or(0.0, |p| p.cost(usage))
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

/// One model's circuit breaker: after `failures` failed rounds in a row, the model is skipped
/// until the cool-down has passed (then one round tries it again).
#[derive(Debug, Default)]
pub(crate) struct Breaker {
    state: Mutex<(u32, Option<Instant>)>,
}

impl Breaker {
    pub(crate) fn is_open(&self) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.1.is_some_and(|until| Instant::now() < until)
    }

    pub(crate) fn succeeded(&self) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = (0, None);
    }

    pub(crate) fn failed(&self, threshold: u32, cool_down: Duration) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.0 += 1;
        if state.0 >= threshold {
            state.1 = Some(Instant::now() + cool_down);
        }
    }
}

/// Tokens each principal used today (UTC days since the epoch). In memory: a restart forgets.
#[derive(Debug, Default)]
pub(crate) struct Budgets {
    used: Mutex<HashMap<String, (u64, u64)>>,
}

impl Budgets {
    fn today() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400)
    }

    /// Tokens `principal` used today.
    pub(crate) fn used(&self, principal: &str) -> u64 {
        let used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        used.get(principal).filter(|(day, _)| *day == Self::today()).map_or(0, |(_, n)| *n)
    }

    pub(crate) fn add(&self, principal: &str, tokens: u64) {
        let today = Self::today();
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if used.len() > 100_000 {
            used.retain(|_, (day, _)| *day == today);
        }
        let entry = used.entry(principal.to_owned()).or_insert((today, 0));
        if entry.0 != today {
            *entry = (today, 0);
        }
        entry.1 += tokens;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breaker_opens_after_its_threshold_and_closes_on_success() {
        let breaker = Breaker::default();
        breaker.failed(2, Duration::from_secs(60));
        assert!(!breaker.is_open(), "one failure of two");
        breaker.failed(2, Duration::from_secs(60));
        assert!(breaker.is_open());
        breaker.succeeded();
        assert!(!breaker.is_open());
        breaker.failed(1, Duration::ZERO);
        assert!(!breaker.is_open(), "a cool-down that has passed lets the next round try");
    }

    #[test]
    fn budgets_count_per_principal() {
        let budgets = Budgets::default();
        budgets.add("alice", 700);
        budgets.add("alice", 400);
        budgets.add("bob", 5);
        assert_eq!(budgets.used("alice"), 1100);
        assert_eq!(budgets.used("bob"), 5);
        assert_eq!(budgets.used("carol"), 0);
    }

    #[test]
    fn destructive_means_what_the_annotations_and_the_list_say() {
        use switchboard_protocol::tool::ToolAnnotations;
        let mut settings = AgentSettings::new("a", "");
        let mut read = Tool::new("read", "", Default::default());
        read.annotations = Some(ToolAnnotations { read_only_hint: Some(true), ..Default::default() });
        let mut additive = Tool::new("add", "", Default::default());
        additive.annotations = Some(ToolAnnotations { destructive_hint: Some(false), ..Default::default() });
        let unannotated = Tool::new("anything", "", Default::default());
        assert!(!settings.needs_confirmation(&read));
        assert!(!settings.needs_confirmation(&additive));
        assert!(settings.needs_confirmation(&unannotated), "the MCP default is destructive");
        settings.confirm.insert("add".into());
        assert!(settings.needs_confirmation(&additive));
    }
}
