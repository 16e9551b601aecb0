//! Stock: `realtime_stock`, the current quantity of each SKU per warehouse.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_gateway::source::sql::Database;
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::Router;

use crate::common::{db_failed, params, rows, tool, Effect};

/// Arguments of `realtime_stock`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct SkusArgs {
    /// The SKUs to check (1-50).
    #[schemars(length(min = 1, max = 50))]
    pub skus: Vec<String>,
}

/// Registers `realtime_stock`.
pub(crate) fn realtime_stock(router: Router, name: &str, description: &str, db: Database) -> Router {
    let db = Arc::new(db);
    router.tool(tool::<SkusArgs>(name, description, Effect::Reads, true), move |args, _| {
        let db = db.clone();
        async move {
            let a: SkusArgs = args.parse()?;
            let mut tx = db.pool.begin().await.map_err(db_failed)?;
            let mut out = Vec::new();
            for sku in &a.skus {
                let stock = rows(
                    &db,
                    &mut tx,
                    "SELECT warehouse_id, quantity FROM inventory WHERE sku = :sku ORDER BY warehouse_id",
                    &params(&[("sku", json!(sku))]),
                )
                .await?;
                let known =
                    !rows(&db, &mut tx, "SELECT sku FROM products WHERE sku = :sku", &params(&[("sku", json!(sku))]))
                        .await?
                        .is_empty();
                let total: i64 = stock.iter().filter_map(|r| r.get("quantity").and_then(Value::as_i64)).sum();
                out.push(json!({"sku": sku, "known": known, "total": total, "warehouses": stock}));
            }
            tx.commit().await.map_err(db_failed)?;
            Ok(CallToolResult::structured(json!({"stock": out})))
        }
    })
}
