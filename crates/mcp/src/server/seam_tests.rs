//! Tests of the seam: one catalog snapshot per request (validation and execution never straddle a
//! reload), and `tower::Layer`s composed around catalog services without touching dispatch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use serde_json::{json, Value};
use switchboard_protocol::tools::{CallToolResult, Tool};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use super::{Catalog, CatalogHandle, HandlerError, Router, Server, ToolRequest, ToolService};

const MODERN_META: &str =
    r#"{"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}"#;

/// Version `v` of tool `t`: its schema accepts only `{"v": v}`, and its implementation answers
/// `v` — or `MIX` if it is ever handed arguments another version validated.
fn version(v: &'static str) -> Catalog {
    let Value::Object(schema) = json!({
        "type": "object",
        "properties": {"v": {"const": v}},
        "required": ["v"],
        "additionalProperties": false
    }) else {
        unreachable!("an object literal")
    };
    Router::new()
        .tool(Tool::new("t", "versioned", schema), move |args, _| async move {
            // Yield so that reloads land while calls are in flight.
            tokio::task::yield_now().await;
            let got = args.as_object().get("v").and_then(Value::as_str).unwrap_or_default().to_owned();
            Ok(CallToolResult::text(if got == v { v } else { "MIX" }))
        })
        .build()
        .expect("valid tool")
}

/// Serves `server` over an in-memory stream; returns a writer and a line reader.
fn connect(
    server: &Server,
) -> (
    tokio::io::WriteHalf<tokio::io::DuplexStream>,
    tokio::io::Lines<tokio::io::BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>>,
) {
    use crate::transport::stdio::{LineReader, LineWriter};
    let (client, server_end) = tokio::io::duplex(1 << 22);
    let (read, write) = tokio::io::split(server_end);
    let server = server.clone();
    tokio::spawn(async move {
        server.serve(LineReader::new(tokio::io::BufReader::new(read), 1 << 20), LineWriter::new(write)).await
    });
    let (read, writer) = tokio::io::split(client);
    (writer, tokio::io::BufReader::new(read).lines())
}

fn call(id: usize, tool: &str, arguments: Value) -> String {
    format!(
        "{}\n",
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": tool, "arguments": arguments, "_meta": serde_json::from_str::<Value>(MODERN_META).unwrap_or_default()
        }})
    )
}

/// Calls race reloads that change both the schema and the implementation of a tool. Each call
/// is validated and executed by one version: a call for the version that validated it returns
/// that version; a call for the other version is refused as invalid arguments; none is ever
/// run by the other version's implementation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_racing_a_reload_see_one_version() {
    let handle = CatalogHandle::new(version("a"));
    let server = Server::builder("t", "0").catalog(handle.clone()).build();
    let (mut writer, mut lines) = connect(&server);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    // Built beforehand, so that swaps come every few hundred nanoseconds and land inside the
    // short stretch between a call's validation and its execution.
    let mut versions: Vec<Catalog> = (0..3000).map(|n| version(if n % 2 == 0 { "b" } else { "a" })).collect();
    let swapper = {
        let (stop, swaps) = (stop.clone(), swaps.clone());
        std::thread::spawn(move || {
            while let Some(next) = versions.pop() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                handle.store(next);
                swaps.fetch_add(1, Ordering::Relaxed);
                if versions.len().is_multiple_of(8) {
                    std::thread::sleep(std::time::Duration::from_micros(20));
                }
            }
        })
    };

    const CALLS: usize = 4000;
    let sender = tokio::spawn(async move {
        for id in 0..CALLS {
            let v = if id % 2 == 0 { "a" } else { "b" };
            writer.write_all(call(id, "t", json!({"v": v})).as_bytes()).await.expect("write");
        }
        writer
    });
    let (mut executed, mut refused) = (0, 0);
    for _ in 0..CALLS {
        let line = lines.next_line().await.expect("read").expect("a reply");
        let reply: Value = serde_json::from_str(&line).expect("JSON");
        let id = reply["id"].as_u64().expect("an id");
        let asked = if id.is_multiple_of(2) { "a" } else { "b" };
        let result = &reply["result"];
        let text = result["content"][0]["text"].as_str().unwrap_or_default();
        if result["isError"] == true {
            assert!(text.starts_with("invalid arguments for tool t"), "{reply}");
            refused += 1;
        } else {
            assert_eq!(text, asked, "validated by one version, executed by another: {reply}");
            executed += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().expect("swapper");
    drop(sender.await.expect("sender"));
    assert!(swaps.load(Ordering::Relaxed) > 10, "the catalog was swapped while calls ran");
    assert!(executed > 0 && refused > 0, "both outcomes happened ({executed} executed, {refused} refused)");
}

/// A layer that counts the calls that reach the services it wraps.
#[derive(Clone)]
struct CountLayer(Arc<AtomicUsize>);

impl<S> tower::Layer<S> for CountLayer {
    type Service = Counted<S>;
    fn layer(&self, inner: S) -> Counted<S> {
        Counted { inner, count: self.0.clone() }
    }
}

#[derive(Clone)]
struct Counted<S> {
    inner: S,
    count: Arc<AtomicUsize>,
}

impl<S: tower::Service<ToolRequest>> tower::Service<ToolRequest> for Counted<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: ToolRequest) -> Self::Future {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inner.call(request)
    }
}

/// Layers compose around every tool without dispatch knowing: one counts, another refuses a
/// tool by name (the shape authorization takes), and calls that fail validation never reach
/// either.
#[tokio::test]
async fn layers_wrap_every_catalog_service() {
    let count = Arc::new(AtomicUsize::new(0));
    let Value::Object(schema) = json!({"type": "object", "properties": {"n": {"type": "integer"}}}) else {
        unreachable!("an object literal")
    };
    let catalog = Router::new()
        .tool(Tool::new("open", "d", schema.clone()), |_, _| async { Ok(CallToolResult::text("opened")) })
        .tool(Tool::new("locked", "d", schema), |_, _| async { Ok(CallToolResult::text("secret")) })
        .build()
        .expect("valid tools")
        .layer_tools(CountLayer(count.clone()))
        .map_tools(|tool, inner| {
            if tool.name != "locked" {
                return inner;
            }
            ToolService::new(tower::service_fn(|r: ToolRequest| async move {
                Err::<CallToolResult, _>(HandlerError::invalid_params(format!("unknown tool: {}", r.name)))
            }))
        });
    let server = Server::builder("t", "0").catalog(catalog).build();
    let (mut writer, mut lines) = connect(&server);
    for (id, tool, args) in [(1, "open", json!({"n": 1})), (2, "open", json!({"n": 2})), (3, "open", json!({"n": "x"}))]
    {
        writer.write_all(call(id, tool, args).as_bytes()).await.expect("write");
        let reply: Value = serde_json::from_str(&lines.next_line().await.expect("read").expect("reply")).expect("JSON");
        if id < 3 {
            assert_eq!(reply["result"]["content"][0]["text"], "opened", "{reply}");
        } else {
            assert_eq!(reply["result"]["isError"], true, "{reply}");
        }
    }
    assert_eq!(count.load(Ordering::Relaxed), 2, "two valid calls went through the layer; the invalid one did not");

    writer.write_all(call(4, "locked", json!({})).as_bytes()).await.expect("write");
    let reply: Value = serde_json::from_str(&lines.next_line().await.expect("read").expect("reply")).expect("JSON");
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    assert_eq!(reply["error"]["message"], "unknown tool: locked", "{reply}");
    assert_eq!(count.load(Ordering::Relaxed), 2, "the outer layer refused before the counter");
}
