//! The config's `agent:` section made into a running agent and its chat API routes. Provider
//! keys and base URLs come from the conventional environment variables (`OPENAI_API_KEY`,
//! `OPENAI_BASE_URL`, `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`, `GEMINI_API_KEY`,
//! `GEMINI_BASE_URL`); keys are never logged.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchboard_agent::provider::anthropic::Anthropic;
use switchboard_agent::provider::gemini::Gemini;
use switchboard_agent::provider::openai::OpenAi;
use switchboard_agent::provider::rules::{Rules, RulesConfig};
use switchboard_agent::store::ConversationStore;
use switchboard_agent::{Agent, AgentSettings, Model, Price, Provider, Usage, UsageSink};
use switchboard_gateway::policy::Metrics;
use switchboard_gateway::{AgentSection, Config};
use switchboard_mcp::server::{Principal, Server};
use tokio_util::sync::CancellationToken;

/// The config's agent, if it has one. `operator` renders the system prompt when it comes from
/// one of the config's prompts; usage goes to `metrics`.
pub async fn agent(
    config: &Config,
    server: &Server,
    operator: &Principal,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Option<Agent>> {
    let Some(section) = &config.agent else { return Ok(None) };
    let agent = build(section, server, operator).await?.with_usage_sink(Arc::new(UsageMetrics(metrics)));
    Ok(Some(agent))
}

/// The chat API's routes for the config's agent, if it has one (see [`agent`]); conversations
/// are kept in `data_dir/conversations.db` unless the config names a database.
pub async fn chat_routes(
    config: &Config,
    server: &Server,
    operator: &Principal,
    data_dir: &Path,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Option<axum::Router>> {
    let (Some(section), Some(agent)) = (&config.agent, agent(config, server, operator, metrics).await?) else {
        return Ok(None);
    };
    let url = conversations_url(section, data_dir);
    // The URL may hold a password: errors name the store, not the URL.
    let store = ConversationStore::open(&url).await.context("opening the agent's conversation store")?;
    let models: Vec<String> = agent.models().iter().map(|m| format!("{}/{}", m.provider.name(), m.model)).collect();
    let priced: Vec<&String> = section.prices.keys().collect();
    tracing::info!(target: "switchboard", agent = %section.name, models = ?models, priced = ?priced, "chat API: /v1/chat/completions, /v1/models, /v1/conversations");
    Ok(Some(switchboard_agent::chat_api::router(server.clone(), [Arc::new(agent)], Some(store))))
}

/// Where the agent's conversations are kept: its `conversations_url`, else
/// `data_dir/conversations.db`.
pub fn conversations_url(section: &AgentSection, data_dir: &Path) -> String {
    match section.conversations_url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}", data_dir.join("conversations.db").display()),
    }
}

async fn build(section: &AgentSection, server: &Server, operator: &Principal) -> anyhow::Result<Agent> {
    let system_prompt = match (&section.system_prompt, &section.system_prompt_from) {
        (Some(text), _) => text.clone(),
        (None, Some(name)) => render_prompt(server, operator, name).await?,
        (None, None) => String::new(),
    };
    let mut settings = AgentSettings::new(&section.name, system_prompt);
    settings.description = section.description.clone().unwrap_or_default();
    settings.tools = section.tools.as_ref().map(|t| t.iter().cloned().collect::<BTreeSet<_>>());
    settings.confirm = section.confirm.iter().cloned().collect();
    if let Some(n) = section.max_rounds {
        settings.max_rounds = n;
    }
    if let Some(ms) = section.turn_timeout_ms {
        settings.turn_timeout = Duration::from_millis(ms);
    }
    settings.prices = section
        .prices
        .iter()
        .map(|(model, p)| {
            (model.clone(), Price { input_per_mtok: p.input_per_mtok, output_per_mtok: p.output_per_mtok })
        })
        .collect();
    settings.daily_token_budget = section.daily_token_budget;
    let defaults = RulesConfig::default();
    let r = section.rules.clone().unwrap_or_default();
    let rules = Rules::new(RulesConfig {
        order_status_tool: r.order_status_tool.unwrap_or(defaults.order_status_tool),
        search_tool: r.search_tool.unwrap_or(defaults.search_tool),
        escalate_tool: r.escalate_tool.unwrap_or(defaults.escalate_tool),
        policy_resource: r.policy_resource.unwrap_or(defaults.policy_resource),
    });
    let rules = Model { provider: Arc::new(rules), model: "rules".into() };
    let mut models = Vec::new();
    let provider = section.provider();
    if provider != "rules" {
        let own = (provider.as_str(), section.model.as_deref().unwrap_or_default(), section.base_url.as_deref());
        let chain = std::iter::once(own)
            .chain(section.fallback.iter().map(|f| (f.provider.as_str(), f.model.as_str(), f.base_url.as_deref())));
        for (provider, model, base_url) in chain {
            let provider = provider_for(provider, base_url, settings.turn_timeout, section.stream.unwrap_or(true))?;
            models.push(Model { provider, model: model.to_owned() });
        }
    }
    if provider == "rules" || section.rules_fallback.unwrap_or(true) {
        models.push(rules);
    }
    Agent::new(settings, models).map_err(anyhow::Error::msg)
}

/// A provider client: its base URL from the config, else `<PROVIDER>_BASE_URL`, else its public
/// API; its key from `<PROVIDER>_API_KEY` (never from the config file, never logged).
fn provider_for(
    name: &str,
    base_url: Option<&str>,
    timeout: Duration,
    streaming: bool,
) -> anyhow::Result<Arc<dyn Provider>> {
    let name = name.to_ascii_lowercase();
    let (env, public) = match name.as_str() {
        "openai" => ("OPENAI", "https://api.openai.com/v1"),
        "anthropic" => ("ANTHROPIC", "https://api.anthropic.com"),
        "gemini" => ("GEMINI", "https://generativelanguage.googleapis.com"),
        other => anyhow::bail!("unknown provider {other:?}"),
    };
    let var = |suffix: &str| std::env::var(format!("{env}_{suffix}")).ok().filter(|v| !v.is_empty());
    let base_url = base_url
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .or_else(|| var("BASE_URL"))
        .unwrap_or_else(|| public.to_owned());
    let key = var("API_KEY");
    let provider: Arc<dyn Provider> = match name.as_str() {
        "openai" => Arc::new(
            OpenAi::new("openai", &base_url, key, timeout).map_err(anyhow::Error::msg)?.with_streaming(streaming),
        ),
        "anthropic" => Arc::new(Anthropic::new(&base_url, key, timeout).map_err(anyhow::Error::msg)?),
        _ => Arc::new(Gemini::new(&base_url, key, timeout).map_err(anyhow::Error::msg)?),
    };
    Ok(provider)
}

async fn render_prompt(server: &Server, operator: &Principal, name: &str) -> anyhow::Result<String> {
    let client = server.local_client(operator.clone(), "agent-setup");
    let prompt = client
        .get_prompt(name, Default::default(), &CancellationToken::new())
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))
        .with_context(|| format!("rendering the agent's system prompt from prompt {name:?}"))?;
    let texts: Vec<String> = prompt
        .messages
        .iter()
        .filter_map(|m| serde_json::to_value(&m.content).ok()?.get("text")?.as_str().map(str::to_owned))
        .collect();
    Ok(texts.join("\n\n"))
}

/// Each model round's tokens and cost, as `llm_tokens_total{provider,model,kind}` and
/// `llm_cost_usd_total`; each turn's own time per round as `agent_round_overhead_seconds`.
#[derive(Debug)]
struct UsageMetrics(Arc<Metrics>);

impl UsageSink for UsageMetrics {
    fn record(&self, provider: &str, model: &str, usage: Usage, cost_usd: f64) {
        self.0.llm_usage(provider, model, usage.input_tokens, usage.output_tokens, cost_usd);
    }

    fn round_overhead(&self, per_round: Duration) {
        self.0.agent_round_overhead(per_round.as_secs_f64());
    }
}
