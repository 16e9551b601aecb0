//! Command-line definitions. Each flag's doc comment is its help text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args as ClapArgs, Parser, Subcommand};
use switchboard_mcp::Limits;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (the peer closed the connection or a signal stopped the server)
  1  runtime error (I/O failure, invalid definitions)
  2  usage error (bad flags)";

/// Switchboard: a production-grade Model Context Protocol (MCP) server, gateway and client.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, after_help = EXIT_CODES)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// Log filter for stderr, e.g. `info` or `switchboard=debug,warn`. Env: SWITCHBOARD_LOG overrides.
    #[arg(long, global = true, default_value = "info", value_name = "FILTER")]
    pub log_level: String,

    /// Write logs as JSON lines instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with config files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Serve MCP over stdio, and/or over HTTP (Streamable HTTP at /mcp in both eras, HTTP+SSE at
    /// /sse, WebSocket at /ws).
    Serve(ServeArgs),

    /// Load an MCP server (Streamable HTTP, WebSocket or stdio; modern or legacy era) and report
    /// throughput, latency percentiles, failures by kind and the server's RSS/CPU.
    Bench(crate::bench::BenchArgs),

    /// Make API keys for the `auth:` section of a config.
    #[command(subcommand)]
    Keys(KeysCommand),

    /// Create or bring up to date the databases a config uses (its SQL sources' init scripts, the
    /// audit log, the agent's conversations), print what each database records, and exit. `serve`
    /// does the same at start; replicas starting together on an empty database migrate once.
    Migrate(ConfigAt),

    /// Read the audit log of a config's server (`tool_calls`: one row per tool call).
    #[command(subcommand)]
    Audit(AuditCommand),

    /// Connect to any MCP server (stdio, Streamable HTTP, WebSocket; modern or legacy era) and
    /// discover it, list and call tools, read resources, get prompts, complete, or listen.
    Client(crate::client::ClientArgs),

    /// Chat with a config's agent in the terminal (line editing, history), its answers streamed
    /// and its tool calls shown; `--once` asks one question and prints the answer (for scripts).
    Chat(ChatArgs),
}

/// `switchboard chat`.
#[derive(Debug, ClapArgs)]
pub struct ChatArgs {
    /// The config whose `agent:` to talk to (e.g. examples/shop/shop.yaml).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Where embedded (SQLite) databases live; overrides the config's server.data_dir.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Ask this one question, print the answer, and exit.
    #[arg(long, value_name = "QUESTION")]
    pub once: Option<String>,
}

/// `switchboard serve`.
#[derive(Debug, ClapArgs)]
pub struct ServeArgs {
    /// Serve over stdin/stdout (newline-delimited JSON-RPC). Logs go to stderr.
    #[arg(long)]
    pub stdio: bool,

    /// Serve HTTP and WebSocket on ADDR (e.g. 127.0.0.1:8080; port 0 picks a free one). The
    /// bound address is logged as `listening on http://…`.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// HTTP serving options.
    #[command(flatten)]
    pub http: HttpArgs,

    /// Serve the tools, resources and prompts of this YAML config (e.g. examples/shop/shop.yaml).
    #[arg(long, value_name = "FILE", conflicts_with = "demo")]
    pub config: Option<PathBuf>,

    /// Serve the MCP servers of this `mcpServers` JSON file (the format of Claude Desktop,
    /// Cursor and VS Code) aggregated, each under its name, with no YAML config at all
    /// (e.g. examples/gateway/servers.json). Edits to the file are applied while serving.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["demo", "config"])]
    pub mcp_servers: Option<PathBuf>,

    /// Where embedded (SQLite) databases live; overrides the config's server.data_dir.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Redis shared by every replica (rate limits); overrides the config's server.redis_url.
    #[arg(long, value_name = "URL", env = "SWITCHBOARD_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Serve the built-in demonstration toolset (echo, add, content samples, progress, logging,
    /// sampling, elicitation, resources, prompts): everything the runtime can do, for trying
    /// clients against.
    #[arg(long)]
    pub demo: bool,

    /// With --demo: serve only its `echo` and `add` tools (no other tools, resources or prompts),
    /// the two tools every server in bench/compare.sh serves, so listings compare like with like.
    #[arg(long, requires = "demo")]
    pub demo_basic: bool,

    /// Record every message received and sent to FILE as JSON Lines (for debugging). With both
    /// --stdio and --listen, only stdio is recorded.
    #[arg(long, value_name = "FILE")]
    pub wire_log: Option<PathBuf>,

    /// Connection limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Limits that apply to each connection.
#[derive(Debug, Clone, ClapArgs)]
pub struct LimitArgs {
    /// Largest message accepted, in bytes; larger ones get -32600 and are discarded.
    #[arg(long, default_value_t = 4 * 1024 * 1024, value_name = "BYTES")]
    pub max_message_bytes: usize,

    /// Deepest JSON nesting accepted (at most 128).
    #[arg(long, default_value_t = 64, value_name = "LEVELS")]
    pub max_json_depth: usize,

    /// Seconds a request may run without reporting progress before it times out.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub request_timeout: u64,

    /// Hard ceiling on a request's run time in seconds, progress or not.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub max_request_timeout: u64,

    /// Requests one connection may run at once; further requests wait.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_concurrent_requests: usize,

    /// Seconds a server-to-client request (elicitation, sampling, roots) waits for its answer.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub peer_request_timeout: u64,
}

impl LimitArgs {
    /// The limits these flags describe.
    pub fn to_limits(&self) -> Limits {
        Limits::default()
            .with_max_message_bytes(self.max_message_bytes)
            .with_max_json_depth(self.max_json_depth)
            .with_request_timeout(Duration::from_secs(self.request_timeout))
            .with_max_request_timeout(Duration::from_secs(self.max_request_timeout))
            .with_max_concurrent_requests(self.max_concurrent_requests)
            .with_peer_request_timeout(Duration::from_secs(self.peer_request_timeout))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Args::command().debug_assert();
    }
}

/// Options of the HTTP listener.
#[derive(Debug, Clone, ClapArgs)]
pub struct HttpArgs {
    /// Accept this Host name (repeatable). Loopback binds accept only loopback names otherwise.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,

    /// Accept cross-origin requests from this origin, e.g. https://app.example.com (repeatable).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,

    /// End legacy sessions idle for this many seconds.
    #[arg(long, default_value_t = 1800, value_name = "SECS")]
    pub session_idle_timeout: u64,

    /// Most legacy sessions held at once; a new one beyond gets 503 with Retry-After.
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub max_sessions: usize,

    /// Keep at most this many MiB of one legacy session's SSE events for resumption (streams
    /// delivered in full are dropped first, oldest first).
    #[arg(long, default_value_t = 4, value_name = "MIB")]
    pub event_log_per_session_mib: usize,

    /// Keep at most this many MiB of SSE events for resumption across all legacy sessions.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub event_log_total_mib: usize,

    /// Close connections that take longer than this to send request headers (slowloris).
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub header_read_timeout: u64,

    /// Send SSE keep-alive comments and WebSocket pings this often; a WebSocket peer silent for
    /// two intervals is disconnected.
    #[arg(long, default_value_t = 15, value_name = "SECS")]
    pub keep_alive: u64,

    /// Answer 408 when a request's body takes longer than this to arrive.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub body_read_timeout: u64,

    /// Most connections open at once.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_connections: usize,

    /// On shutdown, wait this long for in-flight requests before dropping them.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub shutdown_grace: u64,
    /// Serve a non-loopback address without API keys (every caller anonymous). Without this
    /// flag such a server refuses to start.
    #[arg(long)]
    pub allow_anonymous: bool,

    /// On SIGTERM, fail /readyz for this long before stopping, so a load balancer drains the
    /// server first.
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub drain_delay: u64,
}

/// `switchboard audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The most recent calls, newest first, one JSON object per line.
    Tail {
        /// The config whose audit log to read.
        #[command(flatten)]
        at: ConfigAt,
        /// How many rows.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: i64,
    },
    /// Calls matching filters, newest first, one JSON object per line.
    Query {
        /// The config whose audit log to read.
        #[command(flatten)]
        at: ConfigAt,
        /// Only calls of this tool.
        #[arg(long)]
        tool: Option<String>,
        /// Only calls by this principal id.
        #[arg(long)]
        principal: Option<String>,
        /// Only calls carried by the HTTP request with this X-Request-Id.
        #[arg(long)]
        request_id: Option<String>,
        /// Only calls at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// At most this many rows.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

/// A config file and the data directory its server uses.
#[derive(Debug, Clone, ClapArgs)]
pub struct ConfigAt {
    /// The server's config file.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The data directory the server uses (overrides the config's server.data_dir).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `switchboard keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a fresh random API key and the config line that accepts it by its SHA-256 digest.
    New {
        /// The id of the principal the key names.
        #[arg(long, default_value = "my-key")]
        id: String,
    },
}

/// `switchboard config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file without serving it (exit 1 with file:line:column on error).
    Check {
        /// The YAML file.
        file: PathBuf,
        /// Also start and list its upstream MCP servers (runs their commands, connects to their
        /// URLs) and check that the names they offer clash with nothing: exit 1 naming both
        /// sides of a clash. An upstream that cannot be reached is reported, not an error.
        #[arg(long)]
        upstreams: bool,
    },
    /// Print the JSON Schema of config files (for editor autocompletion).
    Schema,
}
