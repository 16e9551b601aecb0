//! Tasks in both shapes over stdio: legacy SEP-1686 (2025-11-25, `params.task`) and the modern
//! `io.modelcontextprotocol/tasks` extension. Every message is schema-checked by the harness
//! (the extension's messages against the modern base `Result`).

use std::time::Duration;

use serde_json::{json, Value};
use switchboard_protocol::ProtocolVersion;

use crate::demo;

#[test]
fn legacy_tasks_run_list_answer_and_cancel() {
    let mut peer = demo(&[]);
    let init = peer.initialize(ProtocolVersion::V2025_11_25, json!({}));
    assert!(init.pointer("/result/capabilities/tasks/requests/tools/call").is_some(), "{init}");
    let tools = peer.request("tools/list", json!({}));
    let slow = tools["result"]["tools"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "slow_compute"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(slow.pointer("/execution/taskSupport"), Some(&json!("optional")), "{slow}");

    let created = peer.request(
        "tools/call",
        json!({"name": "slow_compute", "arguments": {"seconds": 0.3, "label": "x"}, "task": {"ttl": 60000}}),
    );
    let id = created.pointer("/result/task/taskId").and_then(Value::as_str).expect("a task id").to_owned();
    assert_eq!(created.pointer("/result/task/status"), Some(&json!("working")), "{created}");
    let got = peer.request("tasks/get", json!({"taskId": id}));
    assert_eq!(got.pointer("/result/taskId"), Some(&json!(id)), "{got}");
    let result = peer.request("tasks/result", json!({"taskId": id}));
    assert_eq!(result.pointer("/result/content/0/text"), Some(&json!("computed x in 0.3 s")), "{result}");
    assert_eq!(result.pointer("/result/_meta/io.modelcontextprotocol~1related-task/taskId"), Some(&json!(id)));
    let list = peer.request("tasks/list", json!({}));
    assert!(
        list["result"]["tasks"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["taskId"] == id && t["status"] == "completed")),
        "{list}"
    );

    let long = peer.request("tools/call", json!({"name": "slow_compute", "arguments": {"seconds": 60}, "task": {}}));
    let long_id = long.pointer("/result/task/taskId").and_then(Value::as_str).expect("id").to_owned();
    let cancelled = peer.request("tasks/cancel", json!({"taskId": long_id}));
    assert_eq!(cancelled.pointer("/result/status"), Some(&json!("cancelled")), "{cancelled}");
    let again = peer.request("tasks/cancel", json!({"taskId": long_id}));
    assert_eq!(again.pointer("/error/code"), Some(&json!(-32602)), "a terminal task cannot be cancelled: {again}");
    let unknown = peer.request("tasks/get", json!({"taskId": "nope"}));
    assert_eq!(unknown.pointer("/error/code"), Some(&json!(-32602)));
    let required = peer.request("tools/call", json!({"name": "failing_job", "arguments": {}}));
    assert_eq!(
        required.pointer("/error/code"),
        Some(&json!(-32601)),
        "a task-only tool without params.task: {required}"
    );
}

#[test]
fn modern_tasks_park_for_input_and_settle() {
    let mut peer = demo(&[]);
    let caps = json!({"elicitation": {}, "extensions": {"io.modelcontextprotocol/tasks": {}}});
    let created =
        peer.modern("tools/call", json!({"name": "confirm_delete", "arguments": {"filename": "a.txt"}}), caps.clone());
    assert_eq!(created.pointer("/result/resultType"), Some(&json!("task")), "{created}");
    let id = created.pointer("/result/taskId").and_then(Value::as_str).expect("id").to_owned();
    let mut status = Value::Null;
    for _ in 0..50 {
        status = peer.modern("tasks/get", json!({"taskId": id}), caps.clone());
        if status.pointer("/result/status") == Some(&json!("input_required")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(status.pointer("/result/inputRequests/confirm/method"), Some(&json!("elicitation/create")), "{status}");
    let ack = peer.modern(
        "tasks/update",
        json!({"taskId": id, "inputResponses": {"confirm": {"action": "accept", "content": {"confirm": true}}}}),
        caps.clone(),
    );
    assert_eq!(ack.pointer("/result/resultType"), Some(&json!("complete")), "{ack}");
    for _ in 0..50 {
        status = peer.modern("tasks/get", json!({"taskId": id}), caps.clone());
        if status.pointer("/result/status") == Some(&json!("completed")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(status.pointer("/result/result/content/0/text"), Some(&json!("deleted a.txt")), "{status}");
    // Without the extension the same tools run inline, or are refused when they need a task.
    let inline = peer.modern("tools/call", json!({"name": "slow_compute", "arguments": {"seconds": 0}}), json!({}));
    assert_eq!(inline.pointer("/result/resultType"), Some(&json!("complete")), "{inline}");
    let refused = peer.modern("tools/call", json!({"name": "failing_job", "arguments": {}}), json!({}));
    assert_eq!(refused.pointer("/error/code"), Some(&json!(-32021)), "{refused}");
    let gated = peer.modern("tasks/get", json!({"taskId": id}), json!({}));
    assert_eq!(gated.pointer("/error/code"), Some(&json!(-32021)), "{gated}");
}

#[test]
fn a_panicking_task_fails_and_a_clients_ttl_is_capped() {
    let mut peer = demo(&[]);
    peer.initialize(ProtocolVersion::V2025_11_25, json!({}));
    let created = peer.request("tools/call", json!({"name": "panic", "arguments": {}, "task": {"ttl": 60000}}));
    let id = created.pointer("/result/task/taskId").and_then(Value::as_str).expect("a task id").to_owned();
    let mut status = Value::Null;
    for _ in 0..100 {
        status = peer.request("tasks/get", json!({"taskId": id}));
        if status.pointer("/result/status") != Some(&json!("working")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(status.pointer("/result/status"), Some(&json!("failed")), "a panicked task fails: {status}");
    let result = peer.request("tasks/result", json!({"taskId": id}));
    assert_eq!(result.pointer("/error/code"), Some(&json!(-32603)), "{result}");
    assert!(
        result.pointer("/error/message").and_then(Value::as_str).is_some_and(|m| m.contains("panicked")),
        "{result}"
    );

    // A client may not keep a task around for a year: the time to live is capped at an hour.
    let long = peer.request(
        "tools/call",
        json!({"name": "slow_compute", "arguments": {"seconds": 0.1}, "task": {"ttl": 31_536_000_000u64}}),
    );
    assert_eq!(long.pointer("/result/task/ttl"), Some(&json!(3_600_000)), "{long}");
}
