//! The `upstreams:` section (other MCP servers served through this one), `namespacing:`,
//! `toolsets:`, and the standard `mcpServers` JSON file that Claude Desktop,
//! Cursor, VS Code and the Inspector use (`upstreams_from:` or `serve --mcp-servers`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::{Config, ConfigError, Problem, Secret};

/// Milliseconds an upstream has to start and answer its handshake and lists. Default.
pub const DEFAULT_INIT_TIMEOUT_MS: u64 = 30_000;
/// Milliseconds one request to an upstream may take. Default.
pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 60_000;

/// How an upstream is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    /// A child process speaking over stdin/stdout (`command`).
    Stdio,
    /// Streamable HTTP (`url`), either era.
    #[serde(alias = "streamable-http", alias = "streamableHttp")]
    Http,
    /// The 2024-11-05 HTTP+SSE transport (`url` of the SSE endpoint).
    Sse,
    /// WebSocket (`url`, `ws://` or `wss://`).
    #[serde(alias = "websocket")]
    Ws,
}

/// Which protocol era to speak to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamEra {
    /// Detect it (`server/discover` first, then `initialize`).
    #[default]
    Auto,
    /// Modern (2026-07-28): stateless requests.
    Modern,
    /// Legacy (`initialize` and a session): for servers whose features (server-initiated
    /// requests, subscriptions) work only there.
    Legacy,
}

/// When a stdio upstream's process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StartMode {
    /// Started at boot and kept running (restarted after a crash).
    #[default]
    Eager,
    /// Started at boot only to learn its tools, then stopped; started again by the first call
    /// (and stopped after `idle_timeout_ms` without calls, if set).
    Lazy,
}

/// One upstream MCP server. The `mcpServers` keys (`command`, `args`, `env`, `cwd`, `url`, `type`,
/// `headers`) mean what they mean there; the rest are the gateway's.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    /// The program of a stdio server (no shell is involved).
    #[serde(default)]
    pub command: Option<String>,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables for it (the rest of ours is inherited). Values are secrets.
    #[serde(default)]
    pub env: BTreeMap<String, Secret>,
    /// Its working directory, relative to the config file.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// The endpoint of a remote server.
    #[serde(default)]
    pub url: Option<String>,
    /// `stdio`, `http`, `sse` or `ws`. Default: `stdio` with `command`, `ws` for `ws://` URLs,
    /// else `http`.
    #[serde(default, rename = "type", alias = "transport")]
    pub kind: Option<UpstreamKind>,
    /// Headers sent with every request to a remote server (e.g. its own `Authorization`).
    /// Values are secrets. The downstream caller's credentials are never forwarded.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// `auto` (default), `modern` or `legacy`.
    #[serde(default)]
    pub era: UpstreamEra,
    /// The namespace its tools, prompts and resources are served under. Default: its name.
    #[serde(default)]
    pub prefix: Option<String>,
    /// `eager` (default) or `lazy` (stdio only).
    #[serde(default)]
    pub start: StartMode,
    /// Stop a stdio server after this many milliseconds without a call; the next call starts it.
    #[serde(default)]
    pub idle_timeout_ms: Option<u64>,
    /// Milliseconds to start, shake hands and list everything. Default 30000.
    #[serde(default)]
    pub init_timeout_ms: Option<u64>,
    /// Milliseconds one request may take. Default 60000.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The most requests (tool calls, prompt gets, resource reads) sent to it at once; more
    /// wait their turn, within their time limit.
    /// Default: no limit. `1` suits a stdio server that asks its client questions (elicitation,
    /// sampling) during calls: stdio cannot say which call a question belongs to, so the
    /// gateway can route one only while a single call is in flight.
    #[serde(default)]
    pub max_concurrent_calls: Option<u32>,
    /// Only these tools (names as the upstream lists them; `*` matches any run of characters).
    #[serde(default)]
    pub include: Option<Vec<String>>,
    /// Never these tools (same patterns).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Changes to single tools, by their upstream name.
    #[serde(default)]
    pub tools: BTreeMap<String, ToolTransform>,
    /// Who may see and call its tools (roles from the API keys or tokens). Default: everyone
    /// who may call this server.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// Authorize with the server's OAuth authorization server (the MCP authorization flow)
    /// instead of, or beside, fixed `headers`. Streamable HTTP upstreams only.
    #[serde(default)]
    pub oauth: Option<UpstreamOAuth>,
}

/// How the gateway (and `switchboard client --config`) gets tokens for a protected upstream.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamOAuth {
    /// `authorization_code` (default: a person authorizes once, with `switchboard client
    /// --config FILE --server NAME --oauth-credentials FILE ping`; the gateway then uses and
    /// refreshes the stored tokens) or `client_credentials` (the gateway acts for itself).
    #[serde(default)]
    pub grant: OAuthGrant,
    /// A client registered beforehand; without it the client registers itself (dynamic
    /// client registration) or uses `client_metadata_url`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The pre-registered client's secret.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// A private key (PEM) to authenticate with instead of a secret (`private_key_jwt`).
    #[serde(default)]
    pub private_key: Option<Secret>,
    /// Its JWS algorithm. Default `ES256`.
    #[serde(default)]
    pub signing_algorithm: Option<String>,
    /// This client's metadata document URL (a client ID metadata document), used as its
    /// `client_id` where the authorization server supports them.
    #[serde(default)]
    pub client_metadata_url: Option<String>,
    /// Scopes asked for beyond those the server names.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Where registrations and tokens are kept (mode 0600), relative to the config file.
    /// Default: `oauth-credentials.json` in the data directory (`$SWITCHBOARD_OAUTH_CREDENTIALS`
    /// overrides both).
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    /// The loopback port the browser is sent back to (part of the registered redirect URI).
    /// Default 33418.
    #[serde(default)]
    pub callback_port: Option<u16>,
}

/// How tokens for an upstream are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthGrant {
    /// A person authorizes in a browser.
    #[default]
    AuthorizationCode,
    /// The client's own credentials (`client_id` with `client_secret` or `private_key`).
    ClientCredentials,
}

/// How one upstream tool is presented.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolTransform {
    /// Served under this name instead (no namespace is added).
    #[serde(default)]
    pub name: Option<String>,
    /// A description replacing the upstream's.
    #[serde(default)]
    pub description: Option<String>,
    /// Arguments with fixed values: hidden from the tool's `inputSchema` and always sent as
    /// given (a caller cannot override them).
    #[serde(default)]
    pub fixed: BTreeMap<String, Value>,
    /// Default values for arguments the caller leaves out (shown as the schema's `default`).
    #[serde(default)]
    pub defaults: BTreeMap<String, Value>,
}

/// How upstream names are combined with their namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceMode {
    /// `<prefix><separator><name>` (default).
    #[default]
    Prefix,
    /// Names as the upstreams give them; two upstreams offering one name is an error.
    Never,
}

/// The `namespacing:` section.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Namespacing {
    /// `prefix` (default) or `never`.
    #[serde(default)]
    pub mode: NamespaceMode,
    /// Between the namespace and the name. Default `_`.
    #[serde(default = "default_separator")]
    pub separator: String,
}

impl Default for Namespacing {
    fn default() -> Self {
        Self { mode: NamespaceMode::Prefix, separator: default_separator() }
    }
}

fn default_separator() -> String {
    "_".into()
}

/// The `mcpServers` file format.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServersFile {
    // `servers` is VS Code's spelling of the same map.
    #[serde(alias = "servers")]
    mcp_servers: IndexMap<String, ServerEntry>,
}

/// One `mcpServers` entry: the standard keys, and the gateway's own under the same names as in
/// YAML (editors ignore keys they do not know).
#[derive(Debug, Deserialize)]
struct ServerEntry {
    #[serde(flatten)]
    spec: UpstreamSpec,
}

/// Reads an `mcpServers` JSON file's text (`path` names it in messages).
pub fn parse_mcp_servers(text: &str, path: &Path) -> Result<IndexMap<String, UpstreamSpec>, ConfigError> {
    let file: ServersFile = serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: format!("not an mcpServers file: {e}"),
    })?;
    let servers: IndexMap<String, UpstreamSpec> = file.mcp_servers.into_iter().map(|(k, v)| (k, v.spec)).collect();
    for (name, spec) in &servers {
        check_upstream(name, spec).map_err(|p| ConfigError::Invalid {
            path: path.to_owned(),
            line: 0,
            column: 0,
            message: format!("mcpServers.{p}"),
        })?;
    }
    Ok(servers)
}

impl Config {
    /// A config that serves the servers of an `mcpServers` file and nothing else
    /// (`switchboard serve --mcp-servers FILE`).
    pub fn from_mcp_servers(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut config = Self::parse("", path, &Default::default())?;
        config.upstreams = parse_mcp_servers(text, path)?;
        Ok(config)
    }

    /// Adds the servers of the `mcpServers` file named by `upstreams_from:` (read by the
    /// caller) to `upstreams:`; a name in both is an error.
    pub fn add_upstreams_from(&mut self, text: &str, file: &Path) -> Result<(), ConfigError> {
        for (name, spec) in parse_mcp_servers(text, file)? {
            if self.upstreams.contains_key(&name) {
                return Err(ConfigError::Invalid {
                    path: file.to_owned(),
                    line: 0,
                    column: 0,
                    message: format!("mcpServers.{name}: also defined in the config's upstreams:; rename one"),
                });
            }
            self.upstreams.insert(name, spec);
        }
        Ok(())
    }

    pub(super) fn check_upstreams(&self) -> Result<(), Problem> {
        for (name, spec) in &self.upstreams {
            check_upstream(name, spec).map_err(|p| p.under(&["upstreams"]))?;
        }
        let separator = &self.namespacing.separator;
        if separator.is_empty() || !separator.chars().all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c)) {
            return Err(Problem::new(
                &["namespacing", "separator"],
                "must be one or more of A-Z a-z 0-9 _ - . / (characters allowed in tool names)".into(),
            ));
        }
        for (set, patterns) in &self.toolsets {
            if set.is_empty() || !set.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(Problem::new(
                    &["toolsets", set],
                    "toolset names are A-Z a-z 0-9 - _ (served at /mcp/<name>)".into(),
                ));
            }
            if patterns.is_empty() {
                return Err(Problem::new(&["toolsets", set], "lists no tools".into()));
            }
        }
        Ok(())
    }
}

fn check_upstream(name: &str, spec: &UpstreamSpec) -> Result<(), Problem> {
    let problem = |key: &str, message: String| {
        if key.is_empty() {
            Problem::new(&[name], message)
        } else {
            Problem::new(&[name, key], message)
        }
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(problem("", "upstream names are A-Z a-z 0-9 - _ (they become namespaces)".into()));
    }
    match (&spec.command, &spec.url, spec.kind) {
        (Some(_), None, None | Some(UpstreamKind::Stdio)) => {
            if !spec.headers.is_empty() {
                return Err(problem("headers", "headers are for remote (url) upstreams".into()));
            }
        }
        (None, Some(_), Some(UpstreamKind::Stdio)) => {
            return Err(problem("type", "a url cannot be a stdio upstream".into()))
        }
        (None, Some(url), kind) => {
            let ws = url.starts_with("ws://") || url.starts_with("wss://");
            let http = url.starts_with("http://") || url.starts_with("https://");
            let fits = match kind {
                Some(UpstreamKind::Ws) => ws,
                Some(_) => http,
                None => ws || http,
            };
            if !fits {
                return Err(problem("url", "must be an http(s):// URL (ws(s):// for type: ws)".into()));
            }
            if !spec.args.is_empty() || !spec.env.is_empty() || spec.cwd.is_some() {
                return Err(problem("url", "args, env and cwd are for stdio (command) upstreams".into()));
            }
            if spec.start == StartMode::Lazy || spec.idle_timeout_ms.is_some() {
                return Err(problem(
                    "start",
                    "lazy start and idle_timeout_ms are for stdio (command) upstreams".into(),
                ));
            }
        }
        (Some(_), Some(_), _) => return Err(problem("", "give either command (stdio) or url, not both".into())),
        (None, None, _) => return Err(problem("", "needs command (a stdio server) or url (a remote server)".into())),
        (Some(_), None, Some(_)) => return Err(problem("type", "a command is a stdio upstream".into())),
    }
    for (key, value) in [
        ("init_timeout_ms", spec.init_timeout_ms),
        ("timeout_ms", spec.timeout_ms),
        ("idle_timeout_ms", spec.idle_timeout_ms),
        ("max_concurrent_calls", spec.max_concurrent_calls.map(u64::from)),
    ] {
        if value == Some(0) {
            return Err(problem(key, "must be at least 1".into()));
        }
    }
    if let Some(prefix) = &spec.prefix {
        if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c)) {
            return Err(problem("prefix", "must be one or more of A-Z a-z 0-9 _ - . /".into()));
        }
    }
    if let Some(oauth) = &spec.oauth {
        let http = spec.url.as_ref().is_some_and(|u| u.starts_with("http"));
        if !http || matches!(spec.kind, Some(UpstreamKind::Ws | UpstreamKind::Sse)) {
            return Err(problem("oauth", "OAuth is for Streamable HTTP (http:// or https://) upstreams".into()));
        }
        if oauth.grant == OAuthGrant::ClientCredentials
            && (oauth.client_id.is_none() || (oauth.client_secret.is_none() && oauth.private_key.is_none()))
        {
            return Err(problem(
                "oauth",
                "grant: client_credentials needs client_id and client_secret (or private_key)".into(),
            ));
        }
        if oauth.client_secret.is_some() && oauth.private_key.is_some() {
            return Err(problem("oauth", "give client_secret or private_key, not both".into()));
        }
        if oauth.callback_port == Some(0) {
            return Err(problem("oauth", "callback_port must be a fixed port (it is registered)".into()));
        }
    }
    for (tool, t) in &spec.tools {
        if let Some(clash) = t.fixed.keys().find(|k| t.defaults.contains_key(*k)) {
            return Err(problem("tools", format!("{tool}: {clash:?} is both fixed and defaulted; pick one")));
        }
    }
    Ok(())
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("echo", "echo"));
        assert!(!glob_match("echo", "echoes"));
        assert!(glob_match("get_*", "get_order"));
        assert!(glob_match("*_order", "get_order"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(!glob_match("ab*ba", "aba"));
    }

    #[test]
    fn mcp_servers_files_become_upstreams() {
        let text = r#"{"mcpServers": {
            "everything": {"command": "npx", "args": ["-y", "server-everything"], "env": {"A": "1"}},
            "remote": {"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer x"}, "prefix": "r"},
            "ws": {"type": "ws", "url": "ws://127.0.0.1:9/ws"}
        }}"#;
        let servers = parse_mcp_servers(text, Path::new("s.json")).expect("parses");
        assert_eq!(servers.keys().collect::<Vec<_>>(), ["everything", "remote", "ws"]);
        assert_eq!(servers["everything"].args, ["-y", "server-everything"]);
        assert_eq!(servers["remote"].prefix.as_deref(), Some("r"));
        assert_eq!(servers["ws"].kind, Some(UpstreamKind::Ws));
        let err =
            parse_mcp_servers(r#"{"mcpServers": {"x": {"args": []}}}"#, Path::new("s.json")).expect_err("refused");
        assert!(err.to_string().contains("mcpServers.x: needs command"), "{err}");
        let err = parse_mcp_servers(r#"{"mcpServers": {"x": {"url": "ftp://h"}}}"#, Path::new("s.json"))
            .expect_err("refused");
        assert!(err.to_string().contains("x.url: must be an http"), "{err}");
        let err = parse_mcp_servers(r#"{"mcpServers": {"a b": {"command": "x"}}}"#, Path::new("s.json"))
            .expect_err("refused");
        assert!(err.to_string().contains("upstream names"), "{err}");
    }
}
