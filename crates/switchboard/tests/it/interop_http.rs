//! Interop over HTTP with software we did not write: the Python SDK (2.x modern and legacy
//! Streamable HTTP with progress; 1.x over the 2024-11-05 `/sse` transport), the TypeScript SDK
//! (1.x legacy, 2.x modern) and the Inspector CLI (`--transport http`, both eras). Every message
//! our server sent is recorded with `--wire-log` and checked against the schema afterwards.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use switchboard_testkit::process::ServerProcess;
use switchboard_testkit::repo_root;

use crate::interop::{assert_clean_log, peers, run, scratch};
use crate::switchboard_bin;

fn server(log: &Path) -> ServerProcess {
    let log = log.to_string_lossy().into_owned();
    ServerProcess::spawn(
        &switchboard_bin(),
        &["serve", "--demo", "--listen", "127.0.0.1:0", "--log-level", "info", "--wire-log", &log],
    )
}

fn progress_count(out: &Value) -> usize {
    out["progress"].as_array().map_or(0, Vec::len)
}

fn python(venv: &str, args: &[&str]) -> Value {
    let mut cmd = Command::new(peers().join(venv).join("bin/python"));
    cmd.arg(repo_root().join("tests/interop/py_client.py")).args(args).args(["--timeout", "30"]);
    run(cmd, &format!("the Python SDK client ({venv}) {args:?}"))
}

fn node_client(args: &[&str]) -> Value {
    let mut cmd = Command::new(peers().join("node22/bin/node"));
    cmd.arg(repo_root().join("tests/interop/ts_client.mjs")).args(args);
    run(cmd, &format!("the TypeScript SDK client {args:?}"))
}

#[test]
fn python_sdk_over_streamable_http_in_both_eras_with_progress() {
    for (era, want) in [("legacy", "legacy"), ("auto", "modern")] {
        let log = scratch(&format!("py2-http-{era}.jsonl"));
        let srv = server(&log);
        let out = python(
            "py2",
            &[
                "--http",
                &srv.mcp_url(),
                "--era",
                era,
                "--call",
                "test_tool_with_progress",
                "--progress",
                "--read",
                "test://static-text",
            ],
        );
        assert_eq!(out["era"], want, "{out}");
        assert_eq!(out["call"]["content"][0]["text"], "Progress complete", "{out}");
        assert_eq!(progress_count(&out), 3, "progress notifications reached the client: {out}");
        assert_eq!(out["read"][0]["text"], "This is the content of the static text resource.");
        drop(srv);
        assert_clean_log(&log, "tools/call");
    }
}

#[test]
fn an_old_http_sse_client_connects_via_sse() {
    let log = scratch("py1-sse.jsonl");
    let srv = server(&log);
    let out = python(
        "py1",
        &["--sse", &format!("{}/sse", srv.base), "--call", "echo", "--args", r#"{"message": "old client"}"#],
    );
    assert_eq!(out["era"], "legacy", "{out}");
    assert_eq!(out["call"]["content"][0]["text"], "old client", "{out}");
    drop(srv);
    assert_clean_log(&log, "initialize");
}

#[test]
fn typescript_sdk_over_streamable_http() {
    let log = scratch("ts-v1-http.jsonl");
    let srv = server(&log);
    let out = node_client(&[
        "--http",
        &srv.mcp_url(),
        "--call",
        "test_tool_with_progress",
        "--progress",
        "--read",
        "test://static-text",
    ]);
    assert_eq!(out["era"], "legacy", "{out}");
    assert_eq!(out["call"]["content"][0]["text"], "Progress complete", "{out}");
    assert_eq!(progress_count(&out), 3, "{out}");
    let tools: Vec<&str> =
        out["tools"].as_array().map(|t| t.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    assert!(tools.contains(&"add"), "{out}");
    drop(srv);
    assert_clean_log(&log, "tools/call");

    let log = scratch("ts-v2-http.jsonl");
    let srv = server(&log);
    let out = node_client(&[
        "--sdk",
        "v2",
        "--era",
        "auto",
        "--http",
        &srv.mcp_url(),
        "--call",
        "add",
        "--args",
        r#"{"a": 2, "b": 3}"#,
        "--progress",
    ]);
    assert_eq!(out["era"], "modern", "{out}");
    assert_eq!(out["call"]["structuredContent"]["sum"], 5.0, "{out}");
    drop(srv);
    assert_clean_log(&log, "server/discover");
}

#[test]
fn inspector_cli_over_http_in_both_eras() {
    for era in ["legacy", "modern"] {
        let log = scratch(&format!("inspector-http-{era}.jsonl"));
        let srv = server(&log);
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("tests/interop/inspector.sh"))
            .args([
                "--era",
                era,
                "--http",
                &srv.mcp_url(),
                "--method",
                "tools/call",
                "--tool-name",
                "echo",
                "--tool-arg",
                "message=via http",
            ])
            .env("INSPECTOR_HOME", scratch("inspector-home"));
        let out = run(cmd, &format!("the Inspector CLI over HTTP ({era})"));
        assert_eq!(out["result"]["content"][0]["text"], "via http", "{era}: {out}");
        drop(srv);
        assert_clean_log(&log, "tools/call");
    }
}
