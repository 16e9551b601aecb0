//! Micro-benchmarks of the request hot path (criterion): decoding a `tools/call` frame, encoding
//! its result, validating tool arguments against a compiled `inputSchema`, and the whole
//! decode → dispatch → encode round trip of a modern `tools/call` and a `tools/list` through a
//! served connection (an in-memory pipe on a one-thread runtime, so neither a socket nor a wake-up
//! across threads is measured). SSE framing (`server/http/sse.rs`) is crate-private and is
//! measured end to end by `switchboard bench` instead.
//!
//! Run: `cargo bench -p switchboard-mcp --bench hot_path`.

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};
use switchboard_mcp::protocol::jsonrpc::{decode, write_result, DecodeLimits, Decoded, Inbound};
use switchboard_mcp::protocol::tools::{CallToolResult, Tool};
use switchboard_mcp::server::{Router, Server};
use switchboard_mcp::transport::stdio::{LineReader, LineWriter};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const CALL: &str = r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"0"}}}}"#;

const LIST: &str = r#"{"jsonrpc":"2.0","id":42,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"0"}}}}"#;

fn echo_tool() -> Tool {
    let schema = json!({"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]});
    let Value::Object(schema) = schema else { unreachable!("an object literal") };
    Tool::new("echo", "Echoes the message back.", schema)
}

fn add_tool() -> Tool {
    let schema = json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]});
    let Value::Object(schema) = schema else { unreachable!("an object literal") };
    Tool::new("add", "Adds two numbers.", schema)
}

fn codec(c: &mut Criterion) {
    let limits = DecodeLimits::new(4 << 20, 64);
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Bytes(CALL.len() as u64));
    g.bench_function("decode tools/call", |b| {
        b.iter(|| match decode(std::hint::black_box(CALL.as_bytes()), &limits).unwrap() {
            Decoded::Single(Inbound::Request(r)) => r,
            _ => unreachable!("a request"),
        })
    });
    let Decoded::Single(Inbound::Request(request)) = decode(CALL.as_bytes(), &limits).unwrap() else {
        unreachable!("a request")
    };
    let result = CallToolResult::text("hello");
    g.bench_function("encode tools/call result", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            out.clear();
            write_result(&mut out, &request.id, std::hint::black_box(&result)).unwrap();
            out.len()
        })
    });
    g.finish();
}

fn validation(c: &mut Criterion) {
    let ok = |_, _| async { Ok(CallToolResult::text("ok")) };
    let catalog = Router::new().tool(echo_tool(), ok).tool(add_tool(), ok).build().unwrap();
    let catalog = catalog.tools();
    let mut g = c.benchmark_group("validate_args");
    for (tool, args) in [("echo", json!({"message": "hello"})), ("add", json!({"a": 2, "b": 3}))] {
        let entry = catalog.get(tool).unwrap();
        let Value::Object(args) = args else { unreachable!("an object literal") };
        g.bench_function(tool, |b| b.iter(|| entry.validate_args(std::hint::black_box(args.clone())).unwrap()));
    }
    let entry = catalog.get("add").unwrap();
    let Value::Object(bad) = json!({"a": "x"}) else { unreachable!("an object literal") };
    g.bench_function("add (invalid)", |b| {
        b.iter(|| entry.validate_args(std::hint::black_box(bad.clone())).unwrap_err())
    });
    g.finish();
}

fn round_trip(c: &mut Criterion) {
    // One thread: the server and the client take turns, so what is measured is the CPU cost of the
    // path, not cross-thread wake-ups (which dominate, and vary, on a multi-threaded runtime).
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let router = Router::new()
        .tool(echo_tool(), |args, _ctx| async move {
            let message = args.as_object().get("message").and_then(Value::as_str).unwrap_or_default().to_owned();
            Ok(CallToolResult::text(message))
        })
        .tool(add_tool(), |_args, _ctx| async move { Ok(CallToolResult::text("5")) });
    let server = Server::builder("bench", "0").router(router).unwrap().build();
    let (client, server_end) = tokio::io::duplex(1 << 20);
    let (server_read, server_write) = tokio::io::split(server_end);
    rt.spawn(async move {
        server.serve(LineReader::new(BufReader::new(server_read), 4 << 20), LineWriter::new(server_write)).await
    });
    let (read, mut writer) = tokio::io::split(client);
    let mut lines = BufReader::new(read).lines();
    // Request ids must not be reused on a connection (the engine refuses an id it still has in
    // flight), so every request gets its own.
    let mut next_id = 1_000_u64;
    let mut frame = |template: &str| {
        next_id += 1;
        let body = template.replacen(r#""id":42"#, &format!(r#""id":{next_id}"#), 1);
        format!("{body}\n")
    };
    let mut g = c.benchmark_group("round_trip");
    g.throughput(Throughput::Elements(1));
    g.bench_function("tools/call echo (modern, in-memory pipe)", |b| {
        b.iter(|| {
            let frame = frame(CALL);
            rt.block_on(async {
                writer.write_all(frame.as_bytes()).await.unwrap();
                let line = lines.next_line().await.unwrap().unwrap();
                assert!(line.contains(r#""text":"hello""#), "{line}");
            })
        })
    });
    g.bench_function("tools/list, 2 tools (modern, in-memory pipe)", |b| {
        b.iter(|| {
            let list = frame(LIST);
            rt.block_on(async {
                writer.write_all(list.as_bytes()).await.unwrap();
                let line = lines.next_line().await.unwrap().unwrap();
                assert!(line.contains(r#""name":"add""#), "{line}");
            })
        })
    });
    g.finish();
}

criterion_group!(benches, codec, validation, round_trip);
criterion_main!(benches);
