//! What operators see of a call: its `X-Request-Id` echoed and in the audit row, calls refused
//! before any tool ran in the audit log too, traces exported over OTLP/HTTP to a collector on
//! loopback (the caller's `traceparent` continued, from the header or from `_meta`), and the
//! database and session metrics.

use std::time::Duration;

use serde_json::{json, Value};
use switchboard_testkit::http::HttpPeer;
use switchboard_testkit::process::ServerProcess;
use switchboard_testkit::repo_root;

use crate::guardrails::{audit_rows, get, shop_in, ADMIN, CUSTOMER, MINE};
use crate::interop::{peers, scratch};
use crate::{serve_config, switchboard_bin};

/// Waits until the audit log of `data` holds at least `n` rows matching `filter`.
async fn rows_at_least(data: &std::path::Path, filter: &[&str], n: usize) -> Vec<Value> {
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = audit_rows(data, filter);
        if rows.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rows
}

#[tokio::test]
async fn refused_calls_and_request_ids_reach_the_audit_log() {
    let data = scratch("audit-refusals");
    let srv = shop_in(&data);
    let peer = |id: &str| HttpPeer::new(srv.mcp_url()).with_api_key(CUSTOMER).with_header("x-request-id", id);

    // A staff-only tool answers a customer exactly like one that does not exist...
    let hidden = peer("req-denied-1")
        .modern("tools/call", json!({"name": "get_customer", "arguments": {"email": "a@b.c"}}), json!({}))
        .await;
    let unknown = peer("req-unknown-1").modern("tools/call", json!({"name": "no_such_tool"}), json!({})).await;
    assert_eq!(hidden.last()["error"]["message"], "unknown tool: get_customer", "{:?}", hidden.messages);
    assert_eq!(unknown.last()["error"]["message"], "unknown tool: no_such_tool");
    assert_eq!(hidden.headers.get("x-request-id").map(String::as_str), Some("req-denied-1"));
    let invalid = peer("req-invalid-1")
        .modern("tools/call", json!({"name": "get_order_status", "arguments": {"order_id": 42}}), json!({}))
        .await;
    assert_eq!(invalid.last()["result"]["isError"], true);
    // A request without an id gets one, echoed; an id unfit for logs is replaced.
    let mut plain = HttpPeer::new(srv.mcp_url()).with_api_key(CUSTOMER);
    let ok = plain
        .modern("tools/call", json!({"name": "get_order_status", "arguments": {"order_id": MINE}}), json!({}))
        .await;
    assert_eq!(ok.status, 200);
    let made = ok.headers.get("x-request-id").cloned().expect("an id is made up and echoed");
    assert!(made.len() == 32 && made.bytes().all(|b| b.is_ascii_hexdigit()), "{made}");
    let long = "x".repeat(300);
    let replaced = peer(&long).modern("tools/list", json!({}), json!({})).await;
    assert!(replaced.headers.get("x-request-id").is_some_and(|id| id.len() == 32), "{:?}", replaced.headers);

    // ...and the audit log tells them apart, each row under its request id.
    let rows = rows_at_least(&data, &["--principal", "CUST-0001"], 4).await;
    assert_eq!(rows.len(), 4, "{rows:#?}");
    let row = |id: &str| {
        rows.iter().find(|r| r["correlation_id"] == id).unwrap_or_else(|| panic!("no row for {id}: {rows:#?}"))
    };
    let outcome = |id: &str| (row(id)["tool"].clone(), row(id)["outcome"].clone(), row(id)["error_kind"].clone());
    assert_eq!(outcome("req-denied-1"), (json!("get_customer"), json!("denied"), json!("denied")));
    assert_eq!(outcome("req-unknown-1"), (json!("no_such_tool"), json!("error"), json!("unknown_tool")));
    assert_eq!(outcome("req-invalid-1"), (json!("get_order_status"), json!("error"), json!("invalid_arguments")));
    assert_eq!(outcome(&made), (json!("get_order_status"), json!("success"), Value::Null));
    // The refused call's arguments are kept as sent.
    assert_eq!(row("req-denied-1")["arguments"], r#"{"email":"a@b.c"}"#);
    let one = audit_rows(&data, &["--request-id", "req-invalid-1"]);
    assert_eq!(one.len(), 1, "{one:#?}");
}

/// The loopback OTLP receiver (`tests/interop/otlp_receiver.py`), killed on drop.
struct Collector {
    child: std::process::Child,
    port: u16,
    out: std::path::PathBuf,
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Collector {
    fn start(dir: &std::path::Path) -> Collector {
        std::fs::create_dir_all(dir).expect("a scratch directory");
        let (port_file, out) = (dir.join("otlp.port"), dir.join("spans.jsonl"));
        let child = std::process::Command::new(peers().join("py2/bin/python"))
            .arg(repo_root().join("tests/interop/otlp_receiver.py"))
            .arg("--port-file")
            .arg(&port_file)
            .arg("--out")
            .arg(&out)
            .spawn()
            .expect("the OTLP receiver starts (py2 peer venv with opentelemetry-proto)");
        // Killed on drop, whatever happens next.
        let mut collector = Collector { child, port: 0, out };
        for _ in 0..100 {
            if let Some(port) = std::fs::read_to_string(&port_file).ok().and_then(|p| p.trim().parse().ok()) {
                collector.port = port;
                return collector;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the OTLP receiver did not report its port");
    }

    fn spans(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

const T1: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const P1: &str = "00f067aa0ba902b7";
const T2: &str = "0af7651916cd43dd8448eb211c80319c";
const P2: &str = "b7ad6b7169203331";

#[tokio::test]
async fn traces_continue_the_callers_trace_and_reach_an_otlp_collector() {
    let data = scratch("otlp");
    let collector = Collector::start(&data);
    let config = repo_root().join("examples/shop/shop.yaml");
    let endpoint = format!("http://127.0.0.1:{}", collector.port);
    let mut srv = serve_config(
        &config,
        &data,
        &[
            ("SHOP_ADMIN_KEY", ADMIN),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SERVICE_NAME", "shop-under-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    let status = json!({"name": "get_order_status", "arguments": {"order_id": MINE}});
    // The trace in the HTTP header...
    let mut by_header = HttpPeer::new(srv.mcp_url())
        .with_api_key(ADMIN)
        .with_header("traceparent", format!("00-{T1}-{P1}-01"))
        .with_header("x-request-id", "traced-1");
    assert_eq!(by_header.modern("tools/call", status.clone(), json!({})).await.status, 200);
    // ...and in `_meta`, the MCP convention.
    let mut by_meta = HttpPeer::new(srv.mcp_url()).with_api_key(ADMIN);
    let meta = json!({"traceparent": format!("00-{T2}-{P2}-01")});
    assert_eq!(by_meta.modern_with_meta("tools/call", status, json!({}), meta).await.status, 200);

    // Spans are batched every 100 ms; SIGTERM flushes what is left.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(srv.terminate(Duration::from_secs(20)).is_some_and(|s| s.success()));
    let mut spans = Vec::new();
    for _ in 0..50 {
        spans = collector.spans();
        if spans.iter().any(|s| s["trace_id"] == T2) && spans.iter().any(|s| s["trace_id"] == T1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let find = |trace: &str, name: &str| {
        spans
            .iter()
            .find(|s| s["trace_id"] == trace && s["name"] == name)
            .unwrap_or_else(|| panic!("no span {name} in trace {trace}: {spans:#?}"))
            .clone()
    };
    // Header: the HTTP request's span is the caller's child; the call's span is its child.
    let request = find(T1, "request");
    assert_eq!(request["parent_span_id"], P1);
    assert_eq!(request["service_name"], "shop-under-test");
    assert_eq!(request["attributes"]["request_id"], "traced-1");
    let call = find(T1, "tools/call get_order_status");
    assert_eq!(call["parent_span_id"], request["span_id"]);
    assert_eq!(call["kind"], 2, "a server span");
    assert_eq!(call["attributes"]["mcp.tool"], "get_order_status");
    assert_eq!(call["attributes"]["principal"], "admin");
    // Every guardrail has its own span inside the call's.
    for layer in ["audit", "rate_limit", "timeout", "metrics"] {
        let span = find(T1, layer);
        assert!(spans.iter().any(|s| s["span_id"] == span["parent_span_id"] && s["trace_id"] == T1), "{layer}");
    }
    // `_meta`: the call's span continues the caller's span directly.
    let call = find(T2, "tools/call get_order_status");
    assert_eq!(call["parent_span_id"], P2);

    // The audit row names the trace.
    let rows = audit_rows(&data, &["--request-id", "traced-1"]);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["trace_id"], T1);
}

#[tokio::test]
async fn database_and_session_metrics_are_exported() {
    let data = scratch("metrics-db");
    let srv = shop_in(&data);
    let mut admin = HttpPeer::new(srv.mcp_url()).with_api_key(ADMIN);
    // A SQL tool: one statement (native tools such as get_order_status are not timed per query).
    let search = json!({"name": "search_products", "arguments": {"query": "usb"}});
    assert_eq!(admin.modern("tools/call", search, json!({})).await.status, 200);
    // A legacy session stays open for the scrape.
    let mut legacy = HttpPeer::new(srv.mcp_url()).with_api_key(ADMIN);
    legacy.initialize(switchboard_protocol::ProtocolVersion::V2025_06_18, json!({})).await;
    let (code, text) = get(&srv, "/metrics", Some(ADMIN)).await;
    assert_eq!(code, 200);
    for line in [
        "mcp_db_query_duration_seconds_count{source=\"shop\",operation=\"select\"} 1",
        "mcp_sessions_active{transport=\"streamable_http\"} 1",
        "mcp_sessions_active{transport=\"websocket\"} 0",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}

/// A server of the `demo.echo` tool behind a key, its audit log at `audit` (YAML).
fn echo_server(data: &std::path::Path, audit: &str) -> (ServerProcess, std::path::PathBuf) {
    std::fs::create_dir_all(data).expect("a scratch directory");
    let config = data.join("echo.yaml");
    let yaml = format!(
        "server: {{name: audited-echo}}\nauth:\n  api_keys:\n    - {{id: ops, key: ops-key, roles: [ops]}}\n    - {{id: guest, key: guest-key, roles: [guest]}}\n{audit}\ntools:\n  echo:\n    description: Echoes the message back.\n    native: demo.echo\n    roles: [ops]\n"
    );
    std::fs::write(&config, yaml).expect("the config is written");
    (serve_config(&config, data, &[]), config)
}

fn audit_of(config: &std::path::Path, data: &std::path::Path) -> Vec<Value> {
    let out = std::process::Command::new(switchboard_bin())
        .args(["audit", "query", "--config", &config.to_string_lossy(), "--data-dir", &data.to_string_lossy()])
        .args(["--log-level", "warn"])
        .output()
        .expect("switchboard audit runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

async fn echo_calls(srv: &ServerProcess) {
    let echo = json!({"name": "echo", "arguments": {"message": "hi"}});
    let mut ops = HttpPeer::new(srv.mcp_url()).with_api_key("ops-key").with_header("x-request-id", "ops-1");
    assert_eq!(ops.modern("tools/call", echo.clone(), json!({})).await.status, 200);
    let mut guest = HttpPeer::new(srv.mcp_url()).with_api_key("guest-key").with_header("x-request-id", "guest-1");
    assert_eq!(guest.modern("tools/call", echo, json!({})).await.last()["error"]["message"], "unknown tool: echo");
}

#[tokio::test]
async fn audit_rows_go_to_postgresql_and_mariadb_and_older_tables_are_migrated() {
    use crate::shop::sh;
    let name = format!(
        "audit_{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
    );
    sh("psql", &["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", &format!("CREATE DATABASE {name}")]);
    sh("mysql", &["-h", "127.0.0.1", "-u", "root", "-e", &format!("CREATE DATABASE {name}")]);
    // MariaDB starts with the table an earlier release made (no correlation or trace ids).
    sh(
        "mysql",
        &["-h", "127.0.0.1", "-u", "root", &name, "-e",
          "CREATE TABLE tool_calls (id VARCHAR(32) NOT NULL, at VARCHAR(40) NOT NULL, principal VARCHAR(200) NOT NULL, \
           request_id VARCHAR(200) NOT NULL, tool VARCHAR(200) NOT NULL, arguments TEXT NOT NULL, outcome VARCHAR(20) NOT NULL, \
           error_kind VARCHAR(40), duration_ms BIGINT NOT NULL, result_bytes BIGINT NOT NULL)"],
    );
    for url in [format!("postgres://postgres@127.0.0.1:5432/{name}"), format!("mysql://root@127.0.0.1:3306/{name}")] {
        let data = scratch("audit-sql");
        let (mut srv, config) = echo_server(&data, &format!("audit: {{url: \"{url}\"}}"));
        echo_calls(&srv).await;
        // SIGTERM writes what is queued.
        assert!(srv.terminate(Duration::from_secs(20)).is_some_and(|s| s.success()), "{url}");
        let rows = audit_of(&config, &data);
        assert_eq!(rows.len(), 2, "{url}: {rows:#?}");
        let by = |id: &str| rows.iter().find(|r| r["correlation_id"] == id).unwrap_or_else(|| panic!("{url}: {id}"));
        assert_eq!(
            (by("ops-1")["principal"].clone(), by("ops-1")["outcome"].clone()),
            (json!("ops"), json!("success"))
        );
        assert_eq!(
            (by("guest-1")["principal"].clone(), by("guest-1")["outcome"].clone()),
            (json!("guest"), json!("denied"))
        );
    }
    let _ = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", &format!("DROP DATABASE {name}")])
        .output();
    let _ = std::process::Command::new("mysql")
        .args(["-h", "127.0.0.1", "-u", "root", "-e", &format!("DROP DATABASE {name}")])
        .output();
}

#[tokio::test]
async fn calls_are_served_while_the_audit_database_is_locked_and_their_rows_land_after() {
    let data = scratch("audit-locked");
    let (srv, config) = echo_server(&data, "audit: {path: audit.db}");
    echo_calls(&srv).await;
    let db = data.join("audit.db");
    for _ in 0..50 {
        if audit_of(&config, &data).len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Another process takes the write lock and holds it until told to let go.
    let mut holder = std::process::Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.readline(); c.execute('ROLLBACK')"])
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.take().expect("stdout")), &mut line)
        .expect("the lock is taken");
    assert_eq!(line.trim(), "locked");
    let started = std::time::Instant::now();
    let echo = json!({"name": "echo", "arguments": {"message": "while locked"}});
    let mut ops = HttpPeer::new(srv.mcp_url()).with_api_key("ops-key");
    for _ in 0..20 {
        assert_eq!(ops.modern("tools/call", echo.clone(), json!({})).await.status, 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "calls are not held up by the audit database: {:?}",
        started.elapsed()
    );
    // The writer gives up on the lock after 5 s, counts it and retries.
    let mut failures = String::new();
    for _ in 0..100 {
        let (_, text) = get(&srv, "/metrics", Some("ops-key")).await;
        if let Some(line) = text.lines().find(|l| l.starts_with("mcp_audit_write_failures_total ")) {
            if line != "mcp_audit_write_failures_total 0" {
                failures = line.to_owned();
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!failures.is_empty(), "the failed write is counted");
    use std::io::Write as _;
    let _ = holder.stdin.take().map(|mut s| s.write_all(b"go\n"));
    let _ = holder.wait();
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = audit_of(&config, &data);
        if rows.len() >= 22 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(rows.len(), 22, "every call queued while the database was locked is written once it is free");
}
