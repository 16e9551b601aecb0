//! The shop's config builds with these natives: `examples/shop/shop.yaml` parses, its SQLite
//! database is created and seeded (dates from `days_ago`), and every `native: shop.*` it names is
//! registered; without the shop's natives the same config is refused by name.

use std::path::{Path, PathBuf};

use switchboard_gateway::{BuildError, Config, Env, NativeTools};

fn shop_config() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop/shop.yaml");
    let text = std::fs::read_to_string(&path).expect("examples/shop/shop.yaml");
    switchboard_gateway::check(&text, &path, &Env::new()).unwrap_or_else(|e| panic!("{e}"))
}

fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-shop-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("data dir");
    dir
}

#[tokio::test]
async fn the_example_shop_builds_with_its_natives() {
    let config = shop_config();
    let dir = data_dir("build");
    let catalog = switchboard_gateway::build(&config, &dir, &crate::natives(), &switchboard_gateway::Upstreams::new())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let db = catalog.databases.get("shop").expect("the shop database");
    let rows = sqlx::query("SELECT delivered_at FROM orders WHERE delivered_at IS NOT NULL")
        .fetch_all(&db.pool)
        .await
        .expect("seeded orders");
    assert!(!rows.is_empty());
    for row in &rows {
        let date: String = sqlx::Row::try_get(row, 0).expect("text");
        assert!(date.get(..10).and_then(|d| d.parse::<jiff::civil::Date>().ok()).is_some(), "{date}");
    }
    // Its policy fits the tools as built: every `from_principal` names a real parameter (the
    // natives' included), and a customer sees those parameters filled, not asked for.
    let guardrails = switchboard_gateway::Guardrails::new(&config, &dir).await.unwrap_or_else(|e| panic!("{e}"));
    let catalog = catalog.compile(&config, &guardrails).unwrap_or_else(|e| panic!("{e}"));
    let customer = switchboard_mcp::server::Principal::new(
        "CUST-0001",
        vec!["customer".into()],
        serde_json::json!({"customer_id": "CUST-0001"}).as_object().cloned().unwrap_or_default(),
    );
    let policy = catalog.policy();
    assert!(!policy.allows_tool("process_refund", &customer) && !policy.allows_tool("get_customer", &customer));
    let status = catalog.tool("get_order_status").expect("get_order_status");
    assert!(status.tool().input_schema["properties"].get("customer_id").is_some());
    let shaped = policy.shape_tool(status.tool(), &customer);
    assert!(shaped.input_schema["properties"].get("customer_id").is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn without_the_natives_the_config_is_refused_by_name() {
    let config = shop_config();
    let dir = data_dir("refused");
    let e = switchboard_gateway::build(&config, &dir, &NativeTools::new(), &switchboard_gateway::Upstreams::new())
        .await
        .expect_err("no natives");
    assert!(
        matches!(&e, BuildError::Invalid(m) if m.contains("unknown native tool \"shop.get_order_status\" (known: none are registered)")),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
