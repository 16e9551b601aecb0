//! The cluster: three shop replicas on one PostgreSQL database and one Redis, behind HAProxy
//! (round-robin, no stickiness), all on loopback. While official-Python-SDK clients of both eras
//! make a stream of orders, refunds and lookups and one client holds a session's SSE stream, a
//! replica is SIGKILLed and later started again. Calls keep being answered (a call in flight on
//! the killed replica is retried once by its client), the legacy sessions carry on on the other
//! replicas, the SSE stream resumes with `Last-Event-ID` and gets every event exactly once, and
//! afterwards the database reconciles.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_protocol::ProtocolVersion;
use switchboard_testkit::http::{HttpPeer, SseReader};
use switchboard_testkit::process::ServerProcess;
use switchboard_testkit::repo_root;

use crate::interop::{free_port, scratch};
use crate::scale::TempDb;
use crate::switchboard_bin;

const KEY: &str = "cluster-admin-key-0123456789";

/// HAProxy in front of the replicas, killed on drop.
struct Balancer(Child);

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Round-robin over `backends`, no stickiness; a backend's `/readyz` is checked every 500 ms and
/// a connection refused is sent to the next one (nothing was sent, so nothing is repeated). Each
/// response names the replica that answered (`X-Backend`), so the test knows whom to kill.
fn balancer(dir: &Path, front: u16, backends: &[u16]) -> Balancer {
    let servers: String =
        backends.iter().enumerate().map(|(i, port)| format!("    server r{i} 127.0.0.1:{port} check\n")).collect();
    let config = format!(
        "global\n    maxconn 2000\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n    \
         retries 2\n    option redispatch\n    retry-on conn-failure\n\
         frontend mcp\n    bind 127.0.0.1:{front}\n    default_backend shop\n\
         backend shop\n    balance roundrobin\n    option httpchk GET /readyz\n    \
         default-server inter 500ms fall 1 rise 2\n    http-response set-header X-Backend %s\n{servers}"
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).expect("haproxy.cfg");
    let child = Command::new("haproxy")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy is installed (scripts/test.sh installs it)");
    crate::wait_for_listener(front, "haproxy", Duration::from_secs(10));
    Balancer(child)
}

/// A copy of the shop's config and scripts, so the test can edit the config (every replica
/// reloads it and announces the list change).
fn shop_copy(dir: &Path) -> PathBuf {
    let shop = repo_root().join("examples/shop");
    for f in ["shop.yaml", "schema.sql", "seed.sql", "return_policy.md"] {
        std::fs::copy(shop.join(f), dir.join(f)).expect("copy the shop");
    }
    dir.join("shop.yaml")
}

/// Changes one tool's description: a `tools/list_changed` from every replica.
fn edit(config: &Path, n: usize) {
    let text = std::fs::read_to_string(config).expect("config");
    let from = "Status, dates and shipment tracking of one order";
    let at = text.find(from).expect("the description to edit");
    let end = at + text[at..].find(',').expect("a comma after it");
    let changed = format!("{}{from} (edit {n}){}", &text[..at], &text[end..]);
    std::fs::write(config, changed).expect("edit the config");
}

fn replica(config: &Path, data: &Path, port: u16, env: &[(String, String)]) -> ServerProcess {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (config, data) = (config.to_string_lossy(), data.to_string_lossy());
    ServerProcess::spawn_with_env(
        &switchboard_bin(),
        &["serve", "--config", &config, "--data-dir", &data, "--listen", &format!("127.0.0.1:{port}")],
        &env,
    )
}

/// The list changes one edit announces on `stream`: (event id, method) of every event until it
/// has been quiet for a second after the `tools/list_changed` (within `within`).
async fn changes(stream: &mut SseReader, within: Duration) -> Vec<(String, String)> {
    let deadline = Instant::now() + within;
    let mut seen: Vec<(String, String)> = Vec::new();
    loop {
        let tools_seen = seen.iter().any(|(_, m)| m == "notifications/tools/list_changed");
        let wait = if tools_seen {
            Duration::from_secs(1)
        } else {
            match deadline.checked_duration_since(Instant::now()) {
                Some(left) => left,
                None => return seen,
            }
        };
        let Some(event) = stream.next(wait).await else { return seen };
        if event.data.is_empty() {
            continue; // priming
        }
        let message: Value = serde_json::from_str(&event.data).expect("json");
        let method = message["method"].as_str().unwrap_or_default().to_owned();
        assert!(method.ends_with("/list_changed"), "only list changes on this stream: {message}");
        seen.push((event.id.expect("events carry ids"), method));
    }
}

/// Each kind of list change once, the tools' among them.
fn once_each(batch: &[(String, String)]) {
    let mut methods: Vec<&str> = batch.iter().map(|(_, m)| m.as_str()).collect();
    assert!(methods.contains(&"notifications/tools/list_changed"), "{batch:?}");
    methods.sort_unstable();
    let before = methods.len();
    methods.dedup();
    assert_eq!(methods.len(), before, "every change is delivered once: {batch:?}");
}

fn python_client(url: &str, era: &str, tag: &str) -> Child {
    let python = repo_root().join(".peers/py2/bin/python");
    Command::new(python)
        .arg(repo_root().join("tests/interop/py_cluster_client.py"))
        .args(["--http", url, "--era", era, "--header", &format!("X-API-Key: {KEY}"), "--tag", tag])
        .args(["--calls", "150", "--pause-ms", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the Python SDK peers are installed (scripts/install-peers.sh)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_behind_haproxy_survive_a_sigkill_and_the_database_reconciles() {
    let db = TempDb::new("cluster");
    let dir = scratch("cluster");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let config = shop_copy(&dir);
    let env: Vec<(String, String)> = vec![
        ("SHOP_DB_KIND".into(), "postgres".into()),
        ("SHOP_DATABASE_URL".into(), db.url()),
        ("SHOP_AUDIT_URL".into(), db.url()),
        ("SHOP_CONVERSATIONS_URL".into(), db.url()),
        ("SWITCHBOARD_REDIS_URL".into(), "redis://127.0.0.1:6379/0".into()),
        ("SHOP_ADMIN_KEY".into(), KEY.into()),
        // A killed replica loses no audit row of a call it answered.
        ("SHOP_AUDIT_WAIT_FOR_WRITE".into(), "true".into()),
    ];
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut replicas: Vec<Option<ServerProcess>> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| Some(replica(&config, &dir.join(format!("data-{i}")), *port, &env)))
        .collect();
    let front = free_port();
    let _balancer = balancer(&dir, front, &ports);
    let url = format!("http://127.0.0.1:{front}/mcp");

    // A legacy session's standalone stream, on whichever replica the balancer picks.
    let mut watcher = HttpPeer::new(url.clone()).with_api_key(KEY);
    let init = watcher.initialize(ProtocolVersion::V2025_11_25, json!({})).await;
    assert_eq!(init.status, 200, "{:?}", init.messages);
    let mut stream = watcher.get(None, None).await;
    assert_eq!(stream.status, 200);
    let holder: usize =
        stream.headers.get("x-backend").and_then(|b| b.strip_prefix('r')?.parse().ok()).expect("X-Backend");
    let mut ids: Vec<String> = Vec::new();
    edit(&config, 1);
    let first = changes(&mut stream, Duration::from_secs(10)).await;
    once_each(&first);
    ids.extend(first.into_iter().map(|(id, _)| id));

    // The load: two legacy sessions and two modern clients.
    let clients: Vec<(String, Child)> =
        [("legacy", "l1"), ("legacy", "l2"), ("2026-07-28", "m1"), ("2026-07-28", "m2")]
            .iter()
            .map(|(era, tag)| (era.to_string(), python_client(&url, era, &format!("{tag}-{}", std::process::id()))))
            .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // SIGKILL the replica holding the stream, in the middle of the load.
    let killed = replicas[holder].take().expect("the holder runs");
    let _ = Command::new("kill").args(["-KILL", &killed.pid().to_string()]).status();
    drop(killed);
    // The stream ends with its replica: no event of it is lost or repeated.
    while let Some(e) = stream.next(Duration::from_secs(5)).await {
        assert!(e.data.is_empty(), "no event after the last change: {e:?}");
    }
    let last = ids.last().expect("an id").clone();
    let mut resumed = watcher.get(Some(&last), None).await;
    assert_eq!(resumed.status, 200, "the stream resumes on another replica");
    edit(&config, 2);
    let second = changes(&mut resumed, Duration::from_secs(10)).await;
    once_each(&second);
    ids.extend(second.into_iter().map(|(id, _)| id));

    // The replica comes back; the load carries on through it.
    replicas[holder] = Some(replica(&config, &dir.join(format!("data-{holder}")), ports[holder], &env));
    let mut answered: Vec<(String, Value)> = Vec::new();
    for (era, child) in clients {
        let out = child.wait_with_output().expect("the client ran");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{era} client failed: {stderr}");
        let report: Value = serde_json::from_slice(&out.stdout).expect("the client's JSON report");
        // A client's transport ends when a request it has in flight loses its replica: it
        // connects again (a legacy client in a new session), at most once for one kill.
        let reconnects = report["reconnects"].as_u64().unwrap_or(0);
        assert!(reconnects <= 1, "{era}: {reconnects} reconnections for one killed replica");
        let calls = report["calls"].as_array().map_or(0, Vec::len);
        let retried = report["calls"].as_array().map_or(0, |c| c.iter().filter(|c| c["attempts"] != 1).count());
        eprintln!("{era} client: {calls} calls, {retried} retried, {reconnects} reconnections");
        for call in report["calls"].as_array().expect("calls") {
            let attempts = call["attempts"].as_u64().unwrap_or(0);
            assert!(
                call["ok"] == true || business_refusal(call),
                "{era}: a call failed after {attempts} attempts: {call}"
            );
            answered.push((era.clone(), call.clone()));
        }
    }
    let retried: Vec<&(String, Value)> = answered.iter().filter(|(_, c)| c["attempts"].as_u64() > Some(1)).collect();
    assert!(retried.len() <= 4, "only calls in flight on the killed replica are retried (one per client): {retried:?}");
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "no event id twice across the resumption: {ids:?}");

    reconcile(&db, &answered);
}

/// An error answer that is the shop's business rule, not a failure (a refund above what remains).
fn business_refusal(call: &Value) -> bool {
    call["refused"].as_str().is_some_and(|e| e.contains("refundable") || e.contains("fully refunded"))
}

fn reconcile(db: &TempDb, answered: &[(String, Value)]) {
    let none =
        |what: &str, sql: &str| assert_eq!(db.scalar(&format!("SELECT count(*) FROM ({sql}) AS q")), "0", "{what}");
    none(
        "orders without lines",
        "SELECT o.id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)",
    );
    none(
        "orders whose total is not the sum of their lines",
        "SELECT o.id FROM orders o JOIN order_items i ON i.order_id = o.id GROUP BY o.id, o.total_cents \
         HAVING SUM(i.quantity * i.unit_price_cents) <> o.total_cents",
    );
    none(
        "orders refunded above their total",
        "SELECT o.id FROM orders o JOIN refunds r ON r.order_id = o.id GROUP BY o.id, o.total_cents \
         HAVING SUM(r.amount_cents) > o.total_cents",
    );
    none(
        "idempotency keys naming no order",
        "SELECT k.idempotency_key FROM order_requests k LEFT JOIN orders o ON o.id = k.order_id WHERE o.id IS NULL",
    );
    none("negative stock", "SELECT sku FROM inventory WHERE quantity < 0");

    // Every acknowledged order is recorded with its total, under its key, once.
    let orders: BTreeMap<String, String> = rows(db, "SELECT id || ' ' || total_cents FROM orders")
        .into_iter()
        .filter_map(|r| r.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())))
        .collect();
    for (_, call) in answered.iter().filter(|(_, c)| c["tool"] == "create_order" && c["ok"] == true) {
        let id = call["result"]["order_id"].as_str().expect("an order id");
        assert_eq!(orders.get(id), Some(&call["result"]["total_cents"].to_string()), "acknowledged {call}");
    }

    // One audit row per answered call: each keyed call's arguments appear in the audit log once
    // per attempt that reached a replica at most, and at least once.
    let mut audited: HashMap<String, usize> = HashMap::new();
    for args in rows(db, "SELECT arguments FROM tool_calls WHERE tool IN ('create_order', 'process_refund')") {
        let v: Value = serde_json::from_str(&args).unwrap_or(Value::Null);
        if let Some(key) = v["idempotency_key"].as_str() {
            *audited.entry(key.to_owned()).or_default() += 1;
        }
    }
    for (_, call) in answered {
        let Some(key) = call["args"]["idempotency_key"].as_str() else { continue };
        let rows = audited.get(key).copied().unwrap_or(0);
        let attempts = call["attempts"].as_u64().unwrap_or(1) as usize;
        assert!((1..=attempts).contains(&rows), "{key}: {rows} audit rows for {attempts} attempts");
    }
}

fn rows(db: &TempDb, sql: &str) -> Vec<String> {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", &db.name, "-XAtqc", sql])
        .output()
        .expect("psql runs");
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}
