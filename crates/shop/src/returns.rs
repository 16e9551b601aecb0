//! Returns: `process_return`, for delivered orders inside the return window, items of that
//! order not already returned; creates the return with a label reference.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use switchboard_gateway::source::sql::Database;
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, Router};

use crate::common::{db_failed, exec, lock_suffix, params, random_digits, rows, today, tool, Effect};

/// How long after delivery an item may be returned.
pub const RETURN_WINDOW_DAYS: i64 = 30;

/// Arguments of `process_return`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ReturnArgs {
    /// The order (ORD-YYYYMMDD-XXXX).
    pub order_id: String,
    /// The item to return.
    pub sku: String,
    /// How many.
    #[schemars(range(min = 1, max = 100))]
    pub quantity: i64,
    /// Why, in the customer's words.
    #[schemars(length(min = 3, max = 500))]
    pub reason: String,
    /// Only an order of this customer (bound to a customer's own id through `from_principal`;
    /// staff may leave it out).
    #[serde(default)]
    pub customer_id: Option<String>,
}

/// Registers `process_return`.
pub(crate) fn process_return(router: Router, name: &str, description: &str, db: Database) -> Router {
    let db = Arc::new(db);
    router.tool(tool::<ReturnArgs>(name, description, Effect::Changes, false), move |args, _| {
        let db = db.clone();
        async move {
            let a: ReturnArgs = args.parse()?;
            let mut tx = db.pool.begin().await.map_err(db_failed)?;
            let order = rows(
                &db,
                &mut tx,
                &format!("SELECT status, delivered_at FROM orders WHERE id = :id AND (:c IS NULL OR customer_id = :c){}", lock_suffix(&db)),
                &params(&[("id", json!(a.order_id)), ("c", json!(a.customer_id))]),
            )
            .await?;
            let Some(order) = order.first() else {
                return Err(HandlerError::msg(format!("order {} does not exist", a.order_id)));
            };
            let status = order.get("status").and_then(Value::as_str).unwrap_or_default();
            if status != "delivered" {
                return Err(HandlerError::msg(format!("order {} is {status}; only delivered orders can be returned", a.order_id)));
            }
            let delivered = order.get("delivered_at").and_then(Value::as_str).unwrap_or_default();
            match days_since(delivered) {
                Some(d) if d <= RETURN_WINDOW_DAYS => {}
                Some(d) => return Err(HandlerError::msg(format!("order {} was delivered {d} days ago; the return window is {RETURN_WINDOW_DAYS} days", a.order_id))),
                None => return Err(HandlerError::msg(format!("order {} has no delivery date", a.order_id))),
            }
            let sum = |rs: Vec<Map<String, Value>>| -> i64 { rs.iter().filter_map(|r| r.get("quantity").and_then(Value::as_i64)).sum() };
            let ordered = sum(rows(&db, &mut tx, "SELECT quantity FROM order_items WHERE order_id = :o AND sku = :s", &params(&[("o", json!(a.order_id)), ("s", json!(a.sku))])).await?);
            if ordered == 0 {
                return Err(HandlerError::msg(format!("SKU {} is not part of order {}", a.sku, a.order_id)));
            }
            let returned = sum(rows(&db, &mut tx, "SELECT quantity FROM returns WHERE order_id = :o AND sku = :s", &params(&[("o", json!(a.order_id)), ("s", json!(a.sku))])).await?);
            if returned + a.quantity > ordered {
                return Err(HandlerError::msg(format!(
                    "only {} of {} × {} can still be returned on order {}",
                    ordered - returned, ordered, a.sku, a.order_id
                )));
            }
            let return_id = format!("RT-{}", random_digits(8));
            let label = format!("RL-{}", random_digits(10));
            let (_, date) = today();
            exec(
                &db,
                &mut tx,
                "INSERT INTO returns (id, order_id, sku, quantity, reason, status, label_ref, created_at) VALUES (:id, :o, :s, :q, :r, 'label_issued', :l, :d)",
                &params(&[("id", json!(return_id)), ("o", json!(a.order_id)), ("s", json!(a.sku)), ("q", json!(a.quantity)), ("r", json!(a.reason)), ("l", json!(label)), ("d", json!(date))]),
            )
            .await?;
            tx.commit().await.map_err(db_failed)?;
            Ok(CallToolResult::structured(json!({"return_id": return_id, "order_id": a.order_id, "sku": a.sku, "quantity": a.quantity, "status": "label_issued", "label_ref": label})))
        }
    })
}

/// Days from the `YYYY-MM-DD` date at the start of `date` to `today`.
fn days_between(date: &str, today: jiff::civil::Date) -> Option<i64> {
    let date: jiff::civil::Date = date.get(..10)?.parse().ok()?;
    Some(i64::from(date.until(today).ok()?.get_days()))
}

/// Days from the `YYYY-MM-DD` date at the start of `date` to today (UTC).
fn days_since(date: &str) -> Option<i64> {
    days_between(date, crate::common::today_utc())
}

#[cfg(test)]
mod tests {
    use super::days_between;

    #[test]
    fn days_are_counted_across_months_and_leap_days() {
        let today = jiff::civil::date(2024, 3, 1);
        assert_eq!(days_between("2024-03-01", today), Some(0));
        assert_eq!(days_between("2024-02-28T10:00:00Z", today), Some(2));
        assert_eq!(days_between("2023-03-01", today), Some(366));
        assert_eq!(days_between("2024-03-02", today), Some(-1));
        assert_eq!(days_between("not a date", today), None);
        assert_eq!(super::days_since(&crate::common::today().1), Some(0));
    }
}
