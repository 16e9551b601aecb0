//! The requests the load sends, and the check every reply must pass: a reply counts as a success
//! only when it answers the right id with a result that matches the scenario (`echo` must echo
//! the request's own unique message back). Error responses, `isError` results and wrong results
//! are failures, each with its own kind.

use serde_json::Value;

use super::args::{Era, Scenario};

/// The modern protocol revision.
pub(crate) const MODERN: &str = "2026-07-28";
/// The legacy revision requested by `initialize`.
pub(crate) const LEGACY: &str = "2025-11-25";

/// Why one request did not count as a success. `kind` groups the report; `detail` is the first
/// example kept for it.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// The group, e.g. `http 400`, `rpc -32602`, `timeout`, `wrong result`.
    pub(crate) kind: String,
    /// What happened, for the first failure of each kind.
    pub(crate) detail: String,
}

impl Failure {
    /// A failure of `kind` with `detail`.
    pub(crate) fn new(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind: kind.into(), detail: detail.into() }
    }
}

/// One request, ready to send.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// The JSON-RPC id (unique in the run).
    pub(crate) id: u64,
    /// The serialized message.
    pub(crate) body: String,
    /// The method (the `Mcp-Method` header).
    pub(crate) method: &'static str,
    /// The tool name (the `Mcp-Name` header), for tools/call.
    pub(crate) name: Option<String>,
}

/// Builds requests and checks replies for one scenario and era.
#[derive(Debug)]
pub(crate) struct Messages {
    scenario: Scenario,
    /// `,"_meta":{…}` for modern requests, empty for legacy ones.
    meta: String,
    /// The serialized arguments of `call:` scenarios.
    call_args: String,
}

impl Messages {
    /// Messages for `scenario` in `era`.
    pub(crate) fn new(scenario: Scenario, era: Era) -> Self {
        let meta = match era {
            Era::Modern => format!(",{}", modern_meta()),
            Era::Legacy => String::new(),
        };
        let call_args = match &scenario {
            Scenario::Call { arguments, .. } => arguments.to_string(),
            _ => String::new(),
        };
        Self { scenario, meta, call_args }
    }

    /// The request with JSON-RPC id `id`. Requests are formatted from a template rather than
    /// through `serde_json::Value`, so the client spends as little CPU as it can beside the server.
    pub(crate) fn request(&self, id: u64) -> Outgoing {
        let meta = &self.meta;
        match &self.scenario {
            Scenario::Echo => Outgoing {
                id,
                body: format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"m{id}"}}{meta}}}}}"#
                ),
                method: "tools/call",
                name: Some("echo".to_owned()),
            },
            Scenario::List => Outgoing {
                id,
                body: if meta.is_empty() {
                    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#)
                } else {
                    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list","params":{{{}}}}}"#, &meta[1..])
                },
                method: "tools/list",
                name: None,
            },
            Scenario::Chat { agent } => Outgoing {
                id,
                body: serde_json::json!({
                    "model": agent,
                    "messages": [{"role": "user", "content": format!("Where is my order ORD-20250204-1037? (request {id})")}],
                })
                .to_string(),
                method: "chat",
                name: None,
            },
            Scenario::Call { tool, .. } => {
                let name = Value::String(tool.clone());
                Outgoing {
                    id,
                    body: format!(
                        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":{name},"arguments":{}{meta}}}}}"#,
                        self.call_args
                    ),
                    method: "tools/call",
                    name: Some(tool.clone()),
                }
            }
        }
    }

    /// Checks that `reply` (one JSON-RPC message) successfully answers request `id`.
    pub(crate) fn check(&self, id: u64, reply: &[u8]) -> Result<(), Failure> {
        let message = parse(reply)?;
        if let Scenario::Chat { .. } = &self.scenario {
            return check_chat(&message);
        }
        let result = response_result(&message, id)?;
        match &self.scenario {
            Scenario::Echo => {
                not_tool_error(result)?;
                let text = result.pointer("/content/0/text").and_then(Value::as_str);
                let want = format!("m{id}");
                if text != Some(want.as_str()) {
                    return Err(Failure::new("wrong result", format!("expected text {want:?}, got {result}")));
                }
            }
            Scenario::List => {
                let Some(tools) = result.get("tools").and_then(Value::as_array) else {
                    return Err(Failure::new("wrong result", format!("no tools array in {result}")));
                };
                let malformed = tools.iter().find(|t| {
                    !t.get("name").is_some_and(Value::is_string) || !t.get("inputSchema").is_some_and(Value::is_object)
                });
                if let Some(t) = malformed {
                    return Err(Failure::new("wrong result", format!("a tool without a name or inputSchema: {t}")));
                }
            }
            Scenario::Call { .. } => {
                not_tool_error(result)?;
                if !result.get("content").is_some_and(Value::is_array) {
                    return Err(Failure::new("wrong result", format!("no content array in {result}")));
                }
            }
            Scenario::Chat { .. } => {}
        }
        Ok(())
    }
}

/// A chat completion must carry an answer's text (an error body is a failure of its `code`).
fn check_chat(message: &Value) -> Result<(), Failure> {
    if let Some(error) = message.get("error") {
        let code = error.get("code").and_then(Value::as_str).unwrap_or("error");
        return Err(Failure::new(format!("chat {code}"), error.to_string()));
    }
    match message.pointer("/choices/0/message/content").and_then(Value::as_str) {
        Some(text) if !text.is_empty() => Ok(()),
        _ => Err(Failure::new("wrong result", format!("no answer text in {message}"))),
    }
}

/// `"_meta":{…}`: what makes a request modern (revision, capabilities, client info).
pub(crate) fn modern_meta() -> String {
    format!(
        r#""_meta":{{"io.modelcontextprotocol/protocolVersion":"{MODERN}","io.modelcontextprotocol/clientCapabilities":{{}},"io.modelcontextprotocol/clientInfo":{{"name":"switchboard-bench","version":"{}"}}}}"#,
        env!("CARGO_PKG_VERSION")
    )
}

/// The legacy handshake request (id 0).
pub(crate) fn initialize() -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{LEGACY}","capabilities":{{}},"clientInfo":{{"name":"switchboard-bench","version":"{}"}}}}}}"#,
        env!("CARGO_PKG_VERSION")
    )
}

/// The notification that completes the handshake.
pub(crate) const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// Checks an `initialize` reply and returns the negotiated revision.
pub(crate) fn check_initialize(reply: &[u8]) -> Result<String, Failure> {
    let message = parse(reply)?;
    let result = response_result(&message, 0)?;
    result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Failure::new("wrong result", format!("initialize result without protocolVersion: {result}")))
}

/// The id of a message, when it is a number (used to route pipelined replies).
pub(crate) fn reply_id(line: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<u64>,
    }
    serde_json::from_slice::<Id>(line).ok()?.id
}

fn parse(reply: &[u8]) -> Result<Value, Failure> {
    serde_json::from_slice(reply).map_err(|e| {
        let text = String::from_utf8_lossy(&reply[..reply.len().min(200)]).into_owned();
        Failure::new("bad JSON", format!("{e}: {text}"))
    })
}

fn response_result(message: &Value, id: u64) -> Result<&Value, Failure> {
    if message.get("id").and_then(Value::as_u64) != Some(id) {
        return Err(Failure::new("wrong id", format!("expected id {id}, got {message}")));
    }
    if let Some(error) = message.get("error") {
        let code = error.get("code").and_then(Value::as_i64).unwrap_or_default();
        return Err(Failure::new(format!("rpc {code}"), error.to_string()));
    }
    match message.get("result") {
        Some(result) if result.is_object() => Ok(result),
        _ => Err(Failure::new("wrong result", format!("no result object in {message}"))),
    }
}

fn not_tool_error(result: &Value) -> Result<(), Failure> {
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        return Err(Failure::new("tool isError", result.to_string()));
    }
    Ok(())
}
