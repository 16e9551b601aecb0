//! The shop (`examples/shop/shop.yaml`) through the MCP interface, against embedded SQLite,
//! PostgreSQL and MariaDB (real servers; `scripts/services.sh` starts them, and a missing one
//! fails these tests). Covers every tool's success and failure paths, concurrency (no oversell,
//! no over-refund, idempotent refunds) and a SQL-injection battery.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};
use switchboard_testkit::peer::{modern_meta, StdioPeer};
use switchboard_testkit::repo_root;

use crate::interop::scratch;
use crate::switchboard_bin;

const DELIVERED: &str = "ORD-20250204-1037";
const TOO_OLD: &str = "ORD-20240115-0042";

enum Backend {
    Sqlite,
    Postgres,
    Mariadb,
}

/// A shop server over stdio on a fresh database of `backend`.
struct Shop {
    peer: StdioPeer,
    drop_db: Option<(Backend, String)>,
}

fn fresh_name() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("sb_shop_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub(crate) fn sh(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is not installed: {e} (scripts/services.sh sets up the services)"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed (is the service running? scripts/services.sh starts it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Shop {
    fn start(backend: Backend) -> Shop {
        let config = repo_root().join("examples/shop/shop.yaml");
        let data = scratch("shop-data");
        let mut env: Vec<(String, String)> = Vec::new();
        let drop_db = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let name = fresh_name();
                sh(
                    "psql",
                    &["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", &format!("CREATE DATABASE {name}")],
                );
                env.push(("SHOP_DB_KIND".into(), "postgres".into()));
                env.push(("SHOP_DATABASE_URL".into(), format!("postgres://postgres@127.0.0.1:5432/{name}")));
                Some((Backend::Postgres, name))
            }
            Backend::Mariadb => {
                let name = fresh_name();
                sh("mysql", &["-h", "127.0.0.1", "-u", "root", "-e", &format!("CREATE DATABASE {name}")]);
                env.push(("SHOP_DB_KIND".into(), "mysql".into()));
                env.push(("SHOP_DATABASE_URL".into(), format!("mysql://root@127.0.0.1:3306/{name}")));
                Some((Backend::Mariadb, name))
            }
        };
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args = [
            "serve",
            "--stdio",
            "--config",
            &config.to_string_lossy(),
            "--data-dir",
            &data.to_string_lossy(),
            "--log-level",
            "warn",
        ];
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Shop { peer: StdioPeer::spawn_with_env(&switchboard_bin(), &args, &env), drop_db }
    }

    fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.peer.modern("tools/call", json!({"name": tool, "arguments": args}), json!({}));
        r.get("result").cloned().unwrap_or_else(|| panic!("{tool}: protocol error {r}"))
    }

    fn ok(&mut self, tool: &str, args: Value) -> Value {
        let r = self.call(tool, args.clone());
        assert_ne!(r["isError"], true, "{tool} {args} failed: {r}");
        r["structuredContent"].clone()
    }

    fn err(&mut self, tool: &str, args: Value, mentions: &str) {
        let r = self.call(tool, args.clone());
        assert_eq!(r["isError"], true, "{tool} {args} should fail: {r}");
        let text = r["content"][0]["text"].as_str().unwrap_or_default();
        assert!(text.contains(mentions), "{tool}: {text:?} should mention {mentions:?}");
    }

    /// Sends all calls at once (they run concurrently) and returns the results in order.
    fn concurrently(&mut self, calls: Vec<(&str, Value)>) -> Vec<Value> {
        let meta = modern_meta(json!({}));
        let ids: Vec<Value> = (0..calls.len()).map(|i| json!(format!("c{i}"))).collect();
        let mut batch = String::new();
        for ((tool, args), id) in calls.iter().zip(&ids) {
            batch.push_str(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"_meta": meta, "name": tool, "arguments": args}}).to_string());
            batch.push('\n');
        }
        self.peer.send_raw(batch.trim_end().as_bytes());
        let mut answers = std::collections::HashMap::new();
        while answers.len() < ids.len() {
            let m = self.peer.recv();
            if let Some(id) = m.get("id").and_then(Value::as_str) {
                answers.insert(id.to_owned(), m["result"].clone());
            }
        }
        ids.iter().map(|id| answers.remove(id.as_str().unwrap_or_default()).unwrap_or_default()).collect()
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        match self.drop_db.take() {
            Some((Backend::Postgres, name)) => {
                let _ = Command::new("psql")
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-U",
                        "postgres",
                        "-d",
                        "postgres",
                        "-c",
                        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    ])
                    .output();
            }
            Some((Backend::Mariadb, name)) => {
                let _ = Command::new("mysql")
                    .args(["-h", "127.0.0.1", "-u", "root", "-e", &format!("DROP DATABASE IF EXISTS {name}")])
                    .output();
            }
            _ => {}
        }
    }
}

fn every_tool(backend: Backend) {
    let mut s = Shop::start(backend);
    let status = s.ok("get_order_status", json!({"order_id": DELIVERED}));
    assert_eq!(status["status"], "delivered");
    assert!(status["shipments"][0]["tracking_number"].is_string(), "{status}");
    s.err("get_order_status", json!({"order_id": "ord 20250204 1037"}), "Did you mean ORD-20250204-1037?");
    s.err("get_order_status", json!({"order_id": "12345"}), "ORD-YYYYMMDD-XXXX");
    s.err("get_order_status", json!({"order_id": "ORD-20990101-0001"}), "no order");

    let order = s.ok("get_order", json!({"email": "ada@example.com", "include_items": true}));
    assert!(order["rows"].as_array().is_some_and(|r| r.iter().any(|r| r["sku"] == "CMP-LT-100")), "{order}");
    let header = s.ok("get_order", json!({"order_id": DELIVERED}));
    assert_eq!(header["rows"][0]["line_no"], Value::Null, "no items unless asked");
    s.err("get_order", json!({}), "order_id or the customer's email");

    let found = s.ok("search_products", json!({"query": "HEAD", "max_price": 100, "in_stock": true}));
    let names: Vec<&str> =
        found["rows"].as_array().map(|r| r.iter().filter_map(|r| r["name"].as_str()).collect()).unwrap_or_default();
    assert_eq!(names, vec!["Headlamp"], "case-insensitive, price-capped: {found}");
    let books = s.ok("search_products", json!({"query": "", "category": "CAT-BOOKS"}));
    assert_eq!(books["rows"].as_array().map(Vec::len), Some(4));

    let inv = s.ok("check_inventory", json!({"sku": "LTD-EDITION-1"}));
    assert_eq!(inv["rows"][0]["quantity"], 10);
    s.err("check_inventory", json!({"sku": "NOPE-1"}), "Unknown SKU NOPE-1");
    let rt = s.ok("realtime_stock", json!({"skus": ["LTD-EDITION-1", "NOPE-2"]}));
    assert_eq!((rt["stock"][0]["total"].as_i64(), rt["stock"][1]["known"].as_bool()), (Some(10), Some(false)), "{rt}");
    let wh = s.ok("warehouse_capacity", json!({"region": "eu-west"}));
    assert_eq!(wh["rows"][0]["id"], "WH-EU");
    s.err("warehouse_capacity", json!({"region": "mars"}), "invalid arguments");

    assert_eq!(s.ok("get_customer", json!({"customer_id": "CUST-0003"}))["name"], "Grace Hopper");
    s.err("get_customer", json!({"email": "nobody@example.com"}), "No customer matches");
    let history = s.ok("get_customer_history", json!({"customer_id": "CUST-0001", "limit": 1}));
    assert_eq!(history["rows"].as_array().map(Vec::len), Some(1));
    s.err("get_customer_history", json!({"customer_id": "CUST-9999"}), "does not exist");
    s.err("get_customer_history", json!({"customer_id": "CUST-0001", "limit": 500}), "invalid arguments");
    let recs = s.ok("get_recommendations", json!({"customer_id": "CUST-0002", "limit": 3}));
    assert!(recs["rows"].as_array().is_some_and(|r| !r.is_empty() && r.len() <= 3), "{recs}");
    s.err("get_recommendations", json!({"customer_id": "CUST-0002", "limit": 11}), "invalid arguments");

    let created = s.ok("create_order", json!({"customer_id": "CUST-0005", "items": [{"sku": "LTD-EDITION-1", "quantity": 2}, {"sku": "BOK-RUST", "quantity": 1}]}));
    let new_id = created["order_id"].as_str().unwrap_or_default().to_owned();
    // Eight random digits a day: order numbers of a busy day do not collide.
    assert!(new_id.starts_with("ORD-") && new_id.len() == 21, "{created}");
    assert_eq!(created["total_cents"], 2 * 49900 + 3900);
    s.err(
        "create_order",
        json!({"customer_id": "CUST-0005", "items": [{"sku": "LTD-EDITION-1", "quantity": 9}]}),
        "insufficient stock for SKU LTD-EDITION-1: 8 left, 9 requested",
    );
    // All or nothing: the first line fits, the second does not, so neither is reserved.
    s.err("create_order", json!({"customer_id": "CUST-0005", "items": [{"sku": "LTD-EDITION-1", "quantity": 1}, {"sku": "NOPE-3", "quantity": 1}]}), "unknown SKU NOPE-3");
    assert_eq!(s.ok("check_inventory", json!({"sku": "LTD-EDITION-1"}))["rows"][0]["quantity"], 8);
    // A line larger than any one warehouse's stock is served from several: 15 in WH-EAST and 3
    // in WH-EU make 18, enough for 16.
    let split =
        s.ok("create_order", json!({"customer_id": "CUST-0005", "items": [{"sku": "CMP-LT-100", "quantity": 16}]}));
    assert_eq!(split["items"][0]["quantity"], 16, "{split}");
    let stock = s.ok("check_inventory", json!({"sku": "CMP-LT-100"}));
    let left = |w: &str| {
        stock["rows"].as_array().and_then(|r| r.iter().find(|r| r["warehouse_id"] == w)).map(|r| r["quantity"].clone())
    };
    assert_eq!((left("WH-EAST"), left("WH-EU")), (Some(json!(0)), Some(json!(2))), "{stock}");
    s.err(
        "create_order",
        json!({"customer_id": "CUST-0005", "items": [{"sku": "CMP-LT-100", "quantity": 3}]}),
        "2 left, 3 requested",
    );
    // A retried order with its idempotency key is the first order, not a second one.
    let keyed = json!({"customer_id": "CUST-0005", "items": [{"sku": "CMP-LT-100", "quantity": 1}], "idempotency_key": "order-test-0001"});
    let first = s.ok("create_order", keyed.clone());
    let again = s.ok("create_order", keyed);
    assert_eq!(
        (again["order_id"].clone(), again["replayed"].clone()),
        (first["order_id"].clone(), json!(true)),
        "{again}"
    );
    assert_eq!(
        s.ok("check_inventory", json!({"sku": "CMP-LT-100", "warehouse": "WH-EU"}))["rows"][0]["quantity"],
        1,
        "reserved once"
    );
    s.err("create_order", json!({"customer_id": "CUST-0005", "items": [{"sku": "BOK-RUST", "quantity": 1}], "idempotency_key": "order-test-0001"}), "already used");
    s.err(
        "create_order",
        json!({"customer_id": "CUST-9999", "items": [{"sku": "BOK-RUST", "quantity": 1}]}),
        "does not exist",
    );
    assert_eq!(s.ok("get_order_status", json!({"order_id": new_id}))["status"], "pending");

    let ret = s.ok(
        "process_return",
        json!({"order_id": DELIVERED, "sku": "OUT-BT-400", "quantity": 1, "reason": "Too small for my bag"}),
    );
    assert!(ret["label_ref"].as_str().is_some_and(|l| l.starts_with("RL-")), "{ret}");
    s.err(
        "process_return",
        json!({"order_id": DELIVERED, "sku": "OUT-BT-400", "quantity": 1, "reason": "again please"}),
        "can still be returned",
    );
    s.err(
        "process_return",
        json!({"order_id": DELIVERED, "sku": "BOK-RUST", "quantity": 1, "reason": "not mine"}),
        "not part of order",
    );
    s.err(
        "process_return",
        json!({"order_id": TOO_OLD, "sku": "AUD-HP-100", "quantity": 1, "reason": "changed mind"}),
        "return window",
    );
    s.err(
        "process_return",
        json!({"order_id": new_id, "sku": "BOK-RUST", "quantity": 1, "reason": "not delivered"}),
        "only delivered orders",
    );
    // Several items in one call, one label; a bad line records none of them.
    s.err(
        "process_return",
        json!({"order_id": "ORD-20250315-1518", "items": [{"sku": "OUT-BP-200", "quantity": 2}, {"sku": "BOK-TAOCP", "quantity": 2}], "reason": "changed my mind"}),
        "only 1 of 1 × BOK-TAOCP",
    );
    let multi = s.ok(
        "process_return",
        json!({"order_id": "ORD-20250315-1518", "items": [{"sku": "OUT-BP-200", "quantity": 2}, {"sku": "BOK-TAOCP", "quantity": 1}], "reason": "changed my mind"}),
    );
    assert_eq!(multi["items"].as_array().map(Vec::len), Some(2), "{multi}");
    assert!(multi["label_ref"].as_str().is_some_and(|l| l.starts_with("RL-")), "{multi}");
    s.err(
        "process_return",
        json!({"order_id": "ORD-20250315-1518", "sku": "OUT-BP-200", "quantity": 1, "reason": "once more"}),
        "only 0 of 2",
    );
    // The shop's policy: final-sale items stay sold; damage is reported within 7 days.
    s.err(
        "process_return",
        json!({"order_id": "ORD-20250307-1074", "sku": "HOM-KN-300", "quantity": 1, "reason": "do not need it"}),
        "final sale",
    );
    s.err(
        "process_return",
        json!({"order_id": "ORD-20250307-1074", "sku": "HOM-KN-300", "quantity": 1, "reason": "blade is chipped", "damaged": true}),
        "within 7 days",
    );
    let damaged = s.ok(
        "process_return",
        json!({"order_id": "ORD-20250410-1111", "items": [{"sku": "BOK-RUST", "quantity": 1}], "reason": "cover torn", "damaged": true}),
    );
    assert_eq!(damaged["status"], "damage_reported", "{damaged}");
    assert!(damaged.get("label_ref").is_none(), "damage needs no return label: {damaged}");

    let refund = s.ok("process_refund", json!({"order_id": DELIVERED, "amount_cents": 500, "reason": "goodwill", "idempotency_key": "refund-test-0001"}));
    let again = s.ok("process_refund", json!({"order_id": DELIVERED, "amount_cents": 500, "reason": "goodwill", "idempotency_key": "refund-test-0001"}));
    assert_eq!(
        (refund["id"].clone(), again["replayed"].clone()),
        (again["id"].clone(), json!(true)),
        "a repeated key replays"
    );
    s.err("process_refund", json!({"order_id": DELIVERED, "amount_cents": 900000000, "reason": "damaged", "idempotency_key": "refund-test-0002"}), "remain refundable");
    // A key names one refund: reused for another order or amount it is refused, never replayed.
    s.err("process_refund", json!({"order_id": "ORD-20250925-1296", "amount_cents": 500, "reason": "goodwill", "idempotency_key": "refund-test-0001"}), "already used");
    s.err("process_refund", json!({"order_id": DELIVERED, "amount_cents": 501, "reason": "goodwill", "idempotency_key": "refund-test-0001"}), "already used");
    // Orders nobody paid for have nothing to refund.
    s.err("process_refund", json!({"order_id": "ORD-20251103-1370", "amount_cents": 100, "reason": "goodwill", "idempotency_key": "refund-test-pending"}), "nothing was paid");
    s.err(
        "process_refund",
        json!({"order_id": "ORD-20250109-1444", "reason": "goodwill", "idempotency_key": "refund-test-cancelled"}),
        "nothing was paid",
    );
    s.err(
        "process_refund",
        json!({"order_id": DELIVERED, "reason": "sorry", "idempotency_key": "refund-test-0003"}),
        "invalid arguments",
    );
    let ticket = s.ok("escalate_to_human", json!({"customer_id": "CUST-0004", "order_id": DELIVERED, "priority": "urgent", "summary": "Customer asks for a supervisor about a late refund."}));
    assert!(ticket["ticket_id"].as_str().is_some_and(|t| t.starts_with("TCK-")));
    s.err(
        "escalate_to_human",
        json!({"customer_id": "CUST-0004", "priority": "whenever", "summary": "Customer asks for a supervisor."}),
        "invalid arguments",
    );

    // Resources, templates and prompts.
    let policy = s.peer.modern("resources/read", json!({"uri": "shop://policies/returns"}), json!({}));
    assert!(policy.pointer("/result/contents/0/text").and_then(Value::as_str).is_some_and(|t| t.contains("30 days")));
    let schema = s.peer.modern("resources/read", json!({"uri": "db://shop/schema"}), json!({}));
    assert!(
        schema.pointer("/result/contents/0/text").and_then(Value::as_str).is_some_and(|t| t.contains("order_items")),
        "{schema}"
    );
    let one = s.peer.modern("resources/read", json!({"uri": format!("shop://orders/{DELIVERED}")}), json!({}));
    assert!(
        one.pointer("/result/contents/0/text").and_then(Value::as_str).is_some_and(|t| t.contains("delivered")),
        "{one}"
    );
    let missing = s.peer.modern("resources/read", json!({"uri": "shop://orders/ORD-20000101-0000"}), json!({}));
    assert_eq!(missing.pointer("/error/code"), Some(&json!(-32602)));
    let churn = s.peer.modern(
        "prompts/get",
        json!({"name": "analyze_customer_churn", "arguments": {"customer_id": "CUST-0004"}}),
        json!({}),
    );
    let text = churn.pointer("/result/messages/0/content/text").and_then(Value::as_str).unwrap_or_default();
    assert!(text.contains("Linus Torvalds") && text.contains("TCK-0003"), "{text}");
    let done = s.peer.modern("completion/complete", json!({"ref": {"type": "ref/prompt", "name": "analyze_customer_churn"}, "argument": {"name": "customer_id", "value": "CUST-001"}}), json!({}));
    assert_eq!(
        done.pointer("/result/completion/values"),
        Some(&json!(["CUST-0010", "CUST-0011", "CUST-0012"])),
        "{done}"
    );
}

fn concurrency(backend: Backend) {
    let mut s = Shop::start(backend);
    // 50 orders of one unit race for the last 10 units.
    let calls: Vec<(&str, Value)> = (0..50).map(|i| ("create_order", json!({"customer_id": format!("CUST-{:04}", 1 + i % 12), "items": [{"sku": "LTD-EDITION-1", "quantity": 1}]}))).collect();
    let results = s.concurrently(calls);
    let won = results.iter().filter(|r| r["isError"] != true).count();
    assert_eq!(won, 10, "exactly the 10 units in stock are sold: {results:?}");
    assert!(results
        .iter()
        .filter(|r| r["isError"] == true)
        .all(|r| r["content"][0]["text"].as_str().is_some_and(|t| t.contains("insufficient stock"))));
    assert_eq!(s.ok("check_inventory", json!({"sku": "LTD-EDITION-1"}))["rows"][0]["quantity"], 0, "never negative");
    let orders: Vec<String> =
        results.iter().filter_map(|r| r["structuredContent"]["order_id"].as_str().map(str::to_owned)).collect();
    let unique: std::collections::HashSet<&String> = orders.iter().collect();
    assert_eq!(unique.len(), 10);
    // Concurrent partial refunds never exceed the order total (262300 cents).
    let calls: Vec<(&str, Value)> = (0..12).map(|i| ("process_refund", json!({"order_id": DELIVERED, "amount_cents": 30000, "reason": "goodwill", "idempotency_key": format!("conc-refund-{i:04}")}))).collect();
    let results = s.concurrently(calls);
    let refunded: i64 = results
        .iter()
        .filter(|r| r["isError"] != true)
        .filter_map(|r| r["structuredContent"]["amount_cents"].as_i64())
        .sum();
    // 262300 total, minus the seeded refund of one laptop line (129900): 132400 refundable.
    assert!(refunded <= 132_400, "over-refunded: {refunded}");
    assert_eq!(refunded, 120_000, "four of 30000 fit in 132400: {results:?}");
    // The same key, concurrently: one refund, the rest replay it.
    let calls: Vec<(&str, Value)> = (0..8).map(|_| ("process_refund", json!({"order_id": DELIVERED, "amount_cents": 100, "reason": "goodwill", "idempotency_key": "same-key-0001"}))).collect();
    let results = s.concurrently(calls);
    let ids: std::collections::HashSet<String> =
        results.iter().filter_map(|r| r["structuredContent"]["id"].as_str().map(str::to_owned)).collect();
    assert_eq!(ids.len(), 1, "one refund for one key: {results:?}");
}

fn injection(backend: Backend) {
    let mut s = Shop::start(backend);
    let before = s.ok("get_customer_history", json!({"customer_id": "CUST-0001", "limit": 50}));
    let payloads = [
        "' OR '1'='1",
        "'; DROP TABLE orders; --",
        "\" OR \"\"=\"",
        "1; DELETE FROM inventory",
        "ORD-20250204-1037' --",
        "/* comment */ SELECT 1",
        "\\'; UPDATE products SET price_cents = 0; --",
        "ｓｅｌｅｃｔ＊ 🧨 ' OR 1=1 --",
        "%' UNION SELECT sku, name, category_id, price_cents, description FROM products --",
    ];
    for p in payloads {
        for (tool, args) in [
            ("get_order_status", json!({"order_id": p})),
            ("get_order", json!({"order_id": p})),
            ("get_order", json!({"email": p})),
            ("search_products", json!({"query": p})),
            ("search_products", json!({"query": "a", "category": p})),
            ("check_inventory", json!({"sku": p})),
            ("realtime_stock", json!({"skus": [p]})),
            ("get_customer", json!({"customer_id": p})),
            ("get_customer_history", json!({"customer_id": p})),
            ("get_recommendations", json!({"customer_id": p})),
            ("create_order", json!({"customer_id": p, "items": [{"sku": p, "quantity": 1}]})),
            ("process_return", json!({"order_id": p, "sku": p, "quantity": 1, "reason": p})),
            ("process_refund", json!({"order_id": p, "reason": "goodwill", "idempotency_key": format!("inj-{p}")})),
            ("escalate_to_human", json!({"customer_id": p, "priority": "low", "summary": format!("payload {p}")})),
        ] {
            let r = s.call(tool, args.clone());
            // Either rows/results or a readable error; never a protocol failure.
            assert!(r.get("content").is_some(), "{tool} {args}: {r}");
            if tool == "search_products" && r["isError"] != true {
                let n = r["structuredContent"]["rows"].as_array().map_or(0, Vec::len);
                assert!(n <= 1, "{tool} with {p:?} leaked rows: {r}");
            }
        }
    }
    let after = s.ok("get_customer_history", json!({"customer_id": "CUST-0001", "limit": 50}));
    assert_eq!(before, after, "nothing changed");
    assert_eq!(
        s.ok("check_inventory", json!({"sku": "AUD-HP-100"}))["rows"].as_array().map(Vec::len),
        Some(4),
        "inventory intact"
    );
    let price = s.ok("search_products", json!({"query": "Studio Headphones"}));
    assert_eq!(price["rows"][0]["price_cents"], 14999, "prices intact");
    // LIKE wildcards in a search match themselves: no product name has a % or a _ in it.
    for wildcard in ["%", "_", "%%", "Studio%Headphones", "Studio_Headphones", "!", "!%"] {
        let found = s.ok("search_products", json!({"query": wildcard}));
        assert_eq!(found["rows"].as_array().map(Vec::len), Some(0), "{wildcard:?} matched: {found}");
    }
}

#[test]
fn sqlite_every_tool() {
    every_tool(Backend::Sqlite);
}
#[test]
fn sqlite_concurrency() {
    concurrency(Backend::Sqlite);
}
#[test]
fn sqlite_injection() {
    injection(Backend::Sqlite);
}
#[test]
fn postgres_every_tool() {
    every_tool(Backend::Postgres);
}
#[test]
fn postgres_concurrency() {
    concurrency(Backend::Postgres);
}
#[test]
fn postgres_injection() {
    injection(Backend::Postgres);
}
#[test]
fn mariadb_every_tool() {
    every_tool(Backend::Mariadb);
}
#[test]
fn mariadb_concurrency() {
    concurrency(Backend::Mariadb);
}
#[test]
fn mariadb_injection() {
    injection(Backend::Mariadb);
}

/// A refund locks the order's earlier refunds; on MySQL that lock covers every row the read
/// scans, so the read must go through an index on `order_id`, not the whole table.
#[test]
fn mariadb_refund_locks_read_through_an_index() {
    let mut s = Shop::start(Backend::Mariadb);
    s.ok("get_order_status", json!({"order_id": DELIVERED}));
    let name = s.drop_db.as_ref().map(|(_, n)| n.clone()).expect("a MariaDB database");
    let out = Command::new("mysql")
        .args(["-h", "127.0.0.1", "-u", "root", "-N", &name, "-e"])
        .arg("EXPLAIN SELECT amount_cents FROM refunds WHERE order_id = 'ORD-20250204-1037' FOR UPDATE")
        .output()
        .expect("mysql runs");
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && plan.contains("refunds_order"), "the lock reads by index: {plan}");
}

/// Clients auto-approve tools that say they change nothing; the shop's must tell the truth.
#[test]
fn the_shops_annotations_tell_the_truth() {
    let mut s = Shop::start(Backend::Sqlite);
    let list = s.peer.modern("tools/list", json!({}), json!({}));
    let tools = list["result"]["tools"].as_array().cloned().unwrap_or_default();
    let hints = |name: &str| {
        let t = tools.iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("{name} listed"));
        (t["annotations"]["readOnlyHint"].clone(), t["annotations"]["destructiveHint"].clone())
    };
    for name in ["get_order_status", "get_order", "search_products", "realtime_stock", "get_customer"] {
        assert_eq!(hints(name).0, true, "{name} reads only");
    }
    // Money out, stock reserved, an order's state changed: a client must ask first.
    for name in ["process_refund", "create_order", "process_return"] {
        assert_eq!(hints(name), (json!(false), json!(true)), "{name} changes what exists");
    }
    // A new ticket changes nothing that was there.
    assert_eq!(hints("escalate_to_human"), (json!(false), json!(false)));
}

/// The README's run command, reached by the official Python SDK over Streamable HTTP.
#[test]
fn python_sdk_checks_an_order_on_the_readme_command() {
    let data = scratch("shop-readme");
    let config = repo_root().join("examples/shop/shop.yaml");
    let srv = switchboard_testkit::process::ServerProcess::spawn(
        &switchboard_bin(),
        &[
            "serve",
            "--config",
            &config.to_string_lossy(),
            "--data-dir",
            &data.to_string_lossy(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let mut cmd = Command::new(crate::interop::peers().join("py2/bin/python"));
    cmd.arg(repo_root().join("tests/interop/py_client.py")).args([
        "--http",
        &srv.mcp_url(),
        "--call",
        "get_order_status",
        "--args",
        &json!({"order_id": DELIVERED}).to_string(),
    ]);
    let out = crate::interop::run(cmd, "the Python SDK against the shop");
    assert_eq!(out["call"]["structuredContent"]["status"], "delivered", "{out}");
}

#[test]
fn the_published_config_schema_is_current_and_the_shop_config_checks() {
    let out = Command::new(switchboard_bin()).args(["config", "schema"]).output().expect("config schema");
    let published =
        std::fs::read_to_string(repo_root().join("docs/config.schema.json")).expect("docs/config.schema.json");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        published,
        "regenerate with: switchboard config schema > docs/config.schema.json"
    );
    let ok = Command::new(switchboard_bin())
        .args(["config", "check"])
        .arg(repo_root().join("examples/shop/shop.yaml"))
        .output()
        .expect("config check");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}

#[test]
fn config_errors_name_file_line_and_column() {
    let dir = scratch("bad-config");
    let cases = [
        ("server:\n  name: x\n  colour: blue\n", "3:", "colour"),
        ("tools:\n  t:\n    description: d\n    source: nowhere\n    statements: [{sql: SELECT 1}]\n", "", "unknown source"),
        ("sources:\n  db: {kind: sqlite, path: a.db}\ntools:\n  t:\n    description: d\n    source: db\n    statements: [{sql: \"SELECT :missing\"}]\n", "", ":missing"),
        ("server:\n  name: ${SURELY_UNSET_VARIABLE_123}\n", "2", "SURELY_UNSET_VARIABLE_123"),
        ("sources: [1, 2]\n", "1:", "expected a map"),
    ];
    for (i, (text, line, mentions)) in cases.iter().enumerate() {
        let file = dir.with_file_name(format!("bad-{i}.yaml"));
        std::fs::write(&file, text).expect("write");
        let out = Command::new(switchboard_bin()).args(["config", "check"]).arg(&file).output().expect("config check");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "case {i} should fail");
        assert!(err.contains(&format!("bad-{i}.yaml:{line}")) && err.contains(mentions), "case {i}: {err}");
    }
}

/// Editing the config while a client listens: the new tool is announced and callable; a broken
/// edit is refused and the previous catalog keeps serving.
#[test]
fn hot_reload_swaps_the_catalog_and_survives_a_broken_edit() {
    let dir = scratch("reload").with_file_name("shop-reload");
    std::fs::create_dir_all(&dir).expect("dir");
    for f in ["shop.yaml", "schema.sql", "seed.sql", "return_policy.md"] {
        std::fs::copy(repo_root().join("examples/shop").join(f), dir.join(f)).expect("copy");
    }
    let config = dir.join("shop.yaml");
    let mut peer = crate::stdio_config(&config, &dir.join("data"));
    let meta = modern_meta(json!({}));
    peer.send(&json!({"jsonrpc": "2.0", "id": "watch", "method": "subscriptions/listen", "params": {"_meta": meta, "notifications": {"toolsListChanged": true}}}));
    let ack = peer.recv();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged", "{ack}");
    let original = std::fs::read_to_string(&config).expect("read");
    let added = original.replacen(
        "tools:\n",
        "tools:\n  count_customers:\n    description: How many customers the shop has.\n    source: shop\n    statements:\n      - sql: SELECT COUNT(*) AS customers FROM customers\n    result: one\n",
        1,
    );
    // Make sure the modification time moves even on coarse clocks.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&config, &added).expect("write");
    let note = peer.recv_timeout(std::time::Duration::from_secs(10));
    assert_eq!(note["method"], "notifications/tools/list_changed", "{note}");
    let r = peer.modern("tools/call", json!({"name": "count_customers", "arguments": {}}), json!({}));
    assert_eq!(r.pointer("/result/structuredContent/customers"), Some(&json!(12)), "{r}");

    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&config, format!("{added}\n  this is: [not valid yaml\n")).expect("write");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let r = peer.modern("tools/call", json!({"name": "count_customers", "arguments": {}}), json!({}));
    assert_eq!(r.pointer("/result/structuredContent/customers"), Some(&json!(12)), "the old catalog still serves: {r}");
    assert!(
        peer.notifications.iter().all(|n| n["method"] != "notifications/tools/list_changed"),
        "a rejected edit announces nothing"
    );
}
