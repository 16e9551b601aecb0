//! The official conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! `scripts/install-peers.sh`) against `conformance-server`, for both required spec versions.
//! No expected-failures file: every scored scenario must pass.

use std::path::PathBuf;
use std::process::Command;

use switchboard_testkit::process::ServerProcess;

use crate::interop::peers;

fn run_suite(requirements: &str) {
    let server = ServerProcess::spawn(
        &PathBuf::from(env!("CARGO_BIN_EXE_conformance-server")),
        &["--listen", "127.0.0.1:0", "--log-level", "info"],
    );
    let node = peers().join("node22/bin/node");
    let suite = peers().join("node/node_modules/@modelcontextprotocol/conformance/dist/index.js");
    let out = Command::new(&node)
        .arg(&suite)
        .args(["server", "--url", &server.mcp_url(), "--requirements", requirements])
        .current_dir(peers().join("node"))
        .output()
        .expect("running the conformance suite");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> =
        stdout.lines().filter(|l| l.starts_with('✗') || l.starts_with("Total") || l.contains("Not scored")).collect();
    eprintln!("conformance {requirements}:\n{}", summary.join("\n"));
    assert!(
        out.status.success(),
        "conformance --requirements {requirements} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn official_conformance_suite_2026_07_28() {
    run_suite("2026-07-28");
}

#[test]
fn official_conformance_suite_2025_11_25() {
    run_suite("2025-11-25");
}
