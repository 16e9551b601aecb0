//! Returns: `process_return`, for delivered orders inside the return window — one or more
//! items of that order in one call, not already returned, not final-sale; or damage reported
//! within a week of delivery, which needs no return shipment. All lines are recorded together
//! or none is.

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
/// How long after delivery damage (or a wrong item) may be reported.
pub const DAMAGE_WINDOW_DAYS: i64 = 7;

/// The table of final-sale SKUs, for databases made before it existed.
const FINAL_SALE_TABLE: &str = "CREATE TABLE IF NOT EXISTS final_sale_items (sku VARCHAR(32) PRIMARY KEY)";

/// Arguments of `process_return`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ReturnArgs {
    /// The order (ORD-YYYYMMDD-XXXXXXXX, or -XXXX for older orders).
    pub order_id: String,
    /// The items to return, each SKU once.
    #[serde(default)]
    #[schemars(length(min = 1, max = 50))]
    pub items: Option<Vec<ReturnLine>>,
    /// One item to return (instead of `items`).
    #[serde(default)]
    pub sku: Option<String>,
    /// How many of `sku`.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub quantity: Option<i64>,
    /// Why, in the customer's words.
    #[schemars(length(min = 3, max = 500))]
    pub reason: String,
    /// The items arrived damaged or wrong: reported within 7 days of delivery, they are
    /// refunded or replaced without being sent back (final-sale items included).
    #[serde(default)]
    pub damaged: bool,
    /// Only an order of this customer (bound to a customer's own id through `from_principal`;
    /// staff may leave it out).
    #[serde(default)]
    pub customer_id: Option<String>,
}

/// One item of a return.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ReturnLine {
    /// The item's SKU.
    pub sku: String,
    /// How many.
    #[schemars(range(min = 1, max = 100))]
    pub quantity: i64,
}

impl ReturnArgs {
    /// The lines asked for, whichever form was used.
    fn lines(&self) -> Result<Vec<ReturnLine>, HandlerError> {
        let lines = match (&self.items, &self.sku, self.quantity) {
            (Some(items), None, None) => items.clone(),
            (None, Some(sku), Some(quantity)) => vec![ReturnLine { sku: sku.clone(), quantity }],
            (None, Some(_), None) => return Err(HandlerError::msg("give the quantity of the SKU to return")),
            (None, None, _) => return Err(HandlerError::msg("give the items to return: items: [{sku, quantity}]")),
            _ => return Err(HandlerError::msg("give either items or sku and quantity, not both")),
        };
        if lines.is_empty() {
            return Err(HandlerError::msg("items is empty: name at least one item to return"));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = lines.iter().find(|l| !seen.insert(l.sku.as_str())) {
            return Err(HandlerError::msg(format!("SKU {} appears twice; combine the lines", dup.sku)));
        }
        Ok(lines)
    }
}

fn sum_quantity(rs: &[Map<String, Value>]) -> i64 {
    rs.iter().filter_map(|r| r.get("quantity").and_then(Value::as_i64)).sum()
}

/// Registers `process_return`.
pub(crate) fn process_return(router: Router, name: &str, description: &str, db: Database) -> Router {
    let db = Arc::new(db);
    // Made once per process (older databases lack the table; then nothing is final sale).
    let final_sale_ready = Arc::new(tokio::sync::OnceCell::<()>::new());
    router.tool(tool::<ReturnArgs>(name, description, Effect::Changes, false), move |args, _| {
        let (db, final_sale_ready) = (db.clone(), final_sale_ready.clone());
        async move {
            let a: ReturnArgs = args.parse()?;
            let lines = a.lines()?;
            final_sale_ready
                .get_or_try_init(|| async {
                    sqlx::query(FINAL_SALE_TABLE).execute(&db.pool).await.map(|_| ()).map_err(db_failed)
                })
                .await?;
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
            let Some(days) = days_since(delivered) else {
                return Err(HandlerError::msg(format!("order {} has no delivery date", a.order_id)));
            };
            if a.damaged && days > DAMAGE_WINDOW_DAYS {
                return Err(HandlerError::msg(format!(
                    "order {} was delivered {days} days ago; damaged or wrong items must be reported within {DAMAGE_WINDOW_DAYS} days of delivery{}",
                    a.order_id,
                    if days <= RETURN_WINDOW_DAYS { " (a regular return without damage is still possible)" } else { "" }
                )));
            }
            if days > RETURN_WINDOW_DAYS {
                return Err(HandlerError::msg(format!("order {} was delivered {days} days ago; the return window is {RETURN_WINDOW_DAYS} days", a.order_id)));
            }
            for line in &lines {
                let p = params(&[("o", json!(a.order_id)), ("s", json!(line.sku))]);
                let ordered = sum_quantity(&rows(&db, &mut tx, "SELECT quantity FROM order_items WHERE order_id = :o AND sku = :s", &p).await?);
                if ordered == 0 {
                    return Err(HandlerError::msg(format!("SKU {} is not part of order {}", line.sku, a.order_id)));
                }
                if !a.damaged {
                    let final_sale = rows(&db, &mut tx, "SELECT sku FROM final_sale_items WHERE sku = :s", &p).await?;
                    if !final_sale.is_empty() {
                        return Err(HandlerError::msg(format!(
                            "SKU {} was sold as final sale and cannot be returned (damaged or wrong items reported within {DAMAGE_WINDOW_DAYS} days of delivery are the exception)",
                            line.sku
                        )));
                    }
                }
                let returned = sum_quantity(&rows(&db, &mut tx, "SELECT quantity FROM returns WHERE order_id = :o AND sku = :s", &p).await?);
                if returned + line.quantity > ordered {
                    return Err(HandlerError::msg(format!(
                        "only {} of {} × {} can still be returned on order {}",
                        ordered - returned, ordered, line.sku, a.order_id
                    )));
                }
            }
            // Damage needs no shipment back: no label.
            let (status, label) = if a.damaged {
                ("damage_reported", String::new())
            } else {
                ("label_issued", format!("RL-{}", random_digits(10)))
            };
            let (_, date) = today();
            let mut recorded = Vec::with_capacity(lines.len());
            for line in &lines {
                let return_id = format!("RT-{}", random_digits(8));
                exec(
                    &db,
                    &mut tx,
                    "INSERT INTO returns (id, order_id, sku, quantity, reason, status, label_ref, created_at) VALUES (:id, :o, :s, :q, :r, :st, :l, :d)",
                    &params(&[("id", json!(return_id)), ("o", json!(a.order_id)), ("s", json!(line.sku)), ("q", json!(line.quantity)), ("r", json!(a.reason)), ("st", json!(status)), ("l", json!(label)), ("d", json!(date))]),
                )
                .await?;
                recorded.push(json!({"return_id": return_id, "sku": line.sku, "quantity": line.quantity}));
            }
            tx.commit().await.map_err(db_failed)?;
            let mut result = json!({"order_id": a.order_id, "status": status, "items": recorded});
            if a.damaged {
                result["next_step"] = json!("no need to send the items back: support will refund or replace them");
            } else {
                result["label_ref"] = json!(label);
            }
            // One item asked for the single-item way: its fields at the top level too, as before.
            if let ([only], Some(_)) = (recorded.as_slice(), &a.sku) {
                result["return_id"] = only["return_id"].clone();
                result["sku"] = only["sku"].clone();
                result["quantity"] = only["quantity"].clone();
            }
            Ok(CallToolResult::structured(result))
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
