//! `switchboard bench` against the real server: a short run counts successes and no failures,
//! and a scenario the server must refuse (an unknown tool, a tool that reports `isError`) is
//! counted as failures, never as successes.

use std::process::Command;

use serde_json::Value;
use switchboard_testkit::process::ServerProcess;

use crate::switchboard_bin;

/// Runs `switchboard bench --json` with `args` and returns its report.
fn bench(args: &[&str]) -> Value {
    let out = Command::new(switchboard_bin())
        .arg("bench")
        .args(args)
        .args(["--json", "--log-level", "warn"])
        .output()
        .expect("running switchboard bench");
    assert!(out.status.success(), "bench failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bench printed no JSON report ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn counts(report: &Value) -> (u64, u64) {
    (report["ok"].as_u64().unwrap_or(0), report["failed"].as_u64().unwrap_or(u64::MAX))
}

#[test]
fn a_short_run_against_the_demo_server_succeeds_in_both_eras() {
    let srv = ServerProcess::spawn(
        &switchboard_bin(),
        &["serve", "--demo", "--listen", "127.0.0.1:0", "--log-level", "info"],
    );
    let url = srv.mcp_url();
    for era in ["modern", "legacy"] {
        let report = bench(&["--url", &url, "--era", era, "--connections", "4", "--duration", "1"]);
        let (ok, failed) = counts(&report);
        assert!(ok > 0 && failed == 0, "{era}: {report}");
        assert!(report["latency_ms"]["p99"].as_f64().is_some_and(|p| p > 0.0), "{report}");
    }
    let ws = format!("ws://{}/ws", srv.addr);
    let report = bench(&["--ws", &ws, "--scenario", "list", "--requests", "200", "--connections", "2"]);
    assert_eq!(counts(&report), (200, 0), "{report}");
}

#[test]
fn wrong_answers_are_counted_as_failures() {
    let srv = ServerProcess::spawn(
        &switchboard_bin(),
        &["serve", "--demo", "--listen", "127.0.0.1:0", "--log-level", "info"],
    );
    let url = srv.mcp_url();
    let report =
        bench(&["--url", &url, "--scenario", "call:no_such_tool:{}", "--requests", "50", "--connections", "2"]);
    assert_eq!(counts(&report), (0, 50), "{report}");
    assert_eq!(report["failures"]["rpc -32602"]["count"], 50, "{report}");

    // Arguments that fail the tool's inputSchema come back as an isError result.
    let report = bench(&["--url", &url, "--scenario", r#"call:add:{"a":"x"}"#, "--requests", "20"]);
    assert_eq!(counts(&report), (0, 20), "{report}");
    assert_eq!(report["failures"]["tool isError"]["count"], 20, "{report}");
}

#[test]
fn stdio_pipelines_requests_and_reports_the_child() {
    let bin = switchboard_bin();
    let cmd = format!("{} serve --stdio --demo --log-level warn", bin.display());
    let report = bench(&["--stdio", &cmd, "--connections", "8", "--requests", "500"]);
    assert_eq!(counts(&report), (500, 0), "{report}");
    assert!(report["server"]["rss_end_kib"].as_u64().is_some_and(|k| k > 0), "{report}");
}
