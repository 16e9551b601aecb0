//! `switchboard client` flags. Each doc comment is its help text.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Where the server is: exactly one of --stdio, --url, --ws or --config/--server.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Launch the server as a child process, e.g. --stdio "npx -y @modelcontextprotocol/server-everything".
    /// The command line is split like a shell would, but no shell runs it.
    #[arg(long, value_name = "COMMAND", group = "target", global = true)]
    pub stdio: Option<String>,

    /// A Streamable HTTP endpoint, e.g. http://127.0.0.1:8080/mcp (modern or legacy).
    #[arg(long, value_name = "URL", group = "target", global = true)]
    pub url: Option<String>,

    /// A WebSocket endpoint (subprotocol mcp), e.g. ws://127.0.0.1:8080/ws.
    #[arg(long, value_name = "URL", group = "target", global = true)]
    pub ws: Option<String>,

    /// An mcpServers JSON file (the format of Claude Desktop and the Inspector) or a gateway
    /// YAML config (its upstreams:); pick the server with --server.
    #[arg(long, value_name = "FILE", group = "target", global = true)]
    pub config: Option<PathBuf>,

    /// The server's name in --config (optional when the file has only one).
    #[arg(long, value_name = "NAME", requires = "config", global = true)]
    pub server: Option<String>,

    /// An HTTP header for --url/--ws, as 'Name: value' (repeatable).
    #[arg(long = "header", short = 'H', value_name = "HEADER", global = true)]
    pub headers: Vec<String>,

    /// An environment variable for --stdio, as NAME=VALUE (repeatable).
    #[arg(long = "env", short = 'e', value_name = "NAME=VALUE", global = true)]
    pub env: Vec<String>,

    /// Which protocol era to speak: auto (probe with server/discover, then fall back to
    /// initialize), modern or legacy.
    #[arg(long, default_value = "auto", value_parser = ["auto", "modern", "legacy"], global = true)]
    pub era: String,

    /// The protocol version to offer (e.g. 2025-06-18); implies its era.
    #[arg(long, value_name = "VERSION", global = true)]
    pub protocol_version: Option<String>,

    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 60, value_name = "SECS", global = true)]
    pub timeout: u64,

    /// Restart a --stdio server that dies, and retry the call once.
    #[arg(long, global = true)]
    pub restart: bool,

    /// A root to offer the server (a directory; repeatable). Default: the current directory.
    #[arg(long = "root", value_name = "DIR", global = true)]
    pub roots: Vec<PathBuf>,

    /// Accept elicitation requests with the requested schema's defaults (otherwise they are
    /// declined; this CLI does not prompt).
    #[arg(long, global = true)]
    pub accept_elicitation: bool,

    /// OAuth for protected HTTP servers.
    #[command(flatten)]
    pub oauth: OAuthArgs,
}

/// OAuth for protected HTTP servers (the MCP authorization flow). A --config entry with an
/// oauth: section uses it without --oauth; these flags override its settings.
#[derive(Debug, Clone, Args)]
pub struct OAuthArgs {
    /// Authorize with the server's authorization server when it answers 401: in a browser, once;
    /// the tokens are kept (mode 0600) and refreshed.
    #[arg(long, global = true)]
    pub oauth: bool,

    /// A client ID registered with the authorization server beforehand (else the client
    /// registers itself).
    #[arg(long, value_name = "ID", global = true)]
    pub oauth_client_id: Option<String>,

    /// The pre-registered client's secret.
    #[arg(long, value_name = "SECRET", env = "SWITCHBOARD_OAUTH_CLIENT_SECRET", hide_env_values = true, global = true)]
    pub oauth_client_secret: Option<String>,

    /// client_credentials: no browser; the client ID and secret are the credentials.
    #[arg(long, value_name = "GRANT", value_parser = ["authorization_code", "client_credentials"], global = true)]
    pub oauth_grant: Option<String>,

    /// A scope to ask for beyond those the server names (repeatable).
    #[arg(long = "oauth-scope", value_name = "SCOPE", global = true)]
    pub oauth_scopes: Vec<String>,

    /// Where registrations and tokens are kept. Default: $SWITCHBOARD_OAUTH_CREDENTIALS, else
    /// the config entry's credentials_file, else ~/.local/share/switchboard/oauth-credentials.json.
    #[arg(long, value_name = "FILE", global = true)]
    pub oauth_credentials: Option<PathBuf>,

    /// The loopback port the browser returns to (default 33418).
    #[arg(long, value_name = "PORT", global = true)]
    pub oauth_port: Option<u16>,

    /// Print the authorization URL instead of opening a browser.
    #[arg(long, global = true)]
    pub no_browser: bool,
}

impl OAuthArgs {
    /// Whether any OAuth flag was given.
    pub fn any(&self) -> bool {
        self.oauth
            || self.oauth_client_id.is_some()
            || self.oauth_grant.is_some()
            || !self.oauth_scopes.is_empty()
            || self.oauth_credentials.is_some()
            || self.oauth_port.is_some()
    }
}

/// What to do with the server.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Show the server's identity, protocol version, capabilities and instructions.
    Discover(Output),
    /// List or call tools.
    #[command(subcommand)]
    Tools(ToolsCommand),
    /// List or read resources.
    #[command(subcommand)]
    Resources(ResourcesCommand),
    /// List or get prompts.
    #[command(subcommand)]
    Prompts(PromptsCommand),
    /// Ask for completions of a prompt argument or a resource-template variable.
    Complete(CompleteArgs),
    /// Print the server's notifications (list changes, resource updates, logs) as they arrive.
    Listen(ListenArgs),
    /// Check that the server answers (ping).
    Ping(Output),
}

/// `--json`.
#[derive(Debug, Clone, Args)]
pub struct Output {
    /// Print the raw JSON result instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `tools …`.
#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// List every tool (all pages).
    List(Output),
    /// Call a tool. Exit status 5 when the tool reports an error (isError).
    Call(CallArgs),
}

/// `tools call`.
#[derive(Debug, Clone, Args)]
pub struct CallArgs {
    /// The tool's name.
    pub name: String,

    /// An argument as KEY=VALUE (repeatable). VALUE is converted to the type the tool's schema
    /// gives KEY (number, boolean, object…); unknown keys are parsed as JSON, else kept as text.
    #[arg(long = "arg", short = 'a', value_name = "KEY=VALUE")]
    pub args: Vec<String>,

    /// Print the raw JSON result. Given a value (e.g. --json '{"a": 1}'), that object is also
    /// the tool's arguments, merged under any --arg.
    #[arg(long, value_name = "ARGS", num_args = 0..=1, default_missing_value = "")]
    pub json: Option<String>,

    /// Print progress notifications to stderr.
    #[arg(long)]
    pub progress: bool,
}

/// `resources …`.
#[derive(Debug, Subcommand)]
pub enum ResourcesCommand {
    /// List every resource (and, with --templates, the resource templates).
    List(ResourceListArgs),
    /// Read a resource by URI.
    Read(ReadArgs),
}

/// `resources list`.
#[derive(Debug, Clone, Args)]
pub struct ResourceListArgs {
    /// List resource templates instead.
    #[arg(long)]
    pub templates: bool,
    /// Output.
    #[command(flatten)]
    pub output: Output,
}

/// `resources read`.
#[derive(Debug, Clone, Args)]
pub struct ReadArgs {
    /// The resource's URI.
    pub uri: String,
    /// Output.
    #[command(flatten)]
    pub output: Output,
}

/// `prompts …`.
#[derive(Debug, Subcommand)]
pub enum PromptsCommand {
    /// List every prompt.
    List(Output),
    /// Get a prompt with arguments.
    Get(PromptGetArgs),
}

/// `prompts get`.
#[derive(Debug, Clone, Args)]
pub struct PromptGetArgs {
    /// The prompt's name.
    pub name: String,
    /// An argument as KEY=VALUE (repeatable).
    #[arg(long = "arg", short = 'a', value_name = "KEY=VALUE")]
    pub args: Vec<String>,
    /// Output.
    #[command(flatten)]
    pub output: Output,
}

/// `complete`.
#[derive(Debug, Clone, Args)]
pub struct CompleteArgs {
    /// Complete an argument of this prompt.
    #[arg(long, value_name = "NAME", group = "reference", required_unless_present = "template")]
    pub prompt: Option<String>,
    /// Complete a variable of this resource template (its URI template).
    #[arg(long, value_name = "URI_TEMPLATE", group = "reference")]
    pub template: Option<String>,
    /// The argument or variable to complete.
    #[arg(long = "argument", value_name = "NAME")]
    pub argument: String,
    /// What has been typed so far.
    #[arg(long, default_value = "")]
    pub value: String,
    /// Output.
    #[command(flatten)]
    pub output: Output,
}

/// `listen`.
#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// Only tools/list_changed (default: all list changes).
    #[arg(long)]
    pub tools: bool,
    /// Only prompts/list_changed.
    #[arg(long)]
    pub prompts: bool,
    /// Only resources/list_changed.
    #[arg(long)]
    pub resources: bool,
    /// Also resources/updated for this URI (repeatable).
    #[arg(long = "resource", value_name = "URI")]
    pub resource_uris: Vec<String>,
    /// Stop after this many notifications.
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Output.
    #[command(flatten)]
    pub output: Output,
}
