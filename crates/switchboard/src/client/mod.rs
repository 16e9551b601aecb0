//! `switchboard client`: what people use the Inspector CLI for, in one binary. Connects to any
//! MCP server (stdio, Streamable HTTP, WebSocket; either era), runs one command, prints a table
//! (or `--json`), and exits with a status that tells usage errors, unreachable servers,
//! protocol errors and tool errors apart.

pub mod args;
mod output;
mod target;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{json, Map, Value};
use switchboard_mcp::client::{
    full_capabilities, Client, ClientError, ClientHandler, ClientOptions, EraChoice, RequestOptions,
};
use switchboard_mcp::protocol::client::{ElicitAction, ElicitParams, ElicitResult, ListRootsResult, Root};
use switchboard_mcp::protocol::lifecycle::ClientCapabilities;
use switchboard_mcp::protocol::subscriptions::SubscriptionFilter;
use switchboard_mcp::protocol::{ErrorObject, ProtocolVersion};

use args::{ClientCommand, PromptsCommand, ResourcesCommand, TargetArgs, ToolsCommand};

/// The exit statuses, documented in `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  2  usage error (bad flags, unknown server in --config, malformed arguments)
  3  the server could not be reached, started, or was lost
  4  protocol error (the server returned a JSON-RPC error or broke the protocol)
  5  the tool ran and reported an error (isError: true)";

/// `switchboard client`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct ClientArgs {
    /// The server.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The command.
    #[command(subcommand)]
    pub command: ClientCommand,
}

/// Why the command failed; each kind has its own exit status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad flags or arguments.
    #[error("{0}")]
    Usage(String),
    /// The server failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The tool reported an error (already printed).
    #[error("the tool reported an error")]
    ToolError,
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Client(e) if e.is_connection_failure() => 3,
            CliError::Client(ClientError::Refused(_)) => 2,
            CliError::Client(_) | CliError::Io(_) => 4,
            CliError::ToolError => 5,
        }
    }
}

/// Runs one client command.
pub async fn run(args: ClientArgs) -> Result<(), CliError> {
    let target = target::resolve(&args.target)?;
    let options = options(&args.target)?;
    let handler = CliHandler { roots: roots(&args.target.roots)?, accept_elicitation: args.target.accept_elicitation };
    let client = Client::connect(target, handler, options).await?;
    let result = command(&client, args.command).await;
    client.close().await;
    result
}

fn options(t: &TargetArgs) -> Result<ClientOptions, CliError> {
    let version = t
        .protocol_version
        .as_deref()
        .map(|v| {
            v.parse::<ProtocolVersion>()
                .map_err(|_| CliError::Usage(format!("--protocol-version {v:?} is not a known version")))
        })
        .transpose()?;
    let era = match (t.era.as_str(), version) {
        ("auto", None) => EraChoice::Auto,
        ("modern", None) => EraChoice::Modern(ProtocolVersion::LATEST),
        ("legacy", None) => EraChoice::Legacy(ProtocolVersion::LATEST_LEGACY),
        ("legacy", Some(v)) | ("auto", Some(v)) if !v.is_modern() => EraChoice::Legacy(v),
        ("modern", Some(v)) | ("auto", Some(v)) if v.is_modern() => EraChoice::Modern(v),
        (era, Some(v)) => return Err(CliError::Usage(format!("--era {era} does not fit --protocol-version {v}"))),
        (era, None) => return Err(CliError::Usage(format!("unknown era {era:?}"))),
    };
    Ok(ClientOptions { era, request_timeout: Duration::from_secs(t.timeout.max(1)), ..ClientOptions::default() })
}

fn roots(dirs: &[PathBuf]) -> Result<Vec<Root>, CliError> {
    let dirs = if dirs.is_empty() { vec![std::env::current_dir()?] } else { dirs.to_vec() };
    dirs.iter()
        .map(|d| {
            let abs = std::fs::canonicalize(d).map_err(|e| CliError::Usage(format!("--root {}: {e}", d.display())))?;
            Ok(Root {
                uri: format!("file://{}", abs.display()),
                name: abs.file_name().map(|n| n.to_string_lossy().into_owned()),
                meta: None,
            })
        })
        .collect()
}

async fn command(client: &Client, command: ClientCommand) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match command {
        ClientCommand::Discover(o) => {
            let info = client.discover().await?;
            if o.json {
                output::json(&mut out, &info)?;
            } else {
                output::discover(&mut out, client)?;
            }
        }
        ClientCommand::Ping(o) => {
            let started = std::time::Instant::now();
            client.ping().await?;
            if o.json {
                output::json(&mut out, &json!({"ok": true, "ms": started.elapsed().as_secs_f64() * 1000.0}))?;
            } else {
                writeln!(
                    out,
                    "pong from {} in {:.1} ms",
                    client.server_name(),
                    started.elapsed().as_secs_f64() * 1000.0
                )?;
            }
        }
        ClientCommand::Tools(ToolsCommand::List(o)) => {
            let tools = client.list_all_tools().await?;
            if o.json {
                output::json(&mut out, &json!({ "tools": tools }))?;
            } else {
                output::tools(&mut out, &tools)?;
            }
        }
        ClientCommand::Tools(ToolsCommand::Call(call)) => {
            let tools = client.list_all_tools().await.unwrap_or_default();
            let schema = tools.iter().find(|t| t.name == call.name).map(|t| t.input_schema.clone());
            let mut arguments = match call.json.as_deref() {
                Some(text) if !text.trim().is_empty() => match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(m)) => m,
                    Ok(_) => return Err(CliError::Usage("--json ARGS must be a JSON object".into())),
                    Err(e) => return Err(CliError::Usage(format!("--json ARGS is not valid JSON: {e}"))),
                },
                _ => Map::new(),
            };
            for pair in &call.args {
                let (key, raw) = target::parse_pair(pair, "--arg")?;
                let ty = schema
                    .as_ref()
                    .and_then(|s| s.get("properties"))
                    .and_then(|p| p.get(&key))
                    .and_then(|p| p.get("type"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                arguments.insert(key.clone(), coerce(&key, &raw, ty.as_deref())?);
            }
            let opts = RequestOptions {
                timeout: None,
                on_progress: call.progress.then(|| {
                    Box::new(|p: switchboard_mcp::protocol::notifications::ProgressParams| {
                        let total = p.total.map(|t| format!("/{t}")).unwrap_or_default();
                        let message = p.message.map(|m| format!(" {m}")).unwrap_or_default();
                        eprintln!("progress {}{total}{message}", p.progress);
                    }) as Box<dyn Fn(_) + Send + Sync>
                }),
            };
            let result = client.call_tool_raw(&call.name, Value::Object(arguments), opts).await?;
            let is_error = result.get("isError").and_then(Value::as_bool).unwrap_or(false);
            if call.json.is_some() {
                output::json(&mut out, &result)?;
            } else {
                output::call_result(&mut out, &result)?;
            }
            if is_error {
                return Err(CliError::ToolError);
            }
        }
        ClientCommand::Resources(ResourcesCommand::List(l)) => {
            if l.templates {
                let templates = client.list_all_resource_templates().await?;
                if l.output.json {
                    output::json(&mut out, &json!({ "resourceTemplates": templates }))?;
                } else {
                    output::templates(&mut out, &templates)?;
                }
            } else {
                let resources = client.list_all_resources().await?;
                if l.output.json {
                    output::json(&mut out, &json!({ "resources": resources }))?;
                } else {
                    output::resources(&mut out, &resources)?;
                }
            }
        }
        ClientCommand::Resources(ResourcesCommand::Read(r)) => {
            let result = client.request("resources/read", json!({ "uri": r.uri })).await?;
            if r.output.json {
                output::json(&mut out, &result)?;
            } else {
                output::contents(&mut out, &result)?;
            }
        }
        ClientCommand::Prompts(PromptsCommand::List(o)) => {
            let prompts = client.list_all_prompts().await?;
            if o.json {
                output::json(&mut out, &json!({ "prompts": prompts }))?;
            } else {
                output::prompts(&mut out, &prompts)?;
            }
        }
        ClientCommand::Prompts(PromptsCommand::Get(g)) => {
            let mut arguments = Map::new();
            for pair in &g.args {
                let (k, v) = target::parse_pair(pair, "--arg")?;
                arguments.insert(k, Value::String(v));
            }
            let result = client.request("prompts/get", json!({"name": g.name, "arguments": arguments})).await?;
            if g.output.json {
                output::json(&mut out, &result)?;
            } else {
                output::prompt_messages(&mut out, &result)?;
            }
        }
        ClientCommand::Complete(c) => {
            let reference = match (&c.prompt, &c.template) {
                (Some(name), _) => json!({"type": "ref/prompt", "name": name}),
                (None, Some(uri)) => json!({"type": "ref/resource", "uri": uri}),
                (None, None) => return Err(CliError::Usage("give --prompt NAME or --template URI_TEMPLATE".into())),
            };
            let result = client.complete(reference, &c.argument, &c.value, None).await?;
            if c.output.json {
                output::json(&mut out, &result)?;
            } else {
                for value in &result.completion.values {
                    writeln!(out, "{value}")?;
                }
            }
        }
        ClientCommand::Listen(l) => {
            let all = !(l.tools || l.prompts || l.resources);
            let filter = SubscriptionFilter {
                tools_list_changed: (all || l.tools).then_some(true),
                prompts_list_changed: (all || l.prompts).then_some(true),
                resources_list_changed: (all || l.resources).then_some(true),
                resource_subscriptions: (!l.resource_uris.is_empty()).then(|| l.resource_uris.clone()),
            };
            let mut listener = client.listen(filter).await?;
            drop(out);
            let deadline = l.duration.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
            let mut seen = 0;
            loop {
                let next = async {
                    match deadline {
                        Some(d) => tokio::time::timeout_at(d, listener.next()).await.ok().flatten(),
                        None => listener.next().await,
                    }
                };
                let notification = tokio::select! {
                    n = next => n,
                    _ = tokio::signal::ctrl_c() => None,
                };
                let Some(n) = notification else { break };
                let mut out = std::io::stdout().lock();
                if l.output.json {
                    output::json_line(&mut out, &json!({"method": n.method, "params": n.params}))?;
                } else {
                    writeln!(
                        out,
                        "{} {}",
                        n.method,
                        if n.params.is_null() { String::new() } else { n.params.to_string() }
                    )?;
                }
                out.flush()?;
                seen += 1;
                if l.count.is_some_and(|c| seen >= c) {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Converts `--arg KEY=VALUE` text to the type the schema gives the key.
fn coerce(key: &str, raw: &str, ty: Option<&str>) -> Result<Value, CliError> {
    let bad = |what: &str| CliError::Usage(format!("--arg {key}={raw}: expected {what}"));
    Ok(match ty {
        Some("string") => Value::String(raw.to_owned()),
        Some("integer") => Value::from(raw.trim().parse::<i64>().map_err(|_| bad("an integer"))?),
        Some("number") => {
            let n: f64 = raw.trim().parse().map_err(|_| bad("a number"))?;
            serde_json::Number::from_f64(n).map(Value::Number).ok_or_else(|| bad("a finite number"))?
        }
        Some("boolean") => Value::Bool(raw.trim().parse().map_err(|_| bad("true or false"))?),
        Some("object" | "array") => serde_json::from_str(raw).map_err(|_| bad("JSON"))?,
        _ => serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned())),
    })
}

/// The CLI's answers to server requests: roots from `--root`, elicitation declined (or
/// accepted with defaults), no sampling (there is no model here).
struct CliHandler {
    roots: Vec<Root>,
    accept_elicitation: bool,
}

impl ClientHandler for CliHandler {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities { sampling: None, ..full_capabilities() }
    }

    fn elicit(&self, params: ElicitParams) -> BoxFuture<'static, Result<ElicitResult, ErrorObject>> {
        let accept = self.accept_elicitation;
        Box::pin(async move {
            eprintln!("the server asks: {}", params.message);
            let action = if accept { ElicitAction::Accept } else { ElicitAction::Decline };
            // Accepted answers get the schema's defaults from the runtime.
            Ok(ElicitResult { action, content: accept.then(Map::new), meta: None })
        })
    }

    fn list_roots(&self) -> BoxFuture<'static, Result<ListRootsResult, ErrorObject>> {
        let roots = self.roots.clone();
        Box::pin(async move { Ok(ListRootsResult { roots, meta: None }) })
    }

    fn notification(&self, method: &str, params: &Value) {
        if method == "notifications/message" {
            let level = params.get("level").and_then(Value::as_str).unwrap_or("info");
            let data =
                params.get("data").map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_owned)).unwrap_or_default();
            tracing::info!(target: "switchboard::client::server_log", %level, "{data}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_follow_the_schema_types() {
        assert_eq!(coerce("a", "42", Some("integer")).ok(), Some(json!(42)));
        assert_eq!(coerce("a", "42", Some("string")).ok(), Some(json!("42")));
        assert_eq!(coerce("a", "2.5", Some("number")).ok(), Some(json!(2.5)));
        assert_eq!(coerce("a", "true", Some("boolean")).ok(), Some(json!(true)));
        assert_eq!(coerce("a", "{\"b\":1}", Some("object")).ok(), Some(json!({"b": 1})));
        assert_eq!(coerce("a", "hello", None).ok(), Some(json!("hello")));
        assert_eq!(coerce("a", "7", None).ok(), Some(json!(7)));
        assert!(coerce("a", "x", Some("integer")).is_err());
    }
}
