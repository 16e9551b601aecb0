//! The legacy era over stdio: `initialize` sessions at every legacy revision, shaped to the
//! negotiated revision (the schema check in the harness proves the shape).

use serde_json::{json, Value};
use switchboard_protocol::ProtocolVersion;

use crate::demo;

#[test]
fn every_legacy_revision_negotiates_and_serves() {
    for version in [
        ProtocolVersion::V2024_11_05,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_11_25,
    ] {
        let mut peer = demo(&[]);
        let init = peer.initialize(version, json!({}));
        assert_eq!(init.pointer("/result/protocolVersion"), Some(&json!(version.as_str())), "{init}");
        assert_eq!(init.pointer("/result/serverInfo/name"), Some(&json!("switchboard-demo")));
        assert!(init.pointer("/result/resultType").is_none(), "no modern fields in legacy results");
        let tools = peer.request("tools/list", json!({}));
        assert!(tools.pointer("/result/ttlMs").is_none(), "{version}");
        let r = peer.request("tools/call", json!({"name": "add", "arguments": {"a": 1, "b": 2}}));
        if version >= ProtocolVersion::V2025_06_18 {
            assert_eq!(r.pointer("/result/structuredContent"), Some(&json!({"sum": 3.0})), "{r}");
        } else {
            assert!(r.pointer("/result/structuredContent").is_none(), "{version} has no structured output: {r}");
        }
        let r = peer.request("tools/call", json!({"name": "test_audio_content", "arguments": {}}));
        let kind = r.pointer("/result/content/0/type").cloned().unwrap_or_default();
        assert_eq!(kind, if version >= ProtocolVersion::V2025_03_26 { json!("audio") } else { json!("text") }, "{r}");
        let r = peer.request("resources/read", json!({"uri": "test://nowhere"}));
        assert_eq!(r.pointer("/error/code"), Some(&json!(-32002)), "{r}");
        assert_eq!(peer.request("ping", json!({})).get("result"), Some(&json!({})));
        assert_eq!(peer.request("logging/setLevel", json!({"level": "debug"})).get("result"), Some(&json!({})));
        assert_eq!(
            peer.request("resources/subscribe", json!({"uri": "test://watched-resource"})).get("result"),
            Some(&json!({}))
        );
        let r = peer.request("server/discover", json!({}));
        assert_eq!(r.pointer("/error/code"), Some(&json!(-32601)), "{r}");
        assert!(peer.close(std::time::Duration::from_secs(5)).is_some_and(|s| s.success()));
    }
}

#[test]
fn unknown_versions_get_the_newest_legacy_revision() {
    let mut peer = demo(&[]);
    let r = peer.request(
        "initialize",
        json!({"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}}),
    );
    assert_eq!(r.pointer("/result/protocolVersion"), Some(&json!("2025-11-25")), "{r}");
    let again = peer.request(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}}),
    );
    assert_eq!(again.pointer("/error/code"), Some(&json!(-32600)), "{again}");
}

#[test]
fn server_to_client_requests_in_a_legacy_session() {
    let mut peer = demo(&[]);
    peer.initialize(ProtocolVersion::V2025_11_25, json!({"sampling": {}, "elicitation": {}, "roots": {}}));
    peer.send(&json!({"jsonrpc": "2.0", "id": 50, "method": "tools/call", "params": {"name": "test_sampling", "arguments": {"prompt": "Capital of France?"}}}));
    let ask = peer.recv();
    assert_eq!(ask["method"], "sampling/createMessage", "{ask}");
    peer.send(&json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"role": "assistant", "content": {"type": "text", "text": "Paris"}, "model": "test-model"}}));
    let done = peer.response_to(&json!(50));
    assert_eq!(done.pointer("/result/content/0/text"), Some(&json!("LLM response: Paris")), "{done}");

    peer.send(&json!({"jsonrpc": "2.0", "id": 51, "method": "tools/call", "params": {"name": "test_elicitation", "arguments": {"message": "Name?"}}}));
    let ask = peer.recv();
    assert_eq!(ask["method"], "elicitation/create", "{ask}");
    peer.send(&json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"action": "accept", "content": {"name": "Ada"}}}));
    let done = peer.response_to(&json!(51));
    let text = done.pointer("/result/content/0/text").and_then(Value::as_str).unwrap_or_default();
    assert!(text.contains("Ada"), "{done}");

    // A client error to the server's request becomes a tool-level failure.
    peer.send(&json!({"jsonrpc": "2.0", "id": 52, "method": "tools/call", "params": {"name": "test_input_required_result_list_roots", "arguments": {}}}));
    let ask = peer.recv();
    assert_eq!(ask["method"], "roots/list", "{ask}");
    peer.send(&json!({"jsonrpc": "2.0", "id": ask["id"], "error": {"code": -32603, "message": "no roots here"}}));
    let done = peer.response_to(&json!(52));
    assert_eq!(done.pointer("/result/isError"), Some(&json!(true)), "{done}");

    // Log messages follow logging/setLevel.
    peer.request("logging/setLevel", json!({"level": "info"}));
    peer.request("tools/call", json!({"name": "test_tool_with_logging", "arguments": {}}));
    let logs = peer.notifications.iter().filter(|n| n["method"] == "notifications/message").count();
    assert_eq!(logs, 3);
}

#[test]
fn a_legacy_client_without_the_capability_gets_a_tool_error() {
    let mut peer = demo(&[]);
    peer.initialize(ProtocolVersion::V2025_06_18, json!({}));
    let r = peer.request("tools/call", json!({"name": "test_sampling", "arguments": {"prompt": "hi"}}));
    assert_eq!(r.pointer("/result/isError"), Some(&json!(true)), "{r}");
}

#[test]
fn legacy_subscriptions_deliver_resource_updates() {
    let mut peer = demo(&[]);
    peer.initialize(ProtocolVersion::V2025_11_25, json!({}));
    peer.request("resources/subscribe", json!({"uri": "test://watched-resource"}));
    peer.request(
        "tools/call",
        json!({"name": "test_trigger_resource_update", "arguments": {"uri": "test://static-text"}}),
    );
    peer.request(
        "tools/call",
        json!({"name": "test_trigger_resource_update", "arguments": {"uri": "test://watched-resource"}}),
    );
    peer.request("tools/call", json!({"name": "test_trigger_tool_change", "arguments": {}}));
    let mut seen: Vec<Value> = peer.notifications.drain(..).collect();
    while let Some(more) = peer.try_recv(std::time::Duration::from_millis(300)) {
        seen.push(more);
    }
    let updates: Vec<&Value> = seen.iter().filter(|n| n["method"] == "notifications/resources/updated").collect();
    assert_eq!(updates.len(), 1, "only the subscribed URI: {seen:?}");
    assert_eq!(updates[0]["params"]["uri"], "test://watched-resource");
    assert!(seen.iter().any(|n| n["method"] == "notifications/tools/list_changed"), "{seen:?}");
    peer.request("resources/unsubscribe", json!({"uri": "test://watched-resource"}));
    peer.request(
        "tools/call",
        json!({"name": "test_trigger_resource_update", "arguments": {"uri": "test://watched-resource"}}),
    );
    assert!(peer.notifications.drain(..).all(|n| n["method"] != "notifications/resources/updated"));
}
