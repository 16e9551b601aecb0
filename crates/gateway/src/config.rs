//! The typed config: [`Config::parse`] turns YAML text and an environment map into a checked
//! `Config`, with no I/O (the binary reads the file and passes `std::env::vars()`). Unknown keys
//! and duplicate keys are refused, and errors name the file, line and column. [`schema`]
//! publishes the JSON Schema editors autocomplete from.
//!
//! Modules: `parse` (YAML, then `${ENV}` in string values, then the typed shape), `validate`
//! (references and per-kind rules), `http` and `command` (those sections' types and checks),
//! `values` ([`Scalar`], [`Secret`]), `error` ([`ConfigError`]), `locate` (key path → line).
//!
//! **Invariant:** imports nothing of the sources or the catalog; a value that came from the
//! environment never appears in an error message.

mod agent;
mod auth;
mod command;
mod error;
mod guardrails;
mod http;
mod locate;
mod parse;
#[cfg(test)]
mod tests;
mod upstream;
mod validate;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

pub use self::agent::{AgentSection, ModelSpec, PriceSpec, RulesSection, PROVIDERS};
pub use self::auth::{key_digest, ApiKey, AuthSection, KeyList, OAuthSection, PrincipalSpec};
pub use self::command::{CommandTool, CommandsSection, DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_MAX_OUTPUT_BYTES};
pub use self::error::ConfigError;
pub(crate) use self::error::{redact, Problem};
pub use self::guardrails::{
    AuditSection, BreakerSpec, CacheSpec, GuardrailsSection, RateLimit, RetrySpec, WhenRedisDown, DEFAULT_AUDIT_QUEUE,
    DEFAULT_CACHE_MAX_BYTES, DEFAULT_TOOL_TIMEOUT_MS,
};
pub(crate) use self::http::parse_base_url;
pub use self::http::{HttpMethod, HttpTool, DEFAULT_HTTP_TIMEOUT_MS, DEFAULT_MAX_RESPONSE_BYTES};
pub use self::parse::Env;
pub use self::upstream::{
    glob_match, parse_mcp_servers, NamespaceMode, Namespacing, OAuthGrant, StartMode, ToolTransform, UpstreamEra,
    UpstreamKind, UpstreamOAuth, UpstreamSpec, DEFAULT_INIT_TIMEOUT_MS, DEFAULT_UPSTREAM_TIMEOUT_MS,
};
pub use self::values::{Scalar, Secret};

/// The whole config file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How the server presents itself and where it listens.
    #[serde(default)]
    pub server: ServerSection,
    /// Databases and HTTP APIs, by name.
    #[serde(default)]
    pub sources: BTreeMap<String, Source>,
    /// The programs command tools may run, and the directories they may run in.
    #[serde(default)]
    pub commands: CommandsSection,
    /// Tools, by name (the order of the file is kept when listing).
    #[serde(default)]
    pub tools: IndexMap<String, Tool>,
    /// Fixed resources.
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// Resource templates backed by SQL.
    #[serde(default)]
    pub resource_templates: Vec<ResourceTemplate>,
    /// Prompts, by name.
    #[serde(default)]
    pub prompts: IndexMap<String, Prompt>,
    /// API keys and the principals they name.
    #[serde(default)]
    pub auth: AuthSection,
    /// Rate and time limits on tool calls.
    #[serde(default)]
    pub guardrails: GuardrailsSection,
    /// Where every tool call is recorded.
    #[serde(default)]
    pub audit: AuditSection,
    /// The assistant the chat API serves over these tools.
    #[serde(default)]
    pub agent: Option<AgentSection>,
    /// Other MCP servers whose tools, prompts and resources this one serves, by name (the
    /// name is their namespace).
    #[serde(default)]
    pub upstreams: IndexMap<String, UpstreamSpec>,
    /// An `mcpServers` JSON file (Claude Desktop, Cursor, VS Code) whose servers are added to
    /// `upstreams:`, relative to this file.
    #[serde(default)]
    pub upstreams_from: Option<PathBuf>,
    /// How upstream names are namespaced.
    #[serde(default)]
    pub namespacing: Namespacing,
    /// Named subsets of the tools, each served at `/mcp/<name>` (patterns as in `include:`,
    /// `*` for any run of characters, matched against the served names), so a client is handed
    /// only what it needs.
    #[serde(default)]
    pub toolsets: IndexMap<String, Vec<String>>,
    /// Add the `find_tools` tool: a search by words over the names and descriptions of the tools
    /// the caller may use, answering with the best few definitions.
    #[serde(default)]
    pub find_tools: bool,
    /// The directory relative paths are resolved against (the config file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The values `${NAME}` took from the environment, kept only to redact them from messages.
    #[serde(skip)]
    pub(crate) substituted: Vec<Secret>,
}

/// The `server:` section.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// The server's name (`serverInfo.name`).
    #[serde(default)]
    pub name: Option<String>,
    /// The server's version.
    #[serde(default)]
    pub version: Option<String>,
    /// Guidance for the model.
    #[serde(default)]
    pub instructions: Option<String>,
    /// Address for HTTP and WebSocket (`--listen` overrides).
    #[serde(default)]
    pub listen: Option<String>,
    /// Serve stdio (`--stdio` overrides).
    #[serde(default)]
    pub stdio: bool,
    /// Where embedded databases live, relative to the config file (`--data-dir` overrides).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Redis shared by every replica (`redis://host:port/db`; use `${ENV}` for a password;
    /// `--redis-url` / `SWITCHBOARD_REDIS_URL` override): rate limits are then shared. Default:
    /// none, everything stays in this process.
    #[serde(default)]
    pub redis_url: Option<String>,
    /// The prefix of every Redis key (deployments sharing one Redis use different ones).
    /// Default `switchboard`.
    #[serde(default)]
    pub redis_key_prefix: Option<String>,
    /// Milliseconds one Redis operation may take before it counts as failed (the caller falls
    /// back, and Redis is not tried again for a second). Default 500.
    #[serde(default)]
    pub redis_timeout_ms: Option<u64>,
}

/// Checks a Redis URL's scheme (the message never quotes the URL: it may hold a password).
pub fn check_redis_url(url: &str) -> Result<(), String> {
    if ["redis://", "rediss://", "unix://", "redis+unix://"].iter().any(|p| url.starts_with(p)) {
        Ok(())
    } else {
        Err("the Redis URL must start with redis://, rediss:// or unix://".into())
    }
}

/// The kind of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// SQLite, a file in the data directory (created on first run).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
    /// An HTTP API (`base_url`, `headers`, `timeout_ms`, `max_response_bytes`).
    Http,
}

impl SourceKind {
    /// The name written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
            Self::Http => "http",
        }
    }
}

/// A database or an HTTP API.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Which database, or `http`.
    pub kind: SourceKind,
    /// SQLite: the file, relative to the data directory.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// PostgreSQL/MySQL: the connection URL (use `${ENV}` for secrets).
    #[serde(default)]
    pub url: Option<String>,
    /// SQL files run, in order, when the database has no tables yet (relative to the config).
    #[serde(default)]
    pub init: Vec<PathBuf>,
    /// Pool size. Default 8 (SQLite: 1 writer; see the docs).
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// HTTP: the URL tool paths are appended to, e.g. `http://127.0.0.1:8080/api` (http://
    /// only for now: this build has no TLS).
    #[serde(default)]
    pub base_url: Option<String>,
    /// HTTP: headers sent with every request, e.g. `Authorization: "Bearer ${API_TOKEN}"`.
    /// Values are secrets: never logged, and redacted from error messages.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// HTTP: milliseconds a request may take (connect, send, read). PostgreSQL/MySQL:
    /// milliseconds one statement may run before the database stops it. Default 30000.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// HTTP: the largest response body accepted, in bytes. Default 1048576 (1 MiB).
    #[serde(default)]
    pub max_response_bytes: Option<u64>,
    /// HTTP: networks (CIDR, e.g. `10.0.0.0/8`, or single addresses) this source may reach
    /// besides public addresses. Private, link-local and cloud-metadata addresses are refused
    /// otherwise, checked on the resolved address; loopback is allowed when the base URL names
    /// it (`127.0.0.1`, `[::1]`, `localhost`).
    #[serde(default)]
    pub allow_networks: Vec<String>,
}

/// A tool parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// Text.
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// True or false.
    Boolean,
    /// Command tools only: a file or directory, relative to the tool's `cwd`, that must resolve
    /// (symlinks followed) inside it. It reaches the command as that relative path.
    Path,
}

/// One parameter of a tool; it becomes a property of the tool's `inputSchema`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// What it means, for the model.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether it must be given. Default true unless a default is set.
    #[serde(default)]
    pub required: Option<bool>,
    /// The value when omitted.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// Allowed values.
    #[serde(default, rename = "enum")]
    pub allowed: Option<Vec<serde_json::Value>>,
    /// A regular expression strings must match.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Smallest number allowed.
    #[serde(default)]
    pub minimum: Option<f64>,
    /// Largest number allowed.
    #[serde(default)]
    pub maximum: Option<f64>,
    /// Longest string allowed.
    #[serde(default)]
    pub max_length: Option<u64>,
    /// For strings used with SQL `LIKE`: `contains` binds `%value%`, `prefix` binds `value%`.
    #[serde(default)]
    pub like: Option<LikeMode>,
    /// A secret (a password, a card number): written to the audit log as `"***"`.
    #[serde(default)]
    pub secret: bool,
}

/// How a string parameter is turned into a `LIKE` pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LikeMode {
    /// `%value%`.
    Contains,
    /// `value%`.
    Prefix,
}

/// What a statement's rows become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResultMode {
    /// All rows: `{"rows": [...]}`.
    #[default]
    Many,
    /// The first row (or a not-found error): `{...}`.
    One,
    /// Nothing but the number of affected rows: `{"affected": n}`.
    None,
}

/// One SQL statement of a tool.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// The SQL, with `:name` placeholders for parameters (bound, never spliced).
    pub sql: String,
    /// A guard: if the statement returns no row (or a row whose first column is false/0), the
    /// tool stops, rolls back, and reports this message (`{param}` placeholders are filled).
    #[serde(default)]
    pub guard: Option<String>,
    /// A write that must change at least one row, or the tool stops with this message.
    #[serde(default)]
    pub expect_rows: Option<String>,
}

/// A tool: SQL `statements`, a `native` Rust tool, an `http` request or a `command`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// What it does, for the model.
    pub description: String,
    /// Display title.
    #[serde(default)]
    pub title: Option<String>,
    /// The database (SQL and native tools) or HTTP API (http tools).
    #[serde(default)]
    pub source: Option<String>,
    /// Parameters, in order.
    #[serde(default)]
    pub params: IndexMap<String, Param>,
    /// Statements, run in one transaction; the last one's rows are the result.
    #[serde(default)]
    pub statements: Vec<Statement>,
    /// How the last statement's rows become the result.
    #[serde(default)]
    pub result: ResultMode,
    /// The message when `result: one` finds no row (`{param}` placeholders are filled).
    #[serde(default)]
    pub not_found: Option<String>,
    /// The most rows returned. Default 100.
    #[serde(default)]
    pub max_rows: Option<usize>,
    /// Marks the tool read-only (the `readOnlyHint` clients see). Default: true when every
    /// statement is a SELECT, or the HTTP method is GET or HEAD; false for commands.
    #[serde(default)]
    pub read_only: Option<bool>,
    /// Marks a write tool as destructive (the `destructiveHint` clients see: may change or
    /// remove what exists, so clients should ask before calling it) or only additive. Default:
    /// SQL tools are destructive when a statement updates, deletes or upserts (only plain
    /// INSERTs are additive); HTTP tools unless the method is GET or HEAD; commands always.
    #[serde(default)]
    pub destructive: Option<bool>,
    /// A built-in Rust tool to serve under this name instead of SQL (see `native`).
    #[serde(default)]
    pub native: Option<String>,
    /// An HTTP request to the tool's `source` (an http source).
    #[serde(default)]
    pub http: Option<HttpTool>,
    /// An allow-listed program to run (see `commands`).
    #[serde(default)]
    pub command: Option<CommandTool>,
    /// The roles that may see and call the tool. Default: every caller.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// Parameters taken from the caller's identity: `param: attribute`. A caller whose principal
    /// has the attribute never chooses the value (and does not see the parameter); one without
    /// it (staff) passes it as an argument.
    #[serde(default)]
    pub from_principal: BTreeMap<String, String>,
    /// Calls one principal may make to this tool (on top of `guardrails.rate_limit`).
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Milliseconds a call may take. Default: `guardrails.tool_timeout_ms`.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Serve repeated calls from a cache (read-only tools only).
    #[serde(default)]
    pub cache: Option<CacheSpec>,
    /// Tools whose caches a successful call of this one empties (e.g. a refund empties
    /// `get_order_status`).
    #[serde(default)]
    pub invalidates: Vec<String>,
}

/// What serves a tool.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ToolKind<'a> {
    /// SQL statements on a database source.
    Sql,
    /// A built-in Rust tool, by name.
    Native(&'a str),
    /// An HTTP request.
    Http(&'a HttpTool),
    /// A command.
    Command(&'a CommandTool),
}

impl Tool {
    /// Which of `statements`, `native`, `http` and `command` the tool is (exactly one).
    pub fn kind(&self) -> Result<ToolKind<'_>, String> {
        let mut kinds = Vec::new();
        if !self.statements.is_empty() {
            kinds.push(("statements", ToolKind::Sql));
        }
        if let Some(n) = &self.native {
            kinds.push(("native", ToolKind::Native(n)));
        }
        if let Some(h) = &self.http {
            kinds.push(("http", ToolKind::Http(h)));
        }
        if let Some(c) = &self.command {
            kinds.push(("command", ToolKind::Command(c)));
        }
        match kinds.as_slice() {
            [(_, kind)] => Ok(*kind),
            [] => Err("needs `statements` (with a database `source`), `native`, `http` or `command`".into()),
            more => {
                let names: Vec<&str> = more.iter().map(|(n, _)| *n).collect();
                Err(format!(
                    "give only one of `statements`, `native`, `http` and `command` (found {})",
                    names.join(", ")
                ))
            }
        }
    }
}

/// A fixed resource.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// The URI.
    pub uri: String,
    /// Its name.
    pub name: String,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
    /// The MIME type. Default text/plain (text/markdown for .md files).
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Inline text.
    #[serde(default)]
    pub text: Option<String>,
    /// A file, relative to the config.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// A SQL query whose rows (JSON) are the contents.
    #[serde(default)]
    pub sql: Option<String>,
    /// The database of `sql`.
    #[serde(default)]
    pub source: Option<String>,
    /// The roles that may see and read it. Default: every caller.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

/// A resource template backed by a SQL query whose `:name` placeholders are the template's
/// variables.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceTemplate {
    /// The RFC 6570 template, e.g. `crm://customers/{customer_id}`.
    pub uri_template: String,
    /// Its name.
    pub name: String,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
    /// The database.
    pub source: String,
    /// The query; no row means the resource does not exist.
    pub sql: String,
    /// The roles that may see and read it. Default: every caller.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

/// A prompt argument.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptArgument {
    /// What it means.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether it must be given. Default true.
    #[serde(default)]
    pub required: Option<bool>,
    /// Completion: a query returning candidate values; `:prefix` is what was typed followed by
    /// `%`, ready for `LIKE`.
    #[serde(default)]
    pub complete: Option<Query>,
}

/// A query in a prompt.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The database.
    pub source: String,
    /// The SQL, with `:name` placeholders for prompt arguments.
    pub sql: String,
    /// One row or all rows.
    #[serde(default)]
    pub result: ResultMode,
}

/// A prompt rendered from a template.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    /// What it is for.
    pub description: String,
    /// Its arguments, in order.
    #[serde(default)]
    pub arguments: IndexMap<String, PromptArgument>,
    /// Data loaded before rendering, by name: each becomes a template variable.
    #[serde(default)]
    pub context: IndexMap<String, Query>,
    /// The message text (a minijinja template; arguments and context are variables).
    pub template: String,
    /// The roles that may see and get it. Default: every caller.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

impl Config {
    /// Resolves a path given in the config (relative to the config file).
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// The JSON Schema of the config file, for editors.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default()
}
