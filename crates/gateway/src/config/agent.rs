//! The `agent:` section: the assistant the chat API serves over this config's tools.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Config, Problem};

/// The providers an agent can ask.
pub const PROVIDERS: &[&str] = &["openai", "anthropic", "gemini", "rules"];

/// The `agent:` section.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    /// The name clients ask for (the chat API's `model`), e.g. `shop-assistant`.
    pub name: String,
    /// One line for model lists.
    #[serde(default)]
    pub description: Option<String>,
    /// The system prompt's text.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// The system prompt from a prompt of this config, by name (rendered with no arguments).
    #[serde(default)]
    pub system_prompt_from: Option<String>,
    /// The only tools it may offer. Default: every tool the caller may use.
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    /// Tools that run only after the user confirms (tools annotated destructive always do).
    #[serde(default)]
    pub confirm: Vec<String>,
    /// `openai` (or any OpenAI-compatible server), `anthropic`, `gemini`, or `rules` (no
    /// model). Default `rules`.
    #[serde(default)]
    pub provider: Option<String>,
    /// The model name at the provider.
    #[serde(default)]
    pub model: Option<String>,
    /// The provider's base URL. Default: `OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL` or
    /// `GEMINI_BASE_URL`, else the provider's public API.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Ask OpenAI-compatible models for streamed answers. Default true; false for compatible
    /// servers that cannot stream tool calls (Anthropic and Gemini are always streamed).
    #[serde(default)]
    pub stream: Option<bool>,
    /// Models asked, in order, when the one above cannot answer (rate limited past its
    /// retries, down, refusing the key).
    #[serde(default)]
    pub fallback: Vec<ModelSpec>,
    /// Model rounds per user message. Default 5.
    #[serde(default)]
    pub max_rounds: Option<usize>,
    /// The whole turn's deadline in milliseconds. Default 120000.
    #[serde(default)]
    pub turn_timeout_ms: Option<u64>,
    /// Fall back to the rules provider when the model fails. Default true.
    #[serde(default)]
    pub rules_fallback: Option<bool>,
    /// The tools and resource the rules provider uses.
    #[serde(default)]
    pub rules: Option<RulesSection>,
    /// Where conversations are kept: `sqlite://path`, `postgres://…` or `mysql://…`.
    /// Default: `conversations.db` (SQLite) in the data directory.
    #[serde(default)]
    pub conversations_url: Option<String>,
    /// Prices by model name, in US dollars per million tokens, for the cost of each turn.
    #[serde(default)]
    pub prices: std::collections::BTreeMap<String, PriceSpec>,
    /// Tokens one caller may use per UTC day (input and output). Default: no limit.
    #[serde(default)]
    pub daily_token_budget: Option<u64>,
}

/// A model's price.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    /// US dollars per million input tokens.
    pub input_per_mtok: f64,
    /// US dollars per million output tokens.
    pub output_per_mtok: f64,
}

/// One model of the fallback chain.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// `openai`, `anthropic` or `gemini`.
    pub provider: String,
    /// The model name at the provider.
    pub model: String,
    /// The provider's base URL (default as for the agent's own provider).
    #[serde(default)]
    pub base_url: Option<String>,
}

/// What the rules provider calls; each defaults to the shop's name.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesSection {
    /// Looks one order up by `order_id`. Default `get_order_status`.
    #[serde(default)]
    pub order_status_tool: Option<String>,
    /// Searches products by `query`. Default `search_products`.
    #[serde(default)]
    pub search_tool: Option<String>,
    /// Opens a ticket for a person. Default `escalate_to_human`.
    #[serde(default)]
    pub escalate_tool: Option<String>,
    /// The return policy resource. Default `shop://policies/returns`.
    #[serde(default)]
    pub policy_resource: Option<String>,
}

impl AgentSection {
    /// The provider's name, defaulted and lower-cased (an empty `${VAR:-}` means the default).
    pub fn provider(&self) -> String {
        match self.provider.as_deref().map(str::trim) {
            None | Some("") => "rules".to_owned(),
            Some(p) => p.to_ascii_lowercase(),
        }
    }

    pub(super) fn check(&self, config: &Config) -> Result<(), Problem> {
        let at = |key: &str| vec!["agent".to_owned(), key.to_owned()];
        let problem = |key: &str, message: String| Problem { at: at(key), message };
        if self.name.trim().is_empty() {
            return Err(problem("name", "must not be empty".into()));
        }
        let provider = self.provider();
        if !PROVIDERS.contains(&provider.as_str()) {
            let message = format!("unknown provider {provider:?}; expected one of {}", PROVIDERS.join(", "));
            return Err(problem("provider", message));
        }
        for (i, spec) in self.fallback.iter().enumerate() {
            let p = spec.provider.to_ascii_lowercase();
            if !PROVIDERS.contains(&p.as_str()) || p == "rules" {
                let message = format!(
                    "fallback[{i}]: unknown provider {:?}; expected openai, anthropic or gemini (rules is always last unless rules_fallback is false)",
                    spec.provider
                );
                return Err(problem("fallback", message));
            }
            if spec.model.trim().is_empty() {
                return Err(problem("fallback", format!("fallback[{i}]: needs a model name")));
            }
        }
        if provider != "rules" && self.model.as_deref().is_none_or(|m| m.trim().is_empty()) {
            return Err(problem("model", format!("the {provider} provider needs a model name")));
        }
        if self.system_prompt.is_some() && self.system_prompt_from.is_some() {
            return Err(problem("system_prompt", "give system_prompt or system_prompt_from, not both".into()));
        }
        if let Some(name) = &self.system_prompt_from {
            if !config.prompts.contains_key(name) {
                return Err(problem("system_prompt_from", format!("no prompt named {name:?}")));
            }
        }
        let tools =
            self.tools.iter().flatten().map(|t| ("tools", t)).chain(self.confirm.iter().map(|t| ("confirm", t)));
        for (key, tool) in tools {
            if !config.tools.contains_key(tool) {
                return Err(problem(key, format!("no tool named {tool:?}")));
            }
        }
        for (model, price) in &self.prices {
            let ok = |v: f64| v.is_finite() && v >= 0.0;
            if !ok(price.input_per_mtok) || !ok(price.output_per_mtok) {
                return Err(problem("prices", format!("{model}: prices must be numbers of 0 or more")));
            }
        }
        if let Some(url) = self.conversations_url.as_deref().filter(|u| !u.is_empty()) {
            let scheme = url.split(':').next().unwrap_or_default();
            if !["sqlite", "postgres", "postgresql", "mysql", "mariadb"].contains(&scheme) {
                return Err(problem("conversations_url", "must start with sqlite:, postgres: or mysql:".into()));
            }
        }
        if self.max_rounds == Some(0) {
            return Err(problem("max_rounds", "must be at least 1".into()));
        }
        if self.turn_timeout_ms == Some(0) {
            return Err(problem("turn_timeout_ms", "must be at least 1".into()));
        }
        Ok(())
    }
}
