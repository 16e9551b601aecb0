//! The README's promises: its calculator is the example we build, and it runs over stdio.

use std::path::PathBuf;

use serde_json::json;
use switchboard_protocol::ProtocolVersion;
use switchboard_testkit::peer::StdioPeer;
use switchboard_testkit::repo_root;

fn example(name: &str) -> PathBuf {
    // Examples land beside the test binary's directory: target/<profile>/examples.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let path = profile_dir.join("examples").join(name);
    assert!(path.is_file(), "{} is missing: `cargo test --workspace` builds examples", path.display());
    path
}

#[test]
fn the_readme_calculator_is_the_built_example() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let source = std::fs::read_to_string(repo_root().join("crates/mcp/examples/calculator.rs")).expect("example");
    assert!(readme.contains(&source), "README.md must quote crates/mcp/examples/calculator.rs verbatim");
}

#[test]
fn the_readme_calculator_serves_both_eras_over_stdio() {
    let mut peer = StdioPeer::spawn(&example("calculator"), &[]);
    let r = peer.modern("tools/call", json!({"name": "add", "arguments": {"a": 2, "b": 3}}), json!({}));
    assert_eq!(r.pointer("/result/content/0/text"), Some(&json!("5")), "{r}");
    let r = peer.modern("tools/call", json!({"name": "divide", "arguments": {"a": 1, "b": 0}}), json!({}));
    assert_eq!(r.pointer("/result/isError"), Some(&json!(true)), "{r}");
    peer.initialize(ProtocolVersion::V2025_06_18, json!({}));
    let r = peer.request("tools/call", json!({"name": "divide", "arguments": {"a": 1, "b": 4}}));
    assert_eq!(r.pointer("/result/content/0/text"), Some(&json!("0.25")), "{r}");
    assert!(peer.close(std::time::Duration::from_secs(5)).is_some_and(|s| s.success()));
}
