//! Guardrails of the shop over real HTTP: API keys (no key and wrong keys get 401), roles (a
//! customer lists only customer tools; hidden tools answer as unknown), identity-bound parameters
//! (a customer reads only its own orders, whatever id it passes), the support refund limit, legacy
//! sessions bound to their principal, and the refusal to serve a non-loopback address without keys.
//! Clients: the official Python SDK 2.x (both eras) and raw HTTP.

use std::process::Command;

use serde_json::{json, Value};
use switchboard_protocol::ProtocolVersion;
use switchboard_testkit::http::HttpPeer;
use switchboard_testkit::process::ServerProcess;
use switchboard_testkit::repo_root;

use crate::interop::{peers, scratch};
use crate::{serve_config, switchboard_bin};

pub(crate) const MINE: &str = "ORD-20250204-1037"; // CUST-0001's
pub(crate) const THEIRS: &str = "ORD-20250410-1111"; // CUST-0002's

pub(crate) const ADMIN: &str = "admin-key-for-tests";
const SUPPORT: &str = "support-key-for-tests";
pub(crate) const CUSTOMER: &str = "cust1-key-for-tests";

fn shop(name: &str) -> ServerProcess {
    serve_config(
        &repo_root().join("examples/shop/shop.yaml"),
        &scratch(name),
        &[
            ("SHOP_ADMIN_KEY", ADMIN),
            ("SHOP_SUPPORT_KEY", SUPPORT),
            ("SHOP_CUSTOMER_KEYS", "cust1-key-for-tests=CUST-0001,cust2-key-for-tests=CUST-0002"),
        ],
    )
}

/// The Python SDK client: its JSON report, or the error it reported (exit 1).
fn python(url: &str, key: Option<&str>, era: &str, call: Option<(&str, Value)>) -> Result<Value, Value> {
    let mut cmd = Command::new(peers().join("py2/bin/python"));
    cmd.arg(repo_root().join("tests/interop/py_client.py")).args(["--http", url, "--era", era, "--timeout", "30"]);
    if let Some(key) = key {
        cmd.args(["--header", &format!("X-API-Key: {key}")]);
    }
    if let Some((name, args)) = call {
        cmd.args(["--call", name, "--args", &args.to_string()]);
    }
    let out = cmd.output().expect("the Python SDK client runs");
    let last_json = |text: &[u8]| -> Value {
        let text = String::from_utf8_lossy(text);
        let line = text.lines().rev().find(|l| l.trim_start().starts_with('{')).unwrap_or("{}").to_owned();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad JSON {line}: {e}"))
    };
    if out.status.success() {
        Ok(last_json(&out.stdout))
    } else {
        Err(last_json(&out.stderr))
    }
}

fn names(report: &Value) -> Vec<String> {
    let mut names: Vec<String> =
        report["tools"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)).collect();
    names.sort();
    names
}

fn text(report: &Value) -> String {
    report["call"]["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn python_sdk_callers_see_and_do_only_what_their_key_allows() {
    let srv = shop("auth-shop");
    let url = srv.mcp_url();

    // No key, and a wrong key: refused before anything MCP happens (the SDK reports the 401's
    // body; the status and challenge are checked over raw HTTP below).
    for (key, says) in [(None, "authentication required"), (Some("not-a-key"), "credentials were not accepted")] {
        let err = python(&url, key, "auto", None).expect_err("refused");
        assert!(err["error"]["message"].as_str().is_some_and(|m| m.contains(says)), "{key:?}: {err}");
    }

    // A customer lists only customer tools, in both eras, and never sees its own id asked for.
    let customer_tools = [
        "check_inventory",
        "escalate_to_human",
        "get_customer_history",
        "get_order",
        "get_order_status",
        "get_recommendations",
        "process_return",
        "realtime_stock",
        "search_products",
    ];
    for era in ["auto", "legacy"] {
        let report = python(&url, Some(CUSTOMER), era, None).unwrap_or_else(|e| panic!("{era}: {e}"));
        assert_eq!(names(&report), customer_tools, "{era}");
    }

    // Its own order reads; another customer's does not, even when it passes that customer's id.
    let own = python(&url, Some(CUSTOMER), "auto", Some(("get_order_status", json!({"order_id": MINE}))))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(own["call"]["structuredContent"]["status"], "delivered", "{own}");
    for args in [json!({"order_id": THEIRS}), json!({"order_id": THEIRS, "customer_id": "CUST-0002"})] {
        let theirs = python(&url, Some(CUSTOMER), "auto", Some(("get_order_status", args.clone())))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(theirs["call"]["isError"], true, "{args}: {theirs}");
        assert!(text(&theirs).contains("no order"), "{theirs}");
    }
    let history =
        python(&url, Some(CUSTOMER), "auto", Some(("get_customer_history", json!({"customer_id": "CUST-0002"}))))
            .unwrap_or_else(|e| panic!("{e}"));
    let rows = history["call"]["structuredContent"]["rows"].as_array().cloned().unwrap_or_default();
    assert!(!rows.is_empty() && rows.iter().any(|r| r["order_id"] == MINE), "{history}");
    assert!(rows.iter().all(|r| r["order_id"] != THEIRS), "another customer's order leaked: {history}");

    // A hidden tool answers exactly like one that does not exist.
    let hidden = python(
        &url,
        Some(CUSTOMER),
        "auto",
        Some(("process_refund", json!({"order_id": MINE, "reason": "goodwill", "idempotency_key": "cust-try-1"}))),
    )
    .expect_err("hidden");
    let unknown = python(&url, Some(CUSTOMER), "auto", Some(("no_such_tool", json!({})))).expect_err("unknown");
    assert_eq!(hidden["error"]["code"], unknown["error"]["code"], "{hidden} / {unknown}");
    assert_eq!(hidden["error"]["message"], "unknown tool: process_refund", "{hidden}");

    // Support refunds up to its limit (20000 cents), not beyond.
    let refund = |amount: i64, key: &str| {
        python(
            &url,
            Some(SUPPORT),
            "auto",
            Some((
                "process_refund",
                json!({"order_id": MINE, "amount_cents": amount, "reason": "goodwill", "idempotency_key": key}),
            )),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let over = refund(30_000, "support-over-1");
    assert_eq!(over["call"]["isError"], true, "{over}");
    assert!(text(&over).contains("above your limit of 20000 cents"), "{over}");
    let within = refund(1_500, "support-within-1");
    assert_eq!(within["call"]["structuredContent"]["amount_cents"], 1500, "{within}");

    // Admin sees everything.
    let admin = python(&url, Some(ADMIN), "auto", None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(&admin).len(), 13, "{admin}");
    let support = python(&url, Some(SUPPORT), "auto", None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(&support).len(), 13, "{support}");
}

#[tokio::test]
async fn a_legacy_session_belongs_to_the_key_that_opened_it() {
    let srv = shop("auth-session");
    let mut admin = HttpPeer::new(srv.mcp_url()).with_api_key(ADMIN);
    let init = admin.initialize(ProtocolVersion::LATEST_LEGACY, json!({})).await;
    assert_eq!(init.status, 200, "{:?}", init.messages);
    let session = admin.session.clone().expect("a session id");
    let listed = admin.legacy("tools/list", json!({})).await;
    assert_eq!(listed.last()["result"]["tools"].as_array().map_or(0, Vec::len), 13);

    // The same session id with a customer's key (or none) is a session that does not exist.
    let mut customer = HttpPeer::new(srv.mcp_url()).with_api_key(CUSTOMER);
    customer.session = Some(session.clone());
    customer.version = admin.version;
    let stolen = customer.legacy("tools/list", json!({})).await;
    assert_eq!(stolen.status, 404, "{:?}", stolen.messages);
    let mut nobody = HttpPeer::new(srv.mcp_url());
    nobody.session = Some(session);
    nobody.version = admin.version;
    let anonymous = nobody.legacy("tools/list", json!({})).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.headers.get("www-authenticate").map(String::as_str), Some("Bearer realm=\"mcp\""));
    let mut wrong = HttpPeer::new(srv.mcp_url()).with_api_key("not-a-key");
    let refused = wrong.modern("tools/list", json!({}), json!({})).await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.headers.get("www-authenticate").map(String::as_str),
        Some("Bearer realm=\"mcp\", error=\"invalid_token\"")
    );
}

#[test]
fn a_network_address_without_keys_is_refused_unless_allowed() {
    let out = Command::new(switchboard_bin())
        .args(["serve", "--demo", "--listen", "0.0.0.0:0", "--log-level", "warn"])
        .output()
        .expect("switchboard runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to serve") && stderr.contains("--allow-anonymous"), "{stderr}");
}

#[tokio::test]
async fn a_burst_over_the_rate_limit_gets_429_with_retry_after() {
    let srv = shop("rate-limit");
    let mut customer = HttpPeer::new(srv.mcp_url()).with_api_key(CUSTOMER);
    let call = json!({"name": "search_products", "arguments": {"query": "head"}});
    let mut limited = None;
    // The shop allows 20 calls a second per caller, in bursts of 40.
    for i in 0..200 {
        let reply = customer.modern("tools/call", call.clone(), json!({})).await;
        if reply.status == 429 {
            limited = Some((i, reply));
            break;
        }
        assert_eq!(reply.status, 200, "{:?}", reply.messages);
    }
    let (i, reply) = limited.expect("a burst of 200 calls is limited");
    assert!(i >= 35, "the burst of 40 passes first (limited after {i})");
    let retry: u64 = reply.headers.get("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=2).contains(&retry), "{retry}");
    let error = &reply.last()["error"];
    assert_eq!(error["code"], -32029, "{error}");
    assert!(error["data"]["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0 && ms <= 1000), "{error}");

    // The admin key is exempt; another customer has a bucket of its own.
    let mut admin = HttpPeer::new(srv.mcp_url()).with_api_key(ADMIN);
    let mut other = HttpPeer::new(srv.mcp_url()).with_api_key("cust2-key-for-tests");
    for _ in 0..5 {
        assert_eq!(admin.modern("tools/call", call.clone(), json!({})).await.status, 200);
        assert_eq!(other.modern("tools/call", call.clone(), json!({})).await.status, 200);
    }

    // Every refusal, and every call, is counted.
    let metrics = get(&srv, "/metrics", Some(ADMIN)).await;
    assert_eq!(metrics.0, 200);
    assert!(metrics.1.contains("mcp_rate_limited_total{tool_name=\"search_products\"} 1\n"), "{}", metrics.1);

    // A legacy session is told in HTTP too, when the refusal is all its POST gets.
    let mut legacy = HttpPeer::new(srv.mcp_url()).with_api_key("cust2-key-for-tests");
    assert_eq!(legacy.initialize(ProtocolVersion::V2025_06_18, json!({})).await.status, 200);
    let mut refused = None;
    for _ in 0..200 {
        let reply = legacy.legacy("tools/call", call.clone()).await;
        if reply.status == 429 {
            refused = Some(reply);
            break;
        }
        assert_eq!(reply.status, 200, "{:?}", reply.messages);
    }
    let reply = refused.expect("a legacy burst of 200 calls is limited");
    assert!(reply.headers.get("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| (1..=2).contains(&s)));
    assert_eq!(reply.last()["error"]["code"], -32029);
}

pub(crate) async fn get(srv: &ServerProcess, path: &str, key: Option<&str>) -> (u16, String) {
    let mut request = crate::http_client().get(format!("{}{path}", srv.base));
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let response = request.send().await.expect("GET reaches the server");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn metrics_health_and_readiness_answer_operators() {
    let srv = shop("ops");
    let mut support = HttpPeer::new(srv.mcp_url()).with_api_key(SUPPORT);
    let ok = support
        .modern("tools/call", json!({"name": "get_order_status", "arguments": {"order_id": MINE}}), json!({}))
        .await;
    assert_eq!(ok.status, 200);
    let failed = support
        .modern(
            "tools/call",
            json!({"name": "get_order_status", "arguments": {"order_id": "ORD-20990101-0000"}}),
            json!({}),
        )
        .await;
    assert_eq!(failed.last()["result"]["isError"], true);

    assert_eq!(get(&srv, "/metrics", None).await.0, 401, "metrics need a key once keys exist");
    assert_eq!(get(&srv, "/metrics", Some("not-a-key")).await.0, 401);
    let (status, text) = get(&srv, "/metrics", Some(SUPPORT)).await;
    assert_eq!(status, 200);
    for line in [
        "mcp_tool_calls_total{tool_name=\"get_order_status\",status=\"success\"} 1",
        "mcp_tool_calls_total{tool_name=\"get_order_status\",status=\"error\"} 1",
        "mcp_tool_errors_total{tool_name=\"get_order_status\",error_type=\"tool_error\"} 1",
        "mcp_tool_call_duration_seconds_count{tool_name=\"get_order_status\"} 2",
        "mcp_timeouts_total{tool_name=\"get_order_status\"} 0",
        "mcp_rate_limited_total{tool_name=\"get_order_status\"} 0",
        "mcp_http_requests_total{method=\"POST\",status=\"200\"}",
        "mcp_db_connections_active{source=\"shop\"}",
        "mcp_db_connections_max{source=\"shop\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }

    let (status, health) = get(&srv, "/healthz", None).await;
    assert_eq!((status, health.as_str()), (200, r#"{"status":"up"}"#));
    let (status, ready) = get(&srv, "/readyz", None).await;
    assert_eq!(status, 200, "{ready}");
    let ready: Value = serde_json::from_str(&ready).expect("JSON");
    assert_eq!(ready, json!({"status": "ready", "components": {"server": "up", "shop": "up"}}));
}

#[test]
fn the_alert_rules_pass_promtool() {
    let rules = repo_root().join("deploy/prometheus/alerts.yml");
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool is installed (Debian's prometheus package; scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "promtool rejected {}: {}{}",
        rules.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The audit rows of the shop whose data directory is `data`, newest first.
pub(crate) fn audit_rows(data: &std::path::Path, extra: &[&str]) -> Vec<Value> {
    let config = repo_root().join("examples/shop/shop.yaml");
    let out = Command::new(switchboard_bin())
        .args(["audit", "query", "--config", &config.to_string_lossy(), "--data-dir", &data.to_string_lossy()])
        .args(["--limit", "100000", "--log-level", "warn"])
        .args(extra)
        .output()
        .expect("switchboard audit runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

pub(crate) fn shop_in(data: &std::path::Path) -> ServerProcess {
    serve_config(
        &repo_root().join("examples/shop/shop.yaml"),
        data,
        &[("SHOP_ADMIN_KEY", ADMIN), ("SHOP_CUSTOMER_KEYS", "cust1-key-for-tests=CUST-0001")],
    )
}

#[tokio::test]
async fn every_call_leaves_one_audit_row_with_secrets_and_keys_kept_out() {
    let data = scratch("audit-rows");
    let srv = shop_in(&data);
    let mut customer = HttpPeer::new(srv.mcp_url()).with_api_key(CUSTOMER);
    let status = json!({"name": "get_order_status", "arguments": {"order_id": MINE}});
    assert_eq!(customer.modern("tools/call", status.clone(), json!({})).await.status, 200);
    let missing = json!({"name": "get_order_status", "arguments": {"order_id": THEIRS}});
    assert_eq!(customer.modern("tools/call", missing, json!({})).await.last()["result"]["isError"], true);
    // Refused for rate: the burst (40) runs out within 60 calls.
    let search = json!({"name": "search_products", "arguments": {"query": "usb"}});
    let mut sent = 2;
    let mut limited = 0;
    for _ in 0..60 {
        sent += 1;
        if customer.modern("tools/call", search.clone(), json!({})).await.status == 429 {
            limited += 1;
        }
    }
    assert!(limited > 0);

    // Rows are written off the hot path: wait for all of them.
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = audit_rows(&data, &["--principal", "CUST-0001"]);
        if rows.len() >= sent {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rows.len(), sent, "one row per call");
    let count = |outcome: &str| rows.iter().filter(|r| r["outcome"] == outcome).count();
    assert_eq!(count("rate_limited"), limited);
    assert_eq!(count("error"), 1);
    assert_eq!(count("success"), sent - limited - 1);
    let first = rows.iter().find(|r| r["tool"] == "get_order_status" && r["outcome"] == "success").expect("a row");
    // The bound customer id is in the arguments the tool ran with; the key never is.
    let args: Value = serde_json::from_str(first["arguments"].as_str().unwrap_or("{}")).expect("JSON arguments");
    assert_eq!(args["customer_id"], "CUST-0001", "{first}");
    assert!(first["result_bytes"].as_i64().is_some_and(|n| n > 0), "{first}");
    let all = serde_json::to_string(&rows).unwrap_or_default();
    assert!(!all.contains(CUSTOMER), "an API key reached the audit log");
    let only_search = audit_rows(&data, &["--tool", "search_products"]);
    assert_eq!(only_search.len(), sent - 2);
}

#[tokio::test]
async fn sigterm_under_load_loses_no_audit_row() {
    let data = scratch("audit-sigterm");
    let mut srv = shop_in(&data);
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (url, answered) = (srv.mcp_url(), answered.clone());
        clients.push(tokio::spawn(async move {
            let client = crate::http_client();
            let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "get_order_status", "arguments": {"order_id": MINE},
                "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}});
            loop {
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .header("mcp-protocol-version", "2026-07-28")
                    .header("mcp-method", "tools/call")
                    .header("mcp-name", "get_order_status")
                    .header("x-api-key", ADMIN)
                    .body(body.to_string())
                    .send()
                    .await;
                let Ok(response) = sent else { return };
                let Ok(text) = response.text().await else { return };
                if text.contains("\"structuredContent\"") {
                    answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let status = srv.terminate(std::time::Duration::from_secs(40)).expect("the server exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    for c in clients {
        let _ = c.await;
    }
    let answered = answered.load(std::sync::atomic::Ordering::Relaxed);
    assert!(answered > 50, "the load ran ({answered} answers)");
    let rows = audit_rows(&data, &["--tool", "get_order_status"]);
    assert!(rows.len() >= answered, "{} rows for {answered} answered calls", rows.len());
    assert!(rows.len() <= answered + 8, "{} rows for {answered} answered calls (8 in flight at most)", rows.len());
}

/// The loopback JWKS and token minter (`tests/interop/jwt_issuer.py`), killed on drop.
struct Issuer {
    child: std::process::Child,
    base: String,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Issuer {
    fn start() -> Issuer {
        use std::io::BufRead as _;
        let mut child = Command::new(peers().join("py2/bin/python"))
            .arg(repo_root().join("tests/interop/jwt_issuer.py"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the JWT issuer starts (py2 peer venv)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).expect("the issuer reports its port");
        let port = serde_json::from_str::<Value>(&line).ok().and_then(|v| v["port"].as_u64()).expect("a port");
        Issuer { child, base: format!("http://127.0.0.1:{port}") }
    }

    async fn mint(&self, query: &str) -> String {
        let url = format!("{}/mint?{query}", self.base);
        crate::http_client().get(url).send().await.expect("mint").text().await.expect("token")
    }
}

const RESOURCE: &str = "http://mcp.test/mcp";

#[tokio::test]
async fn jwt_access_tokens_are_checked_against_the_issuers_rotating_jwks() {
    let issuer = Issuer::start();
    let dir = scratch("jwt");
    let _ = std::fs::create_dir_all(&dir);
    let config = dir.join("jwt.yaml");
    std::fs::write(
        &config,
        format!(
            "server: {{name: jwt-test}}\n\
             auth:\n  oauth:\n    issuer: {base}/\n    jwks_url: {base}/jwks.json\n    resource: {RESOURCE}\n    \
             scopes_supported: [echo]\n    attributes: {{customer_id: customer_id}}\n\
             audit: {{enabled: false}}\n\
             tools:\n  echo: {{description: Echoes., native: demo.echo, roles: [echo]}}\n",
            base = issuer.base
        ),
    )
    .expect("config");
    let srv = ServerProcess::spawn(
        &switchboard_bin(),
        &[
            "serve",
            "--config",
            &config.to_string_lossy(),
            "--data-dir",
            &dir.to_string_lossy(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let aud = "aud=http%3A%2F%2Fmcp.test%2Fmcp";
    let call = json!({"name": "echo", "arguments": {"message": "hi"}});

    // A good token: its scope is a role, so the tool is listed and runs.
    let good = issuer.mint(&format!("kid=k1&{aud}&scope=echo")).await;
    let mut client = HttpPeer::new(srv.mcp_url()).with_bearer(good);
    let listed = client.modern("tools/list", json!({}), json!({})).await;
    assert_eq!(listed.status, 200, "{:?}", listed.messages);
    assert_eq!(listed.last()["result"]["tools"][0]["name"], "echo");
    let echoed = client.modern("tools/call", call.clone(), json!({})).await;
    assert_eq!(echoed.last()["result"]["content"][0]["text"], "hi", "{:?}", echoed.messages);

    // Without the scope the tool does not exist for this caller.
    let narrow = issuer.mint(&format!("kid=k1&{aud}&scope=other")).await;
    let listed = HttpPeer::new(srv.mcp_url()).with_bearer(narrow).modern("tools/list", json!({}), json!({})).await;
    assert_eq!(listed.last()["result"]["tools"], json!([]));

    // Wrong audience, expired, not yet valid: 401 with a challenge that points at the metadata.
    let challenge = "Bearer realm=\"mcp\", error=\"invalid_token\", resource_metadata=\"http://mcp.test/.well-known/oauth-protected-resource\"".to_owned();
    for query in [
        "kid=k1&aud=http%3A%2F%2Fother.test%2Fmcp&scope=echo".to_owned(),
        format!("kid=k1&{aud}&scope=echo&exp_in=-300"),
        format!("kid=k1&{aud}&scope=echo&nbf_in=600"),
    ] {
        let token = issuer.mint(&query).await;
        let refused = HttpPeer::new(srv.mcp_url()).with_bearer(token).modern("tools/list", json!({}), json!({})).await;
        assert_eq!(refused.status, 401, "{query}");
        assert_eq!(refused.headers.get("www-authenticate"), Some(&challenge), "{query}");
    }
    let none = HttpPeer::new(srv.mcp_url()).modern("tools/list", json!({}), json!({})).await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.headers.get("www-authenticate").map(String::as_str),
        Some("Bearer realm=\"mcp\", resource_metadata=\"http://mcp.test/.well-known/oauth-protected-resource\"")
    );

    // A key the issuer has not published yet is refused; once it is rotated in, it works
    // (the set is refetched on an unknown kid, at most every 10 s).
    let rotated = issuer.mint(&format!("kid=k2&{aud}&scope=echo")).await;
    let early =
        HttpPeer::new(srv.mcp_url()).with_bearer(rotated.clone()).modern("tools/list", json!({}), json!({})).await;
    assert_eq!(early.status, 401);
    crate::http_client().post(format!("{}/rotate", issuer.base)).send().await.expect("rotate");
    let mut status = 0;
    for _ in 0..30 {
        status = HttpPeer::new(srv.mcp_url())
            .with_bearer(rotated.clone())
            .modern("tools/list", json!({}), json!({}))
            .await
            .status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(status, 200, "the rotated key is picked up");

    // RFC 9728 metadata, unauthenticated, at the origin path and under the endpoint's path.
    for path in ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"] {
        let (status, body) = get(&srv, path, None).await;
        assert_eq!(status, 200, "{path}");
        let doc: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(doc["resource"], RESOURCE);
        assert_eq!(doc["authorization_servers"], json!([format!("{}/", issuer.base)]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert_eq!(doc["scopes_supported"], json!(["echo"]));
    }
}

#[tokio::test]
async fn a_cached_tool_answers_repeats_from_its_cache_and_never_across_customers() {
    let srv = shop("cache");
    let mut one = HttpPeer::new(srv.mcp_url()).with_api_key(CUSTOMER);
    let mut two = HttpPeer::new(srv.mcp_url()).with_api_key("cust2-key-for-tests");
    let history = json!({"name": "get_customer_history", "arguments": {}});
    let orders = |reply: &switchboard_testkit::http::Reply| -> Vec<String> {
        reply.last()["result"]["structuredContent"]["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["order_id"].as_str().map(str::to_owned))
            .collect()
    };
    let first = orders(&one.modern("tools/call", history.clone(), json!({})).await);
    let again = orders(&one.modern("tools/call", history.clone(), json!({})).await);
    let theirs = orders(&two.modern("tools/call", history.clone(), json!({})).await);
    assert!(first.contains(&MINE.to_owned()) && !first.contains(&THEIRS.to_owned()), "{first:?}");
    assert_eq!(first, again);
    assert!(theirs.contains(&THEIRS.to_owned()) && !theirs.contains(&MINE.to_owned()), "{theirs:?}");
    let (_, text) = get(&srv, "/metrics", Some(ADMIN)).await;
    assert!(text.contains("mcp_cache_hits_total{cache_type=\"tool\"} 1\n"), "{text}");
    assert!(text.contains("mcp_cache_misses_total{cache_type=\"tool\"} 2\n"), "{text}");
    // The tool itself ran twice: once per customer.
    assert!(text.contains("mcp_tool_calls_total{tool_name=\"get_customer_history\",status=\"success\"} 2\n"), "{text}");

    // A refund empties the cache it names: the next read runs the tool again.
    let mut admin = HttpPeer::new(srv.mcp_url()).with_api_key(ADMIN);
    let refund = json!({"name": "process_refund", "arguments": {"order_id": MINE, "amount_cents": 100, "reason": "goodwill", "idempotency_key": "cache-test-1"}});
    assert_eq!(admin.modern("tools/call", refund, json!({})).await.last()["result"]["isError"], json!(null));
    one.modern("tools/call", history, json!({})).await;
    let (_, text) = get(&srv, "/metrics", Some(ADMIN)).await;
    assert!(text.contains("mcp_cache_misses_total{cache_type=\"tool\"} 3\n"), "{text}");
}

/// A server over stdio with one tool, `status`, that GETs `/status` from an http source on
/// `port`, under `guardrails` (YAML lines of the `guardrails:` section).
fn api_tool_server(name: &str, port: u16, guardrails: &str) -> switchboard_testkit::peer::StdioPeer {
    let dir = scratch(name);
    let _ = std::fs::create_dir_all(&dir);
    let config = dir.join("api.yaml");
    let text = format!(
        "sources:\n  api: {{kind: http, base_url: \"http://127.0.0.1:{port}\", timeout_ms: 2000}}\n\
         guardrails:\n  {guardrails}\n\
         audit: {{enabled: false}}\n\
         tools:\n  status: {{description: The API's status., source: api, http: {{method: GET, path: /status}}}}\n"
    );
    std::fs::write(&config, text).expect("config");
    let (config, dir) = (config.to_string_lossy().into_owned(), dir.to_string_lossy().into_owned());
    switchboard_testkit::peer::StdioPeer::spawn(
        &switchboard_bin(),
        &["serve", "--stdio", "--config", &config, "--data-dir", &dir, "--log-level", "warn"],
    )
}

/// A one-route HTTP API on loopback (`Connection: close`, so no pooled connection outlives it).
async fn api_on(listener: tokio::net::TcpListener) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { return };
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let body = r#"{"ok":true}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(format!("{head}{body}").as_bytes()).await;
        });
    }
}

fn bind_reusable(port: u16) -> tokio::net::TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], port))).expect("bind the API's port again");
    socket.listen(64).expect("listen")
}

// Two workers: the stdio peer blocks one while the API answers on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_opens_while_its_http_source_is_down_and_closes_when_it_returns() {
    let listener = bind_reusable(0);
    let port = listener.local_addr().expect("addr").port();
    let mut api = tokio::spawn(api_on(listener));
    let mut peer =
        api_tool_server("breaker", port, "breaker: {failures: 3, cool_down_ms: 1000}\n  retry: {attempts: 1}");
    let call = json!({"name": "status", "arguments": {}});
    let text = |r: &Value| r["result"]["content"][0]["text"].as_str().unwrap_or_default().to_owned();
    let ok = peer.modern("tools/call", call.clone(), json!({}));
    assert_eq!(ok["result"]["structuredContent"]["ok"], true, "{ok}");

    // The API goes away: three calls fail to connect, then the breaker answers for it.
    api.abort();
    let _ = (&mut api).await;
    for _ in 0..3 {
        let failed = peer.modern("tools/call", call.clone(), json!({}));
        assert_eq!(failed["result"]["isError"], true, "{failed}");
        assert!(text(&failed).contains("connecting to"), "{failed}");
    }
    let open = peer.modern("tools/call", call.clone(), json!({}));
    assert_eq!(open["result"]["isError"], true);
    assert!(text(&open).contains("source api is unavailable"), "{open}");

    // It comes back: after the cool-down one call probes it, and the breaker closes.
    let _api = tokio::spawn(api_on(bind_reusable(port)));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for _ in 0..3 {
        let back = peer.modern("tools/call", call.clone(), json!({}));
        assert_eq!(back["result"]["structuredContent"]["ok"], true, "{back}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_read_is_retried_until_its_source_returns() {
    let port = bind_reusable(0).local_addr().expect("addr").port(); // free, and nothing listens
    let mut peer = api_tool_server("retry", port, "retry: {attempts: 8, base_delay_ms: 100, max_delay_ms: 400}");
    let started = std::time::Instant::now();
    let call = tokio::task::spawn_blocking(move || {
        let answer = peer.modern("tools/call", json!({"name": "status", "arguments": {}}), json!({}));
        (peer, answer)
    });
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let _api = tokio::spawn(api_on(bind_reusable(port)));
    let (_peer, answer) = call.await.expect("the call returns");
    assert_eq!(
        answer["result"]["structuredContent"]["ok"], true,
        "the read was retried until the API was up: {answer}"
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(400), "it did wait for the API");
}
