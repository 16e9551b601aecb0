//! Interop with software we did not write: the official Python SDK clients (2.x, both eras;
//! 1.x, legacy) and the MCP Inspector CLI (legacy and modern), over stdio. Every message our
//! server sent is recorded with `--wire-log` and checked against the schema afterwards.
//!
//! The peers are installed by `scripts/install-peers.sh` into `.peers/` (or `$SWITCHBOARD_PEERS`);
//! `scripts/test.sh` does that first. A missing peer fails the test: it is never skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use switchboard_testkit::{repo_root, wire_log};

use crate::switchboard_bin;

/// A loopback port nobody listens on (for a server whose URL must be known before it starts).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

pub(crate) fn peers() -> PathBuf {
    let dir = std::env::var_os("SWITCHBOARD_PEERS").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".peers"));
    assert!(
        dir.is_dir(),
        "interop peers are missing at {}: run scripts/install-peers.sh (scripts/test.sh does)",
        dir.display()
    );
    dir
}

pub(crate) fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "switchboard-it-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(name)
}

/// The server command line a peer launches, recording the wire to `log`.
fn server_cmdline(log: &Path) -> String {
    format!("{} serve --stdio --demo --log-level warn --wire-log {}", switchboard_bin().display(), log.display())
}

pub(crate) fn run(mut cmd: Command, what: &str) -> Value {
    let out = cmd.output().unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed ({}):\nstdout: {stdout}\nstderr: {stderr}", out.status);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("{what} printed no JSON: {stdout}\n{stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{what} printed bad JSON {line}: {e}"))
}

pub(crate) fn assert_clean_log(log: &Path, must_see: &str) {
    let report = wire_log::check(log);
    assert!(report.checked > 0, "nothing was recorded in {}", log.display());
    assert!(report.violations.is_empty(), "schema violations in {}:\n{}", log.display(), report.violations.join("\n"));
    assert!(report.requests.iter().any(|m| m == must_see), "expected a {must_see} request, saw {:?}", report.requests);
}

fn python_client(venv: &str, era: &str, log: &Path) -> Value {
    let python = peers().join(venv).join("bin/python");
    let mut cmd = Command::new(&python);
    cmd.arg(repo_root().join("tests/interop/py_client.py"))
        .args(["--stdio", &server_cmdline(log), "--era", era])
        .args(["--call", "add", "--args", r#"{"a": 2, "b": 3}"#, "--read", "test://static-text", "--timeout", "30"]);
    run(cmd, &format!("the Python SDK client ({venv}, {era})"))
}

fn check_python(out: &Value, era: &str, version: &str) {
    assert_eq!(out["era"], era, "{out}");
    assert_eq!(out["protocol_version"], version, "{out}");
    let tools: Vec<&str> =
        out["tools"].as_array().map(|t| t.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    assert!(tools.contains(&"add") && tools.contains(&"echo"), "{out}");
    assert_eq!(out["call"]["isError"], false, "{out}");
    assert_eq!(out["call"]["content"][0]["text"], r#"{"sum":5.0}"#, "{out}");
    assert_eq!(out["read"][0]["text"], "This is the content of the static text resource.", "{out}");
}

#[test]
fn python_sdk_2_discovers_the_modern_era() {
    let log = scratch("py2-auto.jsonl");
    let out = python_client("py2", "auto", &log);
    check_python(&out, "modern", "2026-07-28");
    assert_eq!(out["call"]["structuredContent"]["sum"], 5.0, "{out}");
    assert_clean_log(&log, "server/discover");
}

#[test]
fn python_sdk_2_speaks_the_legacy_era() {
    let log = scratch("py2-legacy.jsonl");
    let out = python_client("py2", "legacy", &log);
    check_python(&out, "legacy", "2025-11-25");
    assert_clean_log(&log, "initialize");
}

#[test]
fn python_sdk_1_speaks_the_legacy_era() {
    let log = scratch("py1.jsonl");
    let out = python_client("py1", "auto", &log);
    check_python(&out, "legacy", "2025-11-25");
    assert_clean_log(&log, "initialize");
}

fn inspector(era: &str, log: &Path, args: &[&str]) -> Value {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("tests/interop/inspector.sh"))
        .args(["--era", era, "--stdio", &server_cmdline(log)])
        .args(args);
    cmd.env("INSPECTOR_HOME", scratch("inspector-home"));
    let _ = peers();
    run(cmd, &format!("the Inspector CLI ({era})"))
}

#[test]
fn inspector_cli_lists_and_calls_tools_in_both_eras() {
    for era in ["legacy", "modern"] {
        let log = scratch(&format!("inspector-{era}-list.jsonl"));
        let out = inspector(era, &log, &["--method", "tools/list"]);
        let names: Vec<&str> = out["result"]["tools"]
            .as_array()
            .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
            .unwrap_or_default();
        assert!(names.contains(&"echo"), "{era}: {out}");
        assert_clean_log(&log, if era == "modern" { "server/discover" } else { "initialize" });

        let log = scratch(&format!("inspector-{era}-call.jsonl"));
        let out = inspector(
            era,
            &log,
            &["--method", "tools/call", "--tool-name", "echo", "--tool-arg", "message=hello inspector"],
        );
        assert_eq!(out["result"]["content"][0]["text"], "hello inspector", "{era}: {out}");
        assert_clean_log(&log, "tools/call");
    }
}
