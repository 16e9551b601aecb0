//! Limits on what SQL reads: a tool's `max_rows`, a resource's and a completion's row caps are
//! applied while rows stream from the database, so an enormous result set is never loaded.

use serde_json::{json, Value};
use switchboard_protocol::ProtocolVersion;
use switchboard_testkit::peer::StdioPeer;

use crate::interop::scratch;
use crate::stdio_config;

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
    stdio_config(&config, &data)
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

/// A statement that would run for minutes is stopped by the database itself at the source's
/// `timeout_ms`, well before the call's own limit, on PostgreSQL and on MariaDB.
#[test]
fn the_database_stops_a_statement_at_the_sources_time_limit() {
    // Minutes of work each (MariaDB caps recursive CTEs at 1000 rounds: its sequence engine instead).
    let postgres_sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500000000) SELECT COUNT(*) AS c FROM n";
    let mariadb_sql = "SELECT SUM(a.seq * b.seq) AS c FROM seq_1_to_100000 a, seq_1_to_100000 b";
    for (kind, url, sql) in [
        ("postgres", "postgres://postgres@127.0.0.1:5432/test", postgres_sql),
        ("mysql", "mysql://root@127.0.0.1:3306/test", mariadb_sql),
    ] {
        let data = scratch(&format!("statement-timeout-{kind}"));
        std::fs::create_dir_all(&data).expect("a scratch directory");
        let config = data.join("slow.yaml");
        let yaml = format!(
            r#"server: {{name: slow}}
sources:
  db: {{kind: {kind}, url: "{url}", timeout_ms: 300}}
tools:
  count_a_lot:
    description: Counts very far.
    source: db
    statements:
      - sql: "{sql}"
    result: one
    timeout_ms: 60000
"#
        );
        std::fs::write(&config, yaml).expect("the config is written");
        let mut peer = stdio_config(&config, &data);
        let started = std::time::Instant::now();
        let r = peer.modern("tools/call", json!({"name": "count_a_lot", "arguments": {}}), json!({}));
        let took = started.elapsed();
        assert_eq!(r["result"]["isError"], true, "{kind}: {r}");
        assert!(took < std::time::Duration::from_secs(20), "{kind}: the statement ran {took:?}, past its 300 ms limit");
        let text = r["result"]["content"][0]["text"].as_str().unwrap_or_default().to_lowercase();
        assert!(
            text.contains("timeout") || text.contains("max_statement_time") || text.contains("interrupted"),
            "{kind}: {r}"
        );
    }
}
