//! Serving a config file: load and validate it, connect its databases (creating and seeding the
//! embedded ones on first run), start the gateway's hot reload, and print how to connect.

use std::path::{Path, PathBuf};

use anyhow::Context;
use std::sync::Arc;

use switchboard_gateway::{Config, ConfigError, Guardrails, Identities, Upstreams};
use switchboard_mcp::server::{CatalogHandle, Notifier, Server};
use switchboard_mcp::Limits;

use crate::serve::Callers;

/// What serving a config file needs.
#[derive(Debug)]
pub struct Configured {
    /// The server.
    pub server: Server,
    /// The config (for its listen/stdio defaults).
    pub config: Config,
    /// Who may call it (from its `auth:` section).
    pub callers: Callers,
    /// Its guardrails (audit, breakers, databases).
    pub guardrails: Arc<Guardrails>,
    /// The chat API's routes, when the config has an `agent:`.
    pub chat: Option<axum::Router>,
    /// The data directory (embedded databases, the chat history).
    pub data_dir: PathBuf,
    /// The upstream MCP servers' connections (stopped when serving ends).
    pub upstreams: Upstreams,
}

/// What a served config is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// A YAML config (`--config`).
    Yaml,
    /// An `mcpServers` JSON file (`--mcp-servers`).
    McpServers,
}

impl ConfigFormat {
    fn loader(self) -> fn(&Path) -> Result<Config, ConfigError> {
        match self {
            ConfigFormat::Yaml => crate::config_file::load,
            ConfigFormat::McpServers => crate::config_file::load_mcp_servers,
        }
    }
}

/// A server for `config_path`, with everything [`Configured`] holds.
pub async fn server(
    config_path: &Path,
    format: ConfigFormat,
    data_dir: Option<&Path>,
    redis_url: Option<&str>,
    limits: Limits,
) -> anyhow::Result<Configured> {
    let mut config = (format.loader())(config_path)?;
    if let Some(url) = redis_url.filter(|u| !u.is_empty()) {
        config.server.redis_url = Some(url.to_owned());
        // Checked as the config's own value would be; the message never quotes the URL.
        switchboard_gateway::config::check_redis_url(url).map_err(anyhow::Error::msg)?;
    }
    let identities = Identities::from_config(&config.auth).map_err(anyhow::Error::msg)?;
    let data_dir = crate::config_file::data_dir(&config, data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let upstreams = Upstreams::new();
    let catalog = switchboard_gateway::build(&config, &data_dir, &natives(), &upstreams)
        .await
        .with_context(|| format!("building the catalog of {}", config_path.display()))?;
    let mut builder = Server::builder(
        config.server.name.clone().unwrap_or_else(|| "switchboard".into()),
        config.server.version.clone().unwrap_or_else(|| env!("CARGO_PKG_VERSION").into()),
    )
    .limits(limits);
    if let Some(text) = &config.server.instructions {
        builder = builder.instructions(text.clone());
    }
    let guardrails = Arc::new(Guardrails::new(&config, &data_dir).await.map_err(anyhow::Error::msg)?);
    if let Some(redis) = guardrails.redis() {
        // Any replica answers for a task, and a finished task outlives a restart.
        builder = builder.task_store(switchboard_gateway::shared::RedisTaskStore::new(redis.clone()));
    }
    let catalog = CatalogHandle::new(catalog.compile(&config, &guardrails).context("compiling the catalog")?);
    let notifier = Notifier::default();
    // A client subscribing to an upstream's resource subscribes the gateway at that upstream.
    let (watching, releasing) = (upstreams.clone(), upstreams.clone());
    let server = builder
        .catalog(catalog.clone())
        .notifier(notifier.clone())
        .on_resource_subscribe(move |uri| watching.watch_resource(uri))
        .on_resource_unsubscribe(move |uri| releasing.unwatch_resource(uri))
        .build();
    upstreams.set_notifier(notifier.clone());
    if let Some(redis) = guardrails.redis() {
        switchboard_gateway::shared::relay_changes(redis, &notifier);
    }
    let watch = switchboard_gateway::reload::Watch {
        path: config_path.to_owned(),
        data_dir: data_dir.clone(),
        load: format.loader(),
        natives: natives(),
        guardrails: guardrails.clone(),
        upstreams: upstreams.clone(),
    };
    watch.spawn(catalog, notifier, server.shutdown_token());
    let callers = Callers::from_identities(identities)?;
    let chat =
        crate::agents::chat_routes(&config, &server, &callers.stdio, &data_dir, guardrails.metrics().clone()).await?;
    Ok(Configured { server, config, callers, guardrails, chat, data_dir, upstreams })
}

/// The native tools a config may name: the shop's, and the demonstration's `echo` (`demo.echo`,
/// the cheapest tool there is, for measuring the gateway's own cost).
fn natives() -> switchboard_gateway::NativeTools {
    switchboard_shop::natives()
        .with("demo.echo", |router, t| Ok(switchboard_demo::echo_tool(router, t.name, &t.config.description)))
}

/// Tells a person how to reach the server; with `keyed`, which header carries their API key.
pub fn print_connect_help(config_path: &Path, listen: Option<&str>, keyed: bool) {
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "switchboard".into());
    let config = std::fs::canonicalize(config_path).unwrap_or_else(|_| config_path.to_owned());
    let mut help = String::from("\nHow to connect:\n");
    if let Some(addr) = listen {
        let (auth, header, inspector_header) = if keyed {
            (
                "  API key:          required; send `X-API-Key: <key>` or `Authorization: Bearer <key>`\n",
                " -H 'X-API-Key: <key>'",
                " --header 'X-API-Key: <key>'",
            )
        } else {
            ("  API key:          none configured: every caller is anonymous (local development)\n", "", "")
        };
        help.push_str(&format!(
            "  Streamable HTTP:  http://{addr}/mcp   (WebSocket ws://{addr}/ws, legacy SSE http://{addr}/sse)\n{auth}  \
             Inspector:        npx @modelcontextprotocol/inspector --cli --transport http --server-url http://{addr}/mcp{inspector_header} --method tools/list\n  \
             switchboard:      {exe} client --url http://{addr}/mcp{header} tools list\n  \
             Operators:        http://{addr}/healthz, http://{addr}/readyz, http://{addr}/metrics\n"
        ));
    }
    help.push_str(&format!(
        "  Claude Desktop (stdio), in claude_desktop_config.json:\n    \
         {{\"mcpServers\": {{\"shop\": {{\"command\": \"{exe}\", \"args\": [\"serve\", \"--stdio\", \"--config\", \"{}\"]}}}}}}\n",
        config.display()
    ));
    eprintln!("{help}");
}
