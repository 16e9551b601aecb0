//! Unit tests of the server's building blocks: schema compilation, state sealing, cursors.

use std::time::Duration;

use serde_json::{json, Value};
use switchboard_protocol::tools::Tool;

use super::catalog::{ToolCatalog, ToolDefinitionError};
use super::cursor;
use super::seal::StateSealer;

fn tool(name: &str, schema: Value) -> Tool {
    let Value::Object(schema) = schema else { panic!("schema must be an object") };
    Tool::new(name, "test", schema)
}

fn with_service(tool: Tool) -> (Tool, super::ToolService) {
    let service = tower::service_fn(|_: super::ToolRequest| async {
        Ok(switchboard_protocol::tools::CallToolResult::text("ok"))
    });
    (tool, super::ToolService::new(service))
}

fn catalog(schema: Value) -> Result<ToolCatalog, ToolDefinitionError> {
    ToolCatalog::new([with_service(tool("t", schema))])
}

#[test]
fn catalog_refuses_bad_definitions() {
    let remote = catalog(json!({"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}}));
    assert!(
        matches!(remote, Err(ToolDefinitionError::InvalidSchema { .. })),
        "network $ref must not be fetched: {remote:?}"
    );
    let not_object = catalog(json!({"type": "string"}));
    assert!(matches!(not_object, Err(ToolDefinitionError::InvalidSchema { .. })));
    let mut deep = json!({"type": "string"});
    for _ in 0..40 {
        deep = json!({"allOf": [deep]});
    }
    let deep = catalog(json!({"type": "object", "properties": {"a": deep}}));
    assert!(matches!(deep, Err(ToolDefinitionError::InvalidSchema { .. })), "composition is bounded");
    let dup = ToolCatalog::new([
        with_service(tool("t", json!({"type": "object"}))),
        with_service(tool("t", json!({"type": "object"}))),
    ]);
    assert_eq!(dup.err(), Some(ToolDefinitionError::Duplicate("t".into())));
    let bad_name = ToolCatalog::new([with_service(tool("has space", json!({"type": "object"})))]);
    assert!(matches!(bad_name, Err(ToolDefinitionError::InvalidName(_))));
}

#[test]
fn dialect_is_2020_12_unless_schema_says_otherwise() {
    // In 2020-12 keywords beside `$ref` apply; in draft-07 `$ref` overrides its siblings.
    let base = json!({
        "type": "object",
        "properties": {"a": {"$ref": "#/definitions/s", "maxLength": 2}},
        "definitions": {"s": {"type": "string"}}
    });
    let Value::Object(args) = json!({"a": "toolong"}) else { unreachable!() };
    let modern = catalog(base.clone()).expect("compiles");
    let err = modern.get("t").expect("tool").validate_args(args.clone()).expect_err("2020-12 applies maxLength");
    assert!(err.contains("/a"), "{err}");
    let mut draft7 = base;
    draft7["$schema"] = json!("http://json-schema.org/draft-07/schema#");
    let old = catalog(draft7).expect("compiles");
    assert!(old.get("t").expect("tool").validate_args(args).is_ok(), "draft-07 ignores siblings of $ref");
}

#[test]
fn validation_errors_name_the_path() {
    let c = catalog(
        json!({"type": "object", "properties": {"n": {"type": "object", "properties": {"x": {"type": "integer"}}}}}),
    )
    .expect("compiles");
    let Value::Object(args) = json!({"n": {"x": "seven"}}) else { unreachable!() };
    let err = c.get("t").expect("tool").validate_args(args).expect_err("invalid");
    assert!(err.contains("/n/x"), "{err}");
}

#[test]
fn sealed_state_is_bound_and_tamper_evident() {
    let sealer = StateSealer::random();
    let digest = StateSealer::digest(&[&json!("tool"), &json!({"a": 1})]);
    let token = sealer.seal("tools/call", digest.clone(), "alice", Default::default(), Some(json!({"k": "v"})));
    let opened = sealer.open(&token, "tools/call", &digest, "alice").expect("opens");
    assert_eq!(opened.s, Some(json!({"k": "v"})));
    let mut tampered = token.clone();
    tampered.insert(3, 'x');
    assert!(sealer.open(&tampered, "tools/call", &digest, "alice").is_err());
    assert!(sealer.open(&token, "prompts/get", &digest, "alice").is_err(), "bound to the method");
    let other = StateSealer::digest(&[&json!("tool"), &json!({"a": 2})]);
    assert!(sealer.open(&token, "tools/call", &other, "alice").is_err(), "bound to the params");
    assert!(sealer.open(&token, "tools/call", &digest, "bob").is_err(), "bound to the principal");
    assert!(StateSealer::random().open(&token, "tools/call", &digest, "alice").is_err(), "bound to the key");
    let expired = StateSealer::with_key([7; 32], Duration::ZERO);
    let token = expired.seal("tools/call", digest.clone(), "", Default::default(), None);
    std::thread::sleep(Duration::from_millis(5));
    let err = expired.open(&token, "tools/call", &digest, "").expect_err("expired");
    assert!(err.message.contains("expired"), "{}", err.message);
}

#[test]
fn cursors_round_trip_and_reject_forgeries() {
    let items: Vec<u32> = (0..25).collect();
    let (page, next) = cursor::page("tools", &items, None, 10).expect("first page");
    assert_eq!(page, (0..10).collect::<Vec<_>>());
    let (page, next) = cursor::page("tools", &items, next.as_deref(), 10).expect("second page");
    assert_eq!(page[0], 10);
    let (page, next) = cursor::page("tools", &items, next.as_deref(), 10).expect("last page");
    assert_eq!((page.len(), next), (5, None));
    for bad in ["", "nope", "dG9vbHM6NTow", &cursor::encode("prompts", 3)] {
        assert!(cursor::page("tools", &items, Some(bad), 10).is_err(), "{bad:?} must be rejected");
    }
}

/// One JSON-RPC exchange with a served connection.
struct Wire {
    writer: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>>,
}

impl Wire {
    fn serve(server: &super::Server) -> Self {
        use crate::transport::stdio::{LineReader, LineWriter};
        use tokio::io::AsyncBufReadExt;
        let (client, server_end) = tokio::io::duplex(1 << 20);
        let (read, write) = tokio::io::split(server_end);
        let server = server.clone();
        tokio::spawn(async move {
            server.serve(LineReader::new(tokio::io::BufReader::new(read), 1 << 20), LineWriter::new(write)).await
        });
        let (read, writer) = tokio::io::split(client);
        Self { writer, lines: tokio::io::BufReader::new(read).lines() }
    }

    async fn call(&mut self, message: Value) -> Value {
        use tokio::io::AsyncWriteExt;
        let line = format!("{message}\n");
        self.writer.write_all(line.as_bytes()).await.expect("write");
        let reply = self.lines.next_line().await.expect("read").expect("a reply");
        serde_json::from_str(&reply).expect("JSON")
    }
}

fn listing_router(names: &[&str]) -> super::Catalog {
    let mut router = super::Router::new();
    for name in names {
        let mut t = tool(name, json!({"type": "object"}));
        t.title = Some(format!("Title of {name}"));
        router = router.tool(t, |_, _| async { Ok(switchboard_protocol::tools::CallToolResult::text("ok")) });
    }
    router.build().expect("valid tools")
}

/// `tools/list` pages are encoded once per catalog and reused: repeated listings are identical,
/// each revision keeps its own shape, pages keep their cursors, and a swapped catalog is listed
/// from the next request on.
#[tokio::test]
async fn tool_listings_follow_the_catalog_and_the_revision() {
    let handler = super::CatalogHandle::new(listing_router(&["a", "b", "c"]));
    let server = super::Server::builder("t", "0").catalog(handler.clone()).page_size(2).build();
    let mut wire = Wire::serve(&server);
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    let list = |id: u64, cursor: Option<&Value>| {
        let mut params = json!({"_meta": meta.clone()});
        if let Some(c) = cursor {
            params["cursor"] = c.clone();
        }
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": params})
    };
    let names = |reply: &Value| -> Vec<String> {
        reply["result"]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .map(|t| t["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };

    let first = wire.call(list(1, None)).await;
    let again = wire.call(list(2, None)).await;
    assert_eq!(names(&first), ["a", "b"], "{first}");
    assert_eq!(first["result"], again["result"], "a cached page is the page");
    assert_eq!(again["id"], 2);
    assert_eq!(first["result"]["tools"][0]["title"], "Title of a", "{first}");
    assert_eq!(first["result"]["resultType"], "complete", "{first}");
    assert!(first["result"]["ttlMs"].is_u64(), "{first}");
    let second = wire.call(list(3, Some(&first["result"]["nextCursor"]))).await;
    assert_eq!(names(&second), ["c"], "{second}");
    assert!(second["result"].get("nextCursor").is_none(), "{second}");

    // A legacy session on the same connection gets the page shaped for its revision.
    let init = json!({"jsonrpc": "2.0", "id": 4, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}});
    assert_eq!(wire.call(init).await["result"]["protocolVersion"], "2025-03-26");
    let legacy = wire.call(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"})).await;
    assert_eq!(names(&legacy), ["a", "b"], "{legacy}");
    assert!(legacy["result"]["tools"][0].get("title").is_none(), "no titles before 2025-06-18: {legacy}");
    assert!(legacy["result"].get("resultType").is_none() && legacy["result"].get("ttlMs").is_none(), "{legacy}");
    assert_eq!(wire.call(list(6, None)).await["result"], first["result"], "the modern page is still cached");

    handler.store(listing_router(&["x"]));
    let swapped = wire.call(list(7, None)).await;
    assert_eq!(names(&swapped), ["x"], "{swapped}");
    assert!(swapped["result"].get("nextCursor").is_none(), "{swapped}");
    let legacy = wire.call(json!({"jsonrpc": "2.0", "id": 8, "method": "tools/list"})).await;
    assert_eq!(names(&legacy), ["x"], "{legacy}");
}
