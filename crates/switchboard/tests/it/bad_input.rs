//! Malformed and hostile input: each gets its specified answer, and the server then answers
//! the next valid request normally.

use serde_json::{json, Value};
use switchboard_protocol::ProtocolVersion;
use switchboard_testkit::peer::modern_meta;

use crate::demo;

/// What an input must be answered with.
enum Expect {
    /// A JSON-RPC error with this code and id, whose message contains the text.
    Error { code: i64, id: Value, mentions: &'static str },
}

fn check(peer: &mut switchboard_testkit::peer::StdioPeer, name: &str, input: &[u8], expect: Expect) {
    peer.send_raw(input);
    let answer = peer.recv();
    match expect {
        Expect::Error { code, id, mentions } => {
            assert_eq!(answer.pointer("/error/code"), Some(&json!(code)), "{name}: {answer}");
            assert_eq!(answer.get("id"), Some(&id), "{name}: {answer}");
            let message = answer.pointer("/error/message").and_then(Value::as_str).unwrap_or_default();
            assert!(message.contains(mentions), "{name}: message {message:?} should mention {mentions:?}");
        }
    }
    // The server must still be healthy.
    let ok = peer.modern("tools/list", json!({}), json!({}));
    assert!(ok.pointer("/result/tools").is_some(), "{name}: server did not recover: {ok}");
}

#[test]
fn every_bad_input_gets_its_specified_answer() {
    let mut peer = demo(&["--max-message-bytes", "65536"]);
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{{"name":"echo","arguments":{{"message":"{}"}}}}}}"#,
        "x".repeat(100_000)
    );
    let meta = modern_meta(json!({}));
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("malformed JSON", br#"{"jsonrpc":"2.0","id":1,"method":"#.to_vec(), Expect::Error { code: -32700, id: Value::Null, mentions: "parse error" }),
        ("jsonrpc 1.0", br#"{"jsonrpc":"1.0","id":2,"method":"ping"}"#.to_vec(), Expect::Error { code: -32600, id: json!(2), mentions: "2.0" }),
        ("null id", br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#.to_vec(), Expect::Error { code: -32600, id: Value::Null, mentions: "null" }),
        (
            "unknown method",
            json!({"jsonrpc":"2.0","id":"u1","method":"tools/frobnicate","params":{"_meta": meta}}).to_string().into_bytes(),
            Expect::Error { code: -32601, id: json!("u1"), mentions: "tools/frobnicate" },
        ),
        (
            "wrong param type",
            json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"_meta": meta, "name": 5}}).to_string().into_bytes(),
            Expect::Error { code: -32602, id: json!(4), mentions: "params.name" },
        ),
        (
            "wrong nested param type",
            json!({"jsonrpc":"2.0","id":5,"method":"tools/list","params":{"_meta": meta, "cursor": {"page": 2}}}).to_string().into_bytes(),
            Expect::Error { code: -32602, id: json!(5), mentions: "params.cursor" },
        ),
        ("oversized message", big.into_bytes(), Expect::Error { code: -32600, id: Value::Null, mentions: "65536" }),
        ("10 000 levels of nesting", deep.into_bytes(), Expect::Error { code: -32600, id: Value::Null, mentions: "deeper" }),
        ("invalid UTF-8", b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"p\xffng\"}".to_vec(), Expect::Error { code: -32700, id: Value::Null, mentions: "UTF-8" }),
        (
            "batch outside 2025-03-26",
            br#"[{"jsonrpc":"2.0","id":8,"method":"ping"},{"jsonrpc":"2.0","id":9,"method":"ping"}]"#.to_vec(),
            Expect::Error { code: -32600, id: Value::Null, mentions: "batch" },
        ),
        ("not an object", b"42".to_vec(), Expect::Error { code: -32600, id: Value::Null, mentions: "object" }),
        (
            "invalid cursor",
            json!({"jsonrpc":"2.0","id":10,"method":"tools/list","params":{"_meta": meta, "cursor": "bm90LWEtY3Vyc29y"}}).to_string().into_bytes(),
            Expect::Error { code: -32602, id: json!(10), mentions: "cursor" },
        ),
        (
            "unsupported protocol version",
            json!({"jsonrpc":"2.0","id":11,"method":"tools/list","params":{"_meta": {"io.modelcontextprotocol/protocolVersion": "v999.0.0", "io.modelcontextprotocol/clientCapabilities": {}}}}).to_string().into_bytes(),
            Expect::Error { code: -32022, id: json!(11), mentions: "v999.0.0" },
        ),
        (
            "missing client capabilities",
            json!({"jsonrpc":"2.0","id":12,"method":"server/discover","params":{"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}}).to_string().into_bytes(),
            Expect::Error { code: -32602, id: json!(12), mentions: "clientCapabilities" },
        ),
        (
            "missing _meta and no session",
            br#"{"jsonrpc":"2.0","id":13,"method":"tools/list"}"#.to_vec(),
            Expect::Error { code: -32602, id: json!(13), mentions: "initialize" },
        ),
        (
            "duplicate in-flight id",
            // The first request holds id 14 while the second arrives.
            format!(
                "{}\n{}",
                json!({"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"_meta": meta, "name": "slow", "arguments": {"ms": 400}}}),
                json!({"jsonrpc":"2.0","id":14,"method":"tools/list","params":{"_meta": meta}})
            )
            .into_bytes(),
            Expect::Error { code: -32600, id: json!(14), mentions: "already in flight" },
        ),
    ];
    for (name, input, expect) in cases {
        check(&mut peer, name, &input, expect);
    }
    // The slow call from the duplicate-id case still completes normally.
    let done = peer.recv();
    assert_eq!(done.get("id"), Some(&json!(14)), "{done}");
    assert!(done.pointer("/result/content").is_some(), "{done}");
    assert!(peer.close(std::time::Duration::from_secs(5)).is_some_and(|s| s.success()), "clean exit on EOF");
}

#[test]
fn tool_argument_errors_are_tool_results_naming_the_path() {
    let mut peer = demo(&[]);
    let r = peer.modern("tools/call", json!({"name": "add", "arguments": {"a": "two", "b": 3}}), json!({}));
    assert_eq!(r.pointer("/result/isError"), Some(&json!(true)), "{r}");
    let text = r.pointer("/result/content/0/text").and_then(Value::as_str).unwrap_or_default();
    assert!(text.contains("/a") && text.contains("number"), "{text}");
    let r = peer.modern("tools/call", json!({"name": "add", "arguments": {"a": 1}}), json!({}));
    let text = r.pointer("/result/content/0/text").and_then(Value::as_str).unwrap_or_default();
    assert!(text.contains("\"b\""), "missing property named: {text}");
    let r = peer.modern("tools/call", json!({"name": "nope", "arguments": {}}), json!({}));
    assert_eq!(r.pointer("/error/code"), Some(&json!(-32602)), "{r}");
}

#[test]
fn batches_work_in_a_2025_03_26_session_only() {
    let mut peer = demo(&[]);
    peer.initialize(ProtocolVersion::V2025_03_26, json!({}));
    peer.send(&json!([
        {"jsonrpc":"2.0","id":"b1","method":"ping"},
        {"jsonrpc":"2.0","method":"notifications/message","params":{}},
        {"jsonrpc":"2.0","id":"b2","method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}
    ]));
    let answer = peer.recv();
    let items = answer.as_array().unwrap_or_else(|| panic!("expected a batch answer, got {answer}"));
    assert_eq!(items.len(), 2, "{answer}");
    assert!(items.iter().any(|i| i["id"] == "b1" && i["result"] == json!({})), "{answer}");
    assert!(items.iter().any(|i| i["id"] == "b2" && i["result"]["content"][0]["text"] == "hi"), "{answer}");
}

#[test]
fn batched_requests_finish_like_lone_ones_and_their_ids_can_be_reused() {
    let mut peer = demo(&[]);
    peer.initialize(ProtocolVersion::V2025_03_26, json!({}));
    // More batched requests than the connection ever lets run at once (256), reusing two ids:
    // each must leave the in-flight set when answered.
    for round in 0..300 {
        peer.send(&json!([
            {"jsonrpc":"2.0","id":"x","method":"ping"},
            {"jsonrpc":"2.0","id":"y","method":"tools/call","params":{"name":"echo","arguments":{"message": format!("r{round}")}}}
        ]));
        let answer = peer.recv();
        let items = answer.as_array().unwrap_or_else(|| panic!("round {round}: expected a batch answer, got {answer}"));
        assert_eq!(items.len(), 2, "round {round}: {answer}");
        assert!(items.iter().all(|i| i.get("result").is_some()), "round {round}: {answer}");
    }
    // A lone request reuses a batched id.
    peer.send(&json!({"jsonrpc":"2.0","id":"x","method":"ping"}));
    let lone = peer.recv();
    assert_eq!((lone["id"].clone(), lone["result"].clone()), (json!("x"), json!({})), "{lone}");
    // Two items of one batch may not share an id: the second is refused, the first runs.
    peer.send(&json!([
        {"jsonrpc":"2.0","id":"d","method":"ping"},
        {"jsonrpc":"2.0","id":"d","method":"ping"}
    ]));
    let answer = peer.recv();
    let items = answer.as_array().unwrap_or_else(|| panic!("expected a batch answer, got {answer}"));
    assert_eq!(items.len(), 2, "{answer}");
    assert_eq!(items.iter().filter(|i| i["result"] == json!({})).count(), 1, "{answer}");
    assert_eq!(items.iter().filter(|i| i["error"]["code"] == -32600).count(), 1, "{answer}");
}

#[test]
fn a_panicking_tool_becomes_an_internal_error() {
    let mut peer = demo(&[]);
    let r = peer.modern("tools/call", json!({"name": "panic", "arguments": {}}), json!({}));
    assert_eq!(r.pointer("/error/code"), Some(&json!(-32603)), "{r}");
    let r = peer.modern("tools/call", json!({"name": "echo", "arguments": {"message": "still here"}}), json!({}));
    assert_eq!(r.pointer("/result/content/0/text"), Some(&json!("still here")), "{r}");
}
