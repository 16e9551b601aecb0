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

fn catalog(schema: Value) -> Result<ToolCatalog, ToolDefinitionError> {
    ToolCatalog::new([tool("t", schema)])
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
    let dup = ToolCatalog::new([tool("t", json!({"type": "object"})), tool("t", json!({"type": "object"}))]);
    assert_eq!(dup.err(), Some(ToolDefinitionError::Duplicate("t".into())));
    let bad_name = ToolCatalog::new([tool("has space", json!({"type": "object"}))]);
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
