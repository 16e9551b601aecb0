//! `switchboard bench` flags, and the parsed forms of the ones that carry structure
//! (`--scenario`, `--era`, the target).

use std::fmt;
use std::str::FromStr;

use clap::{Args as ClapArgs, ValueEnum};
use serde_json::Value;

/// `switchboard bench`: an MCP load generator.
#[derive(Debug, Clone, ClapArgs)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["url", "ws", "stdio", "scripted_llm"])))]
#[command(group(clap::ArgGroup::new("stop").args(["duration", "requests"])))]
pub struct BenchArgs {
    /// Streamable HTTP endpoint to load, e.g. http://127.0.0.1:8080/mcp.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// WebSocket endpoint to load (subprotocol `mcp`), e.g. ws://127.0.0.1:8080/ws.
    #[arg(long, value_name = "URL")]
    pub ws: Option<String>,

    /// Spawn this server command (split on whitespace) and load it over stdin/stdout, with
    /// --connections requests pipelined on the one pipe. Its RSS and CPU are reported.
    #[arg(long, value_name = "CMD")]
    pub stdio: Option<String>,

    /// Protocol era: `modern` (2026-07-28 stateless requests carrying `_meta`) or `legacy`
    /// (an `initialize` session per virtual client; per process over stdio).
    #[arg(long, value_enum, default_value_t = Era::Modern)]
    pub era: Era,

    /// Concurrent virtual clients (each keeps one request in flight). Over HTTP each has its
    /// own HTTP/1.1 connection; with --idle-sessions, this many connections open the sessions.
    #[arg(long, short = 'c', default_value_t = 1, value_name = "N")]
    pub connections: usize,

    /// Run for this many seconds (the default is 10 when --requests is not given).
    #[arg(long, short = 'd', value_name = "SECS")]
    pub duration: Option<f64>,

    /// Stop after this many requests in total, instead of after a duration.
    #[arg(long, short = 'n', value_name = "N")]
    pub requests: Option<u64>,

    /// Target rate in requests per second over all clients (open loop: latency is measured
    /// from each request's scheduled time, so a stalled server is not hidden). Unlimited if unset.
    #[arg(long, value_name = "RPS")]
    pub rate: Option<f64>,

    /// What each request does: `echo` (tools/call echo with a unique message, checked on the
    /// way back), `list` (tools/list), `call:<tool>:<json-args>` (any tool; a result
    /// without isError counts as a success), or `chat:<agent>` (a POST to an OpenAI-compatible
    /// `--url …/v1/chat/completions` asking an order's status; an answer with text counts).
    #[arg(long, default_value = "echo", value_name = "SCENARIO")]
    pub scenario: Scenario,

    /// Instead of a load run: open N legacy sessions (initialize + initialized), keep them
    /// open and idle, and report the server's memory before and after.
    #[arg(long, value_name = "N", conflicts_with_all = ["duration", "requests", "rate"])]
    pub idle_sessions: Option<u64>,

    /// The server's process id, to report its RSS and CPU (a spawned --stdio child is
    /// measured without it).
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,

    /// Per-request timeout in seconds; a request that takes longer counts as a `timeout` error.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,

    /// Print the report as one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,

    /// A label for the report (e.g. the peer's name).
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,

    /// An HTTP header sent with every request to --url, as 'Name: value' (repeatable), e.g.
    /// 'X-API-Key: …' for a server that requires a key.
    #[arg(long = "header", short = 'H', value_name = "HEADER")]
    pub headers: Vec<String>,

    /// Instead of a load run: serve a scripted OpenAI-compatible model on this address (for the
    /// chat scenario's server to use as OPENAI_BASE_URL=http://ADDR/v1). It answers a question
    /// with one `get_order_status` call, and the tool's result with a sentence, each round after
    /// --round-ms.
    #[arg(long, value_name = "ADDR")]
    pub scripted_llm: Option<String>,

    /// The scripted model's time per round, in milliseconds.
    #[arg(long, default_value_t = 300, value_name = "MS", requires = "scripted_llm")]
    pub round_ms: u64,
}

/// The protocol era the load speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Era {
    /// 2026-07-28: every request carries `_meta` (and over HTTP, the routing headers).
    Modern,
    /// 2025-11-25 sessions opened with `initialize`.
    Legacy,
}

/// What each request does.
#[derive(Debug, Clone, PartialEq)]
pub enum Scenario {
    /// `tools/call echo {message}`; the reply must carry the same text.
    Echo,
    /// `tools/list`; the reply must carry a `tools` array.
    List,
    /// `tools/call <tool> <arguments>`; the reply must be a result without `isError`.
    Call {
        /// The tool's name.
        tool: String,
        /// Its arguments (a JSON object).
        arguments: Value,
    },
    /// A chat completion from an agent; the reply must carry an answer's text.
    Chat {
        /// The agent (the request's `model`).
        agent: String,
    },
}

impl FromStr for Scenario {
    /// Why the value was refused (clap prints it under the flag).
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "echo" => return Ok(Self::Echo),
            "list" => return Ok(Self::List),
            _ => {}
        }
        if let Some(agent) = s.strip_prefix("chat:") {
            if agent.is_empty() {
                return Err("the agent name is empty (chat:<agent>)".into());
            }
            return Ok(Self::Chat { agent: agent.to_owned() });
        }
        let Some(rest) = s.strip_prefix("call:") else {
            return Err(format!("unknown scenario `{s}` (use echo, list, call:<tool>:<json-object> or chat:<agent>)"));
        };
        let (tool, args) = rest.split_once(':').unwrap_or((rest, "{}"));
        if tool.is_empty() {
            return Err("the tool name is empty (call:<tool>:<json-object>)".into());
        }
        let arguments: Value = serde_json::from_str(args).map_err(|e| format!("the arguments are not JSON: {e}"))?;
        if !arguments.is_object() {
            return Err("the arguments must be a JSON object".into());
        }
        Ok(Self::Call { tool: tool.to_owned(), arguments })
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Echo => f.write_str("echo"),
            Self::List => f.write_str("list"),
            Self::Call { tool, arguments } => write!(f, "call:{tool}:{arguments}"),
            Self::Chat { agent } => write!(f, "chat:{agent}"),
        }
    }
}

/// Where the load goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// A Streamable HTTP endpoint.
    Http(String),
    /// A WebSocket endpoint.
    Ws(String),
    /// A server command to spawn (program, arguments).
    Stdio(Vec<String>),
    /// No load: serve the scripted model on this address.
    ScriptedLlm(String),
}

impl BenchArgs {
    /// The target named by `--url`, `--ws` or `--stdio` (clap guarantees exactly one).
    pub fn target(&self) -> anyhow::Result<Target> {
        if let Some(addr) = &self.scripted_llm {
            return Ok(Target::ScriptedLlm(addr.clone()));
        }
        match (&self.url, &self.ws, &self.stdio) {
            (Some(u), None, None) => Ok(Target::Http(u.clone())),
            (None, Some(u), None) => Ok(Target::Ws(u.clone())),
            (None, None, Some(cmd)) => {
                let argv: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
                if argv.is_empty() {
                    anyhow::bail!("--stdio needs a command");
                }
                Ok(Target::Stdio(argv))
            }
            _ => anyhow::bail!("choose exactly one target: --url, --ws or --stdio"),
        }
    }
}
