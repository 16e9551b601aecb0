//! Limits on what SQL reads: a tool's `max_rows`, a resource's and a completion's row caps are
//! applied while rows stream from the database, so an enormous result set is never loaded.

use serde_json::{json, Value};
use switchboard_protocol::ProtocolVersion;
use switchboard_testkit::peer::StdioPeer;

use crate::interop::scratch;
use crate::switchboard_bin;

/// Fifty million rows: loading them would take far longer than the tool's 5 s limit.
const HUGE: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000000)";

fn server() -> StdioPeer {
    let data = scratch("sql-limits");
    std::fs::create_dir_all(&data).expect("a scratch directory");
    let config = data.join("limits.yaml");
    let yaml = format!(
        r#"server: {{name: limits}}
sources:
  db: {{kind: sqlite, path: limits.db}}
tools:
  numbers:
    description: Counts.
    source: db
    statements:
      - sql: "{HUGE} SELECT i FROM n"
    max_rows: 5
    timeout_ms: 5000
  first_number:
    description: The first count.
    source: db
    statements:
      - sql: "{HUGE} SELECT i FROM n"
    result: one
    timeout_ms: 5000
resource_templates:
  - uri_template: numbers://{{from}}
    name: numbers
    description: Counting from a number.
    source: db
    sql: "{HUGE} SELECT i + CAST(:from AS INTEGER) AS i FROM n"
"#
    );
    std::fs::write(&config, yaml).expect("the config is written");
    StdioPeer::spawn(
        &switchboard_bin(),
        &[
            "serve",
            "--stdio",
            "--config",
            &config.to_string_lossy(),
            "--data-dir",
            &data.to_string_lossy(),
            "--log-level",
            "warn",
        ],
    )
}

#[test]
fn huge_result_sets_stop_at_their_cap_instead_of_loading() {
    let mut peer = server();
    let r = peer.modern("tools/call", json!({"name": "numbers", "arguments": {}}), json!({}));
    let out = &r["result"]["structuredContent"];
    assert_eq!(out["rows"].as_array().map(Vec::len), Some(5), "{r}");
    assert_eq!(out["truncated"], true, "{r}");
    assert_eq!(out["rows"][4]["i"], 5);
    let r = peer.modern("tools/call", json!({"name": "first_number", "arguments": {}}), json!({}));
    assert_eq!(r["result"]["structuredContent"]["i"], 1, "{r}");

    peer.initialize(ProtocolVersion::V2025_06_18, json!({}));
    let r = peer.request("resources/read", json!({"uri": "numbers://10"}));
    let text = r["result"]["contents"][0]["text"].as_str().unwrap_or_default();
    let rows: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {r}"));
    assert_eq!(rows.as_array().map(Vec::len), Some(1000), "a resource returns at most 1000 rows");
    assert_eq!(rows[0]["i"], 11);
}
