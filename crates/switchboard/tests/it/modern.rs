//! The modern era (2026-07-28) over stdio: stateless requests served from their own `_meta`.

use std::time::Duration;

use serde_json::{json, Value};
use switchboard_testkit::peer::modern_meta;

use crate::demo;

fn text(r: &Value) -> String {
    r.pointer("/result/content/0/text").and_then(Value::as_str).unwrap_or_default().to_owned()
}

#[test]
fn discover_and_lists_carry_result_type_cache_hints_and_server_info() {
    let mut peer = demo(&[]);
    let d = peer.modern("server/discover", json!({}), json!({}));
    assert_eq!(d.pointer("/result/supportedVersions"), Some(&json!(["2026-07-28"])), "{d}");
    assert_eq!(d.pointer("/result/resultType"), Some(&json!("complete")));
    assert!(d.pointer("/result/capabilities/tools").is_some());
    assert_eq!(d.pointer("/result/_meta/io.modelcontextprotocol~1serverInfo/name"), Some(&json!("switchboard-demo")));
    for method in ["tools/list", "resources/list", "resources/templates/list", "prompts/list"] {
        let r = peer.modern(method, json!({}), json!({}));
        assert!(r.pointer("/result/ttlMs").and_then(Value::as_u64).is_some(), "{method}: {r}");
        assert_eq!(r.pointer("/result/cacheScope"), Some(&json!("public")), "{method}: {r}");
    }
    let read = peer.modern("resources/read", json!({"uri": "test://static-text"}), json!({}));
    assert_eq!(read.pointer("/result/cacheScope"), Some(&json!("private")), "{read}");
    // Deterministic order: the same list twice.
    let a = peer.modern("tools/list", json!({}), json!({}));
    let b = peer.modern("tools/list", json!({}), json!({}));
    assert_eq!(a["result"]["tools"], b["result"]["tools"]);
    assert_eq!(a.pointer("/result/tools/0/name"), Some(&json!("echo")));
}

#[test]
fn tools_resources_prompts_and_completion() {
    let mut peer = demo(&[]);
    let r = peer.modern("tools/call", json!({"name": "add", "arguments": {"a": 2, "b": 3.5}}), json!({}));
    assert_eq!(r.pointer("/result/structuredContent"), Some(&json!({"sum": 5.5})), "{r}");
    let tools = peer.modern("tools/list", json!({}), json!({}));
    let add = tools["result"]["tools"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "add"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(add.pointer("/outputSchema/properties/sum/type"), Some(&json!("number")), "{add}");
    assert_eq!(add.pointer("/annotations/readOnlyHint"), Some(&json!(true)));
    let schema_tool = tools["result"]["tools"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "json_schema_2020_12_tool"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        schema_tool.pointer("/inputSchema/$defs/address/$anchor"),
        Some(&json!("addr")),
        "schemas pass through verbatim"
    );

    let r = peer.modern(
        "tools/call",
        json!({"name": "json_schema_2020_12_tool", "arguments": {"kind": "org", "name": "x"}}),
        json!({}),
    );
    assert_eq!(r.pointer("/result/isError"), Some(&json!(true)), "if/then requires orgId: {r}");

    let r = peer.modern("resources/read", json!({"uri": "test://template/42/data"}), json!({}));
    assert!(
        r.pointer("/result/contents/0/text").and_then(Value::as_str).unwrap_or_default().contains("Data for ID: 42"),
        "{r}"
    );
    let r = peer.modern("resources/read", json!({"uri": "test://static-binary"}), json!({}));
    assert!(r.pointer("/result/contents/0/blob").is_some(), "{r}");
    let r = peer.modern("resources/read", json!({"uri": "test://missing"}), json!({}));
    assert_eq!(r.pointer("/error/code"), Some(&json!(-32602)), "{r}");
    assert_eq!(r.pointer("/error/data/uri"), Some(&json!("test://missing")));

    let r = peer.modern(
        "prompts/get",
        json!({"name": "test_prompt_with_arguments", "arguments": {"arg1": "x", "arg2": "y"}}),
        json!({}),
    );
    assert!(
        r.pointer("/result/messages/0/content/text").and_then(Value::as_str).unwrap_or_default().contains("arg1='x'"),
        "{r}"
    );
    let r = peer.modern(
        "prompts/get",
        json!({"name": "test_prompt_with_arguments", "arguments": {"arg1": "x"}}),
        json!({}),
    );
    assert_eq!(r.pointer("/error/code"), Some(&json!(-32602)), "missing argument: {r}");
    let r = peer.modern(
        "completion/complete",
        json!({"ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"}, "argument": {"name": "arg1", "value": "par"}}),
        json!({}),
    );
    assert_eq!(r.pointer("/result/completion/values"), Some(&json!(["paris", "park", "parrot"])), "{r}");
}

#[test]
fn capabilities_are_checked_per_request() {
    let mut peer = demo(&[]);
    let r = peer.modern("tools/call", json!({"name": "test_missing_capability", "arguments": {}}), json!({}));
    assert_eq!(r.pointer("/error/code"), Some(&json!(-32021)), "{r}");
    assert_eq!(r.pointer("/error/data/requiredCapabilities/sampling"), Some(&json!({})));
    // Declaring it on the next request is enough: nothing is remembered between requests.
    let r =
        peer.modern("tools/call", json!({"name": "test_missing_capability", "arguments": {}}), json!({"sampling": {}}));
    assert_eq!(r.pointer("/result/resultType"), Some(&json!("input_required")), "{r}");
    let r = peer.modern("tools/call", json!({"name": "test_missing_capability", "arguments": {}}), json!({}));
    assert_eq!(r.pointer("/error/code"), Some(&json!(-32021)), "{r}");
}

#[test]
fn input_required_round_trip_with_sealed_state() {
    let mut peer = demo(&[]);
    let caps = json!({"elicitation": {}});
    let first = peer.modern(
        "tools/call",
        json!({"name": "test_input_required_result_request_state", "arguments": {}}),
        caps.clone(),
    );
    assert_eq!(first.pointer("/result/resultType"), Some(&json!("input_required")), "{first}");
    assert_eq!(first.pointer("/result/inputRequests/confirm/method"), Some(&json!("elicitation/create")));
    let state = first.pointer("/result/requestState").and_then(Value::as_str).expect("requestState").to_owned();
    let answers = json!({"confirm": {"action": "accept", "content": {"confirm": true}}});
    let done = peer.modern(
        "tools/call",
        json!({"name": "test_input_required_result_request_state", "arguments": {}, "inputResponses": answers, "requestState": state}),
        caps.clone(),
    );
    assert_eq!(text(&done), "Confirmed with state-ok", "{done}");

    // Tampered, misdirected or malformed state is refused.
    let tampered = format!("{state}-TAMPERED");
    let r = peer.modern(
        "tools/call",
        json!({"name": "test_input_required_result_request_state", "arguments": {}, "inputResponses": answers, "requestState": tampered}),
        caps.clone(),
    );
    assert_eq!(r.pointer("/error/code"), Some(&json!(-32602)), "{r}");
    let r = peer.modern(
        "tools/call",
        json!({"name": "test_input_required_result_tampered_state", "arguments": {}, "inputResponses": answers, "requestState": state}),
        caps.clone(),
    );
    assert_eq!(r.pointer("/error/code"), Some(&json!(-32602)), "state bound to another tool: {r}");
    let r = peer.modern(
        "tools/call",
        json!({"name": "test_input_required_result_elicitation", "arguments": {}, "inputResponses": {"user_name": 12345}}),
        caps.clone(),
    );
    assert!(r.get("error").is_some() || r.pointer("/result/resultType") == Some(&json!("input_required")), "{r}");

    // Multi-round: the second round finds the first round's answer in the sealed state.
    let r1 = peer.modern(
        "tools/call",
        json!({"name": "test_input_required_result_multi_round", "arguments": {}}),
        caps.clone(),
    );
    let r2 = peer.modern(
        "tools/call",
        json!({"name": "test_input_required_result_multi_round", "arguments": {},
               "inputResponses": {"step1": {"action": "accept", "content": {"name": "Ada"}}},
               "requestState": r1["result"]["requestState"]}),
        caps.clone(),
    );
    assert!(r2.pointer("/result/inputRequests/step2").is_some(), "{r2}");
    let r3 = peer.modern(
        "tools/call",
        json!({"name": "test_input_required_result_multi_round", "arguments": {},
               "inputResponses": {"step2": {"action": "accept", "content": {"color": "teal"}}},
               "requestState": r2["result"]["requestState"]}),
        caps,
    );
    assert_eq!(text(&r3), "Ada likes teal", "{r3}");
}

#[test]
fn progress_is_strictly_increasing_and_logs_need_opt_in() {
    let mut peer = demo(&[]);
    let mut meta = modern_meta(json!({}));
    meta["progressToken"] = json!("p-1");
    let r = peer.request("tools/call", json!({"name": "test_tool_with_progress", "arguments": {}, "_meta": meta}));
    assert_eq!(text(&r), "Progress complete");
    let progress: Vec<f64> = peer
        .notifications
        .drain(..)
        .filter(|n| n["method"] == "notifications/progress")
        .inspect(|n| assert_eq!(n["params"]["progressToken"], "p-1"))
        .filter_map(|n| n["params"]["progress"].as_f64())
        .collect();
    assert_eq!(progress, vec![0.0, 50.0, 100.0]);

    peer.modern("tools/call", json!({"name": "test_logging_tool", "arguments": {}}), json!({}));
    assert!(peer.notifications.drain(..).all(|n| n["method"] != "notifications/message"), "no logs without logLevel");
    let mut meta = modern_meta(json!({}));
    meta["io.modelcontextprotocol/logLevel"] = json!("warning");
    peer.request("tools/call", json!({"name": "test_logging_tool", "arguments": {}, "_meta": meta}));
    let levels: Vec<Value> = peer
        .notifications
        .drain(..)
        .filter(|n| n["method"] == "notifications/message")
        .map(|n| n["params"]["level"].clone())
        .collect();
    assert_eq!(levels, vec![json!("warning"), json!("error")]);
}

#[test]
fn slow_calls_do_not_block_and_cancellation_silences_the_request() {
    let mut peer = demo(&[]);
    let meta = modern_meta(json!({}));
    peer.send(&json!({"jsonrpc": "2.0", "id": "slow", "method": "tools/call", "params": {"_meta": meta, "name": "slow", "arguments": {"ms": 60000}}}));
    // A later request is answered while the slow one runs.
    let r = peer.modern("tools/call", json!({"name": "echo", "arguments": {"message": "fast"}}), json!({}));
    assert_eq!(text(&r), "fast");
    peer.send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "slow", "reason": "test"}}));
    // Nothing more is sent for the cancelled request.
    let r = peer.modern("tools/call", json!({"name": "echo", "arguments": {"message": "after"}}), json!({}));
    assert_eq!(text(&r), "after");
    assert!(peer.notifications.iter().all(|n| n.get("id") != Some(&json!("slow"))), "{:?}", peer.notifications);
    assert!(peer.try_recv(Duration::from_millis(300)).is_none(), "no response to a cancelled request");
}

#[test]
fn requests_time_out_unless_they_report_progress() {
    let mut peer = demo(&["--request-timeout", "1"]);
    let r = peer.modern("tools/call", json!({"name": "slow", "arguments": {"ms": 5000}}), json!({}));
    assert_eq!(r.pointer("/error/code"), Some(&json!(-32603)), "{r}");
    assert_eq!(r.pointer("/error/data/reason"), Some(&json!("timeout")));
    // Progress every 500 ms keeps a 2.5 s call alive under a 1 s idle timeout.
    let mut meta = modern_meta(json!({}));
    meta["progressToken"] = json!(7);
    let r = peer.request("tools/call", json!({"name": "slow", "arguments": {"ms": 2500, "steps": 5}, "_meta": meta}));
    assert_eq!(text(&r), "worked 2500 ms", "{r}");
}

#[test]
fn listen_acknowledges_then_delivers_only_what_was_asked() {
    let mut peer = demo(&[]);
    let meta = modern_meta(json!({}));
    peer.send(&json!({"jsonrpc": "2.0", "id": "L1", "method": "subscriptions/listen",
        "params": {"_meta": meta, "notifications": {"promptsListChanged": true}}}));
    let ack = peer.recv();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged", "{ack}");
    assert_eq!(ack.pointer("/params/_meta/io.modelcontextprotocol~1subscriptionId"), Some(&json!("L1")));
    assert_eq!(ack.pointer("/params/notifications"), Some(&json!({"promptsListChanged": true})));
    peer.modern("tools/call", json!({"name": "test_trigger_tool_change", "arguments": {}}), json!({}));
    peer.modern("tools/call", json!({"name": "test_trigger_prompt_change", "arguments": {}}), json!({}));
    let mut seen: Vec<Value> = peer.notifications.drain(..).collect();
    if let Some(more) = peer.try_recv(Duration::from_millis(300)) {
        seen.push(more);
    }
    let methods: Vec<&str> = seen.iter().filter_map(|n| n["method"].as_str()).collect();
    assert_eq!(methods, vec!["notifications/prompts/list_changed"], "{seen:?}");
    assert_eq!(seen[0].pointer("/params/_meta/io.modelcontextprotocol~1subscriptionId"), Some(&json!("L1")));
    // Closing stdin ends the stream with its final result, then the process exits cleanly.
    let status = peer.close(Duration::from_secs(3));
    assert!(status.is_some_and(|s| s.success()), "prompt exit on EOF with an open listen stream");
}

#[test]
fn legacy_only_methods_are_not_found_in_the_modern_era() {
    let mut peer = demo(&[]);
    for method in ["initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"] {
        let r = peer.modern(method, json!({}), json!({}));
        assert_eq!(r.pointer("/error/code"), Some(&json!(-32601)), "{method}: {r}");
    }
}

#[test]
fn listen_delivers_subscribed_resource_updates_tagged_with_the_subscription() {
    let mut peer = demo(&[]);
    let meta = modern_meta(json!({}));
    peer.send(&json!({"jsonrpc": "2.0", "id": 77, "method": "subscriptions/listen",
        "params": {"_meta": meta, "notifications": {"toolsListChanged": true, "resourceSubscriptions": ["test://watched-resource"]}}}));
    let ack = peer.recv();
    assert_eq!(ack.pointer("/params/_meta/io.modelcontextprotocol~1subscriptionId"), Some(&json!(77)), "{ack}");
    peer.modern(
        "tools/call",
        json!({"name": "test_trigger_resource_update", "arguments": {"uri": "test://watched-resource"}}),
        json!({}),
    );
    peer.modern(
        "tools/call",
        json!({"name": "test_trigger_resource_update", "arguments": {"uri": "test://other"}}),
        json!({}),
    );
    peer.modern("tools/call", json!({"name": "test_trigger_tool_change", "arguments": {}}), json!({}));
    let mut seen: Vec<Value> = peer.notifications.drain(..).collect();
    while let Some(more) = peer.try_recv(Duration::from_millis(300)) {
        seen.push(more);
    }
    let methods: Vec<&str> = seen.iter().filter_map(|n| n["method"].as_str()).collect();
    assert_eq!(methods, vec!["notifications/resources/updated", "notifications/tools/list_changed"], "{seen:?}");
    assert!(seen
        .iter()
        .all(|n| n.pointer("/params/_meta/io.modelcontextprotocol~1subscriptionId") == Some(&json!(77))));
    // Cancelling the stream stops it: nothing more arrives, and no response is sent.
    peer.send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 77}}));
    peer.modern("tools/call", json!({"name": "test_trigger_tool_change", "arguments": {}}), json!({}));
    assert!(peer.notifications.drain(..).all(|n| n["method"] != "notifications/tools/list_changed"));
    assert!(peer.try_recv(Duration::from_millis(300)).is_none());
}

#[test]
fn in_flight_calls_finish_when_stdin_closes() {
    let mut peer = demo(&[]);
    let meta = modern_meta(json!({}));
    peer.send(&json!({"jsonrpc": "2.0", "id": "last", "method": "tools/call", "params": {"_meta": meta, "name": "slow", "arguments": {"ms": 300}}}));
    let answer = peer.close_input_and_drain(Duration::from_secs(5));
    assert!(
        answer.iter().any(|m| m["id"] == "last" && m["result"]["content"][0]["text"] == "worked 300 ms"),
        "{answer:?}"
    );
}
