//! The config file: YAML, `${ENV}` interpolation, unknown keys rejected, and errors that name
//! the file, line and column. [`schema`] publishes the JSON Schema editors autocomplete from.
//!
//! Sections that need more than a few lines of checks live in submodules: `http` (HTTP API
//! sources and tools), `command` (the `commands:` allow-list and command tools).

mod command;
mod http;
mod locate;
#[cfg(test)]
mod tests;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

pub use self::command::{CommandTool, CommandsSection, DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_MAX_OUTPUT_BYTES};
pub(crate) use self::http::parse_base_url;
pub use self::http::{HttpMethod, HttpTool, DEFAULT_HTTP_TIMEOUT_MS, DEFAULT_MAX_RESPONSE_BYTES};
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
    pub tools: indexmap_like::OrderedMap<Tool>,
    /// Fixed resources.
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// Resource templates backed by SQL.
    #[serde(default)]
    pub resource_templates: Vec<ResourceTemplate>,
    /// Prompts, by name.
    #[serde(default)]
    pub prompts: indexmap_like::OrderedMap<Prompt>,
    /// The directory relative paths are resolved against (the config file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
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
    /// HTTP: milliseconds a request may take (connect, send, read). Default 30000.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// HTTP: the largest response body accepted, in bytes. Default 1048576 (1 MiB).
    #[serde(default)]
    pub max_response_bytes: Option<u64>,
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
    pub params: indexmap_like::OrderedMap<Param>,
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
    /// A built-in Rust tool to serve under this name instead of SQL (see `native`).
    #[serde(default)]
    pub native: Option<String>,
    /// An HTTP request to the tool's `source` (an http source).
    #[serde(default)]
    pub http: Option<HttpTool>,
    /// An allow-listed program to run (see `commands`).
    #[serde(default)]
    pub command: Option<CommandTool>,
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
    pub arguments: indexmap_like::OrderedMap<PromptArgument>,
    /// Data loaded before rendering, by name: each becomes a template variable.
    #[serde(default)]
    pub context: indexmap_like::OrderedMap<Query>,
    /// The message text (a minijinja template; arguments and context are variables).
    pub template: String,
}

/// A map that keeps the order of the file (tools list in the order they are written).
pub mod indexmap_like {
    use schemars::JsonSchema;
    use serde::de::{MapAccess, Visitor};
    use serde::{Deserialize, Deserializer};

    /// Entries in file order.
    #[derive(Debug, Clone, PartialEq)]
    pub struct OrderedMap<V>(pub Vec<(String, V)>);

    impl<V> Default for OrderedMap<V> {
        fn default() -> Self {
            Self(Vec::new())
        }
    }

    impl<V> OrderedMap<V> {
        /// Iterates in file order.
        pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
            self.0.iter().map(|(k, v)| (k, v))
        }

        /// The entry called `key`.
        pub fn get(&self, key: &str) -> Option<&V> {
            self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
        }

        /// How many entries.
        pub fn len(&self) -> usize {
            self.0.len()
        }

        /// Whether empty.
        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }

    impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V2<V>(std::marker::PhantomData<V>);
            impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
                type Value = OrderedMap<V>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    let mut out: Vec<(String, V)> = Vec::new();
                    while let Some((k, v)) = map.next_entry::<String, V>()? {
                        if out.iter().any(|(e, _)| *e == k) {
                            return Err(serde::de::Error::custom(format!("duplicate key {k:?}")));
                        }
                        out.push((k, v));
                    }
                    Ok(OrderedMap(out))
                }
            }
            d.deserialize_map(V2(std::marker::PhantomData))
        }
    }

    impl<V: JsonSchema> JsonSchema for OrderedMap<V> {
        fn schema_name() -> std::borrow::Cow<'static, str> {
            format!("Map_of_{}", V::schema_name()).into()
        }
        fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
            let inner = generator.subschema_for::<V>();
            schemars::json_schema!({"type": "object", "additionalProperties": inner})
        }
    }
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or does not match the expected shape.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What was expected.
        message: String,
    },
    /// `${NAME}` names an unset environment variable.
    #[error("{path}:{line}: environment variable {name} is not set")]
    MissingEnv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The variable.
        name: String,
    },
    /// The config parses but does not make sense (a tool names an unknown source, ...).
    #[error("{path}{}: {message}", at(.line, .column))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key (0 when unknown).
        line: usize,
        /// 1-based column of the offending key (0 when unknown).
        column: usize,
        /// What is wrong, starting with the key path (`tools.get_order.http.path: ...`).
        message: String,
    },
}

fn at(line: &usize, column: &usize) -> String {
    if *line == 0 {
        String::new()
    } else {
        format!(":{line}:{column}")
    }
}

/// A validation failure: the key path it is about and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    at: Vec<String>,
    message: String,
}

impl Problem {
    /// A problem at the key path `at` (`["tools", name, "http", "path"]`).
    pub(crate) fn new(at: &[&str], message: String) -> Self {
        Self { at: at.iter().map(|s| (*s).to_owned()).collect(), message }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at.join("."), self.message)
    }
}

impl Config {
    /// Reads, interpolates and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Parses config text; `path` is for messages and relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let interpolated = interpolate(text, path)?;
        let mut config: Config = serde_norway::from_str(&interpolated).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            ConfigError::Syntax { path: path.to_owned(), line, column, message: e.to_string() }
        })?;
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config.validate().map_err(|problem| {
            // Keys are looked up in the text as written, whose lines are the ones people see.
            let (line, column) = locate::locate(text, &problem.at).unwrap_or((0, 0));
            ConfigError::Invalid { path: path.to_owned(), line, column, message: problem.to_string() }
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), Problem> {
        for (name, source) in &self.sources {
            self.check_source(name, source)?;
        }
        command::check_section(self)?;
        for (name, tool) in self.tools.iter() {
            self.check_tool(name, tool)?;
        }
        for t in &self.resource_templates {
            self.database(&t.source)
                .map_err(|m| Problem::new(&["resource_templates"], format!("{}: {m}", t.uri_template)))?;
        }
        for (name, prompt) in self.prompts.iter() {
            for (q, query) in prompt.context.iter() {
                self.database(&query.source).map_err(|m| Problem::new(&["prompts", name, "context", q], m))?;
            }
        }
        Ok(())
    }

    /// Checks that `name` is a database source (not unknown, not an HTTP API).
    fn database(&self, name: &str) -> Result<(), String> {
        match self.sources.get(name) {
            None => Err(format!("unknown source {name:?}")),
            Some(s) if s.kind == SourceKind::Http => Err(format!("{name:?} is an http source, not a database")),
            Some(_) => Ok(()),
        }
    }

    fn check_source(&self, name: &str, source: &Source) -> Result<(), Problem> {
        let here = &["sources", name][..];
        if source.kind == SourceKind::Http {
            return http::check_source(name, source);
        }
        if source.base_url.is_some()
            || !source.headers.is_empty()
            || source.timeout_ms.is_some()
            || source.max_response_bytes.is_some()
        {
            let message = "`base_url`, `headers`, `timeout_ms` and `max_response_bytes` are for http sources";
            return Err(Problem::new(here, message.into()));
        }
        match source.kind {
            SourceKind::Sqlite if source.path.is_none() => {
                Err(Problem::new(here, "a sqlite source needs `path`".into()))
            }
            SourceKind::Postgres | SourceKind::Mysql if source.url.as_deref().unwrap_or("").is_empty() => {
                Err(Problem::new(here, format!("a {} source needs `url`", source.kind.as_str())))
            }
            _ => Ok(()),
        }
    }

    fn check_tool(&self, name: &str, tool: &Tool) -> Result<(), Problem> {
        let kind = tool.kind().map_err(|m| Problem::new(&["tools", name], m))?;
        if !matches!(kind, ToolKind::Command(_)) {
            if let Some((param, _)) = tool.params.iter().find(|(_, p)| p.kind == ParamType::Path) {
                return Err(Problem::new(
                    &["tools", name, "params", param],
                    "type path is only for command tools".into(),
                ));
            }
        }
        if !matches!(kind, ToolKind::Sql) && (tool.max_rows.is_some() || tool.not_found.is_some()) {
            return Err(Problem::new(&["tools", name], "`max_rows` and `not_found` are for SQL tools".into()));
        }
        match kind {
            ToolKind::Sql => {
                let Some(source) = &tool.source else {
                    return Err(Problem::new(&["tools", name], "SQL statements need `source`, a database".into()));
                };
                self.database(source).map_err(|m| Problem::new(&["tools", name, "source"], m))?;
                for st in &tool.statements {
                    for p in crate::syntax::placeholders::placeholders(&st.sql) {
                        if tool.params.get(&p).is_none() {
                            return Err(Problem::new(
                                &["tools", name, "statements"],
                                format!("the SQL uses :{p}, which is not a declared param"),
                            ));
                        }
                    }
                }
                Ok(())
            }
            ToolKind::Native(_) => match &tool.source {
                Some(s) => self.database(s).map_err(|m| Problem::new(&["tools", name, "source"], m)),
                None => Ok(()),
            },
            ToolKind::Http(h) => http::check_tool(name, tool, h, &self.sources),
            ToolKind::Command(c) => command::check_tool(self, name, tool, c),
        }
    }

    /// Resolves a path given in the config (relative to the config file).
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// Replaces `${NAME}` (or `${NAME:-default}`) with the environment variable's value (`$${`
/// escapes a literal `${`).
fn interpolate(text: &str, path: &Path) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            if rest[..start].ends_with('$') {
                out.push_str(&rest[..start - 1]);
                out.push_str("${");
                rest = &rest[start + 2..];
                continue;
            }
            out.push_str(&rest[..start]);
            let Some(end) = rest[start..].find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let expr = &rest[start + 2..start + end];
            // `${NAME:-default}` falls back to `default` when NAME is unset or empty.
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            let value = match (std::env::var(name).ok().filter(|v| !v.is_empty()), default) {
                (Some(v), _) => v,
                (None, Some(d)) => d.to_owned(),
                (None, None) => {
                    return Err(ConfigError::MissingEnv { path: path.to_owned(), line: i + 1, name: name.to_owned() })
                }
            };
            out.push_str(&value);
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

/// The JSON Schema of the config file, for editors.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default()
}
