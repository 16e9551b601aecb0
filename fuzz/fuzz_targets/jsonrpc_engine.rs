//! Whole frames through a served connection, in every era: the engine's decoding, batching,
//! cancellation and the server's era choice and dispatch, over newline-delimited frames on an
//! in-memory pipe (the stdio framing), on a one-thread runtime with a paused clock.
//!
//! Input: the first byte picks the era (`0` modern 2026-07-28 with no session, `1` 2024-11-05,
//! `2` 2025-03-26, `3` 2025-06-18, `4` 2025-11-25: a legacy session is opened with `initialize`
//! first); the rest is written to the server as it is (one frame per line).
//!
//! Invariants: nothing panics, the connection ends, and every line the server writes is one
//! JSON-RPC message (an object with `"jsonrpc":"2.0"`) or a non-empty array of them — and an
//! array only in a 2025-03-26 session.

#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use switchboard_mcp::protocol::content::{ContentBlock, ResourceContents, Role};
use switchboard_mcp::protocol::meta::LoggingLevel;
use switchboard_mcp::protocol::prompts::{GetPromptResult, Prompt, PromptArgument, PromptMessage};
use switchboard_mcp::protocol::resources::{Resource, ResourceTemplate};
use switchboard_mcp::protocol::tool::Tool;
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::protocol::ProtocolVersion;
use switchboard_mcp::server::{Router, Server, ToolError};
use switchboard_mcp::transport::stdio::{LineReader, LineWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};

const ERAS: [Option<ProtocolVersion>; 5] = [
    None,
    Some(ProtocolVersion::V2024_11_05),
    Some(ProtocolVersion::V2025_03_26),
    Some(ProtocolVersion::V2025_06_18),
    Some(ProtocolVersion::V2025_11_25),
];

fn object(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("an object literal"),
    }
}

fn server() -> Server {
    let echo = json!({"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]});
    let add = json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]});
    let any = json!({"type": "object"});
    let mut who = PromptArgument::new("who", true);
    who.description = Some("Whom to greet".into());
    let mut greet = Prompt::new("greet");
    greet.arguments = Some(vec![who]);
    let router = Router::new()
        .tool(Tool::new("echo", "Echoes the message.", object(echo)), |args, _ctx| async move {
            let m = args.as_object().get("message").and_then(Value::as_str).unwrap_or_default().to_owned();
            Ok(CallToolResult::text(m))
        })
        .tool(Tool::new("add", "Adds two numbers.", object(add)), |args, _ctx| async move {
            let n = |k: &str| args.as_object().get(k).and_then(Value::as_f64).unwrap_or_default();
            Ok(CallToolResult::text((n("a") + n("b")).to_string()))
        })
        .tool(Tool::new("fail", "Always fails.", object(any.clone())), |_args, _ctx| async move {
            Err(ToolError::msg("it failed"))
        })
        .tool(
            Tool::new("chatty", "Reports progress, logs, then waits.", object(any.clone())),
            |_args, ctx| async move {
                ctx.progress(1.0, Some(2.0), Some("half")).await;
                ctx.log(LoggingLevel::Info, Some("fuzz"), "a log line").await;
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(CallToolResult::text("done"))
            },
        )
        .tool(Tool::new("ask", "Asks the client for its roots.", object(any)), |_args, ctx| async move {
            let roots = ctx.list_roots("roots").await?;
            Ok(CallToolResult::text(format!("{} roots", roots.roots.len())))
        })
        .text_resource(Resource::new("test://static", "static"), "static text")
        .prompt(greet, |args: BTreeMap<String, String>, _ctx| async move {
            let who = args.get("who").cloned().unwrap_or_default();
            Ok(GetPromptResult {
                messages: vec![PromptMessage { role: Role::User, content: ContentBlock::text(format!("Hello {who}")) }],
                ..Default::default()
            })
        })
        .prompt_completion("greet", "who", |value, _| async move {
            Ok(["ada", "alan", "grace"].iter().filter(|c| c.starts_with(&value)).map(|c| c.to_string()).collect())
        })
        .resource_template(
            ResourceTemplate {
                uri_template: "file:///docs/{name}".into(),
                name: "docs".into(),
                title: None,
                description: None,
                mime_type: Some("text/plain".into()),
                icons: None,
                annotations: None,
                meta: None,
            },
            |uri, vars: BTreeMap<String, String>, _| async move {
                let name = vars.get("name").cloned().unwrap_or_default();
                Ok((name != "missing").then(|| vec![ResourceContents::text(uri, Some("text/plain"), name)]))
            },
        )
        .expect("the template parses");
    Server::builder("fuzz", "0").router(router).expect("the schemas compile").build()
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    server: Server,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("a runtime");
        let server = runtime.block_on(async { server() });
        Fixture { runtime, server }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&era, frames)) = data.split_first() else { return };
    let version = ERAS[usize::from(era.wrapping_sub(b'0')) % ERAS.len()];
    let mut input = Vec::with_capacity(frames.len() + 256);
    if let Some(v) = version {
        let init = json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
            "protocolVersion": v.as_str(), "capabilities": {"roots": {}}, "clientInfo": {"name": "fuzz", "version": "0"}}});
        input.extend_from_slice(init.to_string().as_bytes());
        input.extend_from_slice(b"\n{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
    }
    input.extend_from_slice(frames);
    input.push(b'\n');

    let f = fixture();
    let output = f.runtime.block_on(async {
        let (client, server_end) = tokio::io::duplex(1 << 16);
        let (server_read, server_write) = tokio::io::split(server_end);
        let (mut client_read, mut client_write) = tokio::io::split(client);
        let serve =
            f.server.serve(LineReader::new(BufReader::new(server_read), 1 << 20), LineWriter::new(server_write));
        let write = async move {
            let _ = client_write.write_all(&input).await;
            let _ = client_write.shutdown().await;
            drop(client_write);
        };
        let read = async move {
            let mut out = Vec::new();
            let _ = client_read.read_to_end(&mut out).await;
            out
        };
        let run = async {
            let (_, _, out) = tokio::join!(serve, write, read);
            out
        };
        // Virtual time: a minute is far more than any request here takes, and costs nothing.
        tokio::time::timeout(Duration::from_secs(600), run).await.expect("the connection ends")
    });

    // A second `initialize` may change the session's revision, and with it whether batches pass.
    let reinit = frames.windows(b"initialize".len()).any(|w| w == b"initialize");
    let batches_allowed = version.is_some_and(ProtocolVersion::allows_batches) || reinit;
    for line in output.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let value: Value = serde_json::from_slice(line).unwrap_or_else(|e| {
            panic!("the server wrote a line that is not JSON ({e}): {}", String::from_utf8_lossy(line))
        });
        match &value {
            Value::Object(_) => message(&value),
            Value::Array(items) => {
                assert!(batches_allowed, "a batch answered outside 2025-03-26 ({version:?}): {value}");
                assert!(!items.is_empty(), "an empty batch answer");
                items.iter().for_each(message);
            }
            other => panic!("the server wrote {other}"),
        }
    }
});

fn message(v: &Value) {
    assert_eq!(v.get("jsonrpc").and_then(Value::as_str), Some("2.0"), "not JSON-RPC 2.0: {v}");
    let is_response = v.get("result").is_some() || v.get("error").is_some();
    let is_message = v.get("method").and_then(Value::as_str).is_some();
    assert!(is_response != is_message, "neither a response nor a request/notification: {v}");
    if let Some(e) = v.get("error") {
        assert!(e.get("code").and_then(Value::as_i64).is_some(), "an error without an integer code: {v}");
        assert!(e.get("message").and_then(Value::as_str).is_some(), "an error without a message: {v}");
    }
}
