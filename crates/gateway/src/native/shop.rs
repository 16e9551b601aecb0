//! The shop's write tools. Each runs in one transaction: it either does everything or changes
//! nothing, and every refusal is a readable tool error.
//!
//! - `create_order`: any number of lines, each reserving stock with a conditional update
//!   (`... AND quantity >= n`), so concurrent orders can never oversell or drive stock negative.
//! - `process_refund`: full or partial, never above what remains refundable; the order row is
//!   locked (`FOR UPDATE` on PostgreSQL/MySQL; SQLite serializes writers), and a repeated
//!   idempotency key returns the first refund without writing.
//! - `process_return`: delivered orders only, inside the return window, items of that order, not
//!   already returned; creates the return with a label reference.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sqlx::{Any, Transaction};
use switchboard_mcp::protocol::tools::{CallToolResult, Tool, ToolAnnotations};
use switchboard_mcp::server::{input_schema_of, HandlerError, Router};

use crate::config::SourceKind;
use crate::sql::{self, Database};

/// How long after delivery an item may be returned.
pub const RETURN_WINDOW_DAYS: i64 = 30;

fn tool<A: JsonSchema>(name: &str, description: &str, read_only: bool, idempotent: bool) -> Tool {
    let mut t = Tool::new(name, description, input_schema_of::<A>());
    t.annotations = Some(ToolAnnotations {
        read_only_hint: Some(read_only),
        destructive_hint: Some(false),
        idempotent_hint: Some(idempotent),
        open_world_hint: Some(false),
        ..ToolAnnotations::default()
    });
    t
}

fn db_failed(e: sqlx::Error) -> HandlerError {
    tracing::warn!(target: "switchboard::gateway", error = %e, "shop statement failed");
    HandlerError::msg(format!("the shop database refused the operation: {e}"))
}

/// Runs `sql` (with `:name` placeholders) in `tx` and returns the rows as JSON.
async fn rows(
    db: &Database,
    tx: &mut Transaction<'static, Any>,
    sql_text: &str,
    args: &Map<String, Value>,
) -> Result<Vec<Map<String, Value>>, HandlerError> {
    let compiled = sql::compile(sql_text, db.kind);
    let rows = sql::bind(&compiled, args).fetch_all(&mut **tx).await.map_err(db_failed)?;
    Ok(rows.iter().map(sql::row_to_json).collect())
}

async fn exec(
    db: &Database,
    tx: &mut Transaction<'static, Any>,
    sql_text: &str,
    args: &Map<String, Value>,
) -> Result<u64, HandlerError> {
    let compiled = sql::compile(sql_text, db.kind);
    Ok(sql::bind(&compiled, args).execute(&mut **tx).await.map_err(db_failed)?.rows_affected())
}

fn params(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn lock_suffix(db: &Database) -> &'static str {
    match db.kind {
        SourceKind::Sqlite | SourceKind::Http => "",
        SourceKind::Postgres | SourceKind::Mysql => " FOR UPDATE",
    }
}

/// `n` random decimal digits (order, refund and label numbers; not secrets).
fn random_digits(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    if getrandom::fill(&mut bytes).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
        bytes.iter_mut().enumerate().for_each(|(i, b)| *b = (t >> (i % 4 * 8)) as u8);
    }
    bytes.iter().map(|b| char::from(b'0' + b % 10)).collect()
}

fn today() -> (String, String) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let iso = iso_date(now as i64);
    (iso.replace('-', ""), iso)
}

/// `YYYY-MM-DD` of a Unix time (seconds).
pub fn iso_date(secs: i64) -> String {
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days from `YYYY-MM-DD` to today.
fn days_since(date: &str) -> Option<i64> {
    let mut parts = date.get(..10)?.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64 / 86_400;
    Some(now - days)
}

/// One order line.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct OrderLine {
    /// The product SKU.
    pub sku: String,
    /// How many (1-100).
    #[schemars(range(min = 1, max = 100))]
    pub quantity: i64,
}

/// Arguments of `create_order`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct CreateOrderArgs {
    /// The customer placing the order (e.g. CUST-0001).
    pub customer_id: String,
    /// The lines: each SKU once, 1-20 lines.
    #[schemars(length(min = 1, max = 20))]
    pub items: Vec<OrderLine>,
}

/// Registers `create_order`.
pub fn create_order(router: Router, name: &str, description: &str, db: Database) -> Router {
    let db = Arc::new(db);
    router.tool(tool::<CreateOrderArgs>(name, description, false, false), move |args, _| {
        let db = db.clone();
        async move {
            let a: CreateOrderArgs = args.parse()?;
            let mut attempt = 0;
            loop {
                attempt += 1;
                match try_create_order(&db, &a).await {
                    Err(Retry::Again) if attempt < 5 => continue,
                    Err(Retry::Again) => {
                        return Err(HandlerError::msg("could not allocate an order number; try again"))
                    }
                    Err(Retry::Fail(e)) => return Err(e),
                    Ok(r) => return Ok(r),
                }
            }
        }
    })
}

enum Retry {
    Again,
    Fail(HandlerError),
}

impl From<HandlerError> for Retry {
    fn from(e: HandlerError) -> Self {
        Retry::Fail(e)
    }
}

async fn try_create_order(db: &Database, a: &CreateOrderArgs) -> Result<CallToolResult, Retry> {
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = a.items.iter().find(|l| !seen.insert(l.sku.clone())) {
        return Err(HandlerError::msg(format!("SKU {} appears twice; combine the lines", dup.sku)).into());
    }
    let mut tx = db.pool.begin().await.map_err(db_failed)?;
    let customer =
        rows(db, &mut tx, "SELECT id FROM customers WHERE id = :id", &params(&[("id", json!(a.customer_id))])).await?;
    if customer.is_empty() {
        return Err(HandlerError::msg(format!("customer {} does not exist", a.customer_id)).into());
    }
    let (stamp, date) = today();
    let order_id = format!("ORD-{stamp}-{}", random_digits(4));
    let mut total = 0i64;
    let mut lines = Vec::new();
    for (i, line) in a.items.iter().enumerate() {
        let product = rows(
            db,
            &mut tx,
            "SELECT price_cents, name FROM products WHERE sku = :sku",
            &params(&[("sku", json!(line.sku))]),
        )
        .await?;
        let Some(product) = product.first() else {
            return Err(HandlerError::msg(format!("unknown SKU {}", line.sku)).into());
        };
        let price = product.get("price_cents").and_then(Value::as_i64).unwrap_or(0);
        // Reserve from the warehouse with the most stock; the condition makes it atomic.
        let stock = rows(
            db,
            &mut tx,
            "SELECT warehouse_id, quantity FROM inventory WHERE sku = :sku ORDER BY quantity DESC, warehouse_id",
            &params(&[("sku", json!(line.sku))]),
        )
        .await?;
        let available: i64 = stock.iter().filter_map(|r| r.get("quantity").and_then(Value::as_i64)).sum();
        let Some(best) = stock.first().and_then(|r| r.get("warehouse_id")).cloned() else {
            return Err(HandlerError::msg(format!("SKU {} is not stocked anywhere", line.sku)).into());
        };
        let reserved = exec(
            db,
            &mut tx,
            "UPDATE inventory SET quantity = quantity - :q WHERE sku = :sku AND warehouse_id = :w AND quantity >= :q",
            &params(&[("q", json!(line.quantity)), ("sku", json!(line.sku)), ("w", best)]),
        )
        .await?;
        if reserved == 0 {
            return Err(HandlerError::msg(format!(
                "insufficient stock for SKU {}: {available} left, {} requested",
                line.sku, line.quantity
            ))
            .into());
        }
        total += price * line.quantity;
        lines.push((i as i64 + 1, line.clone(), price));
    }
    let inserted = sql::bind(
        &sql::compile(
            "INSERT INTO orders (id, customer_id, status, created_at, total_cents) VALUES (:id, :c, 'pending', :d, :t)",
            db.kind,
        ),
        &params(&[("id", json!(order_id)), ("c", json!(a.customer_id)), ("d", json!(date)), ("t", json!(total))]),
    )
    .execute(&mut *tx)
    .await;
    if let Err(e) = inserted {
        // A taken order number: start over with a new one (the transaction rolls back).
        let unique = e.as_database_error().is_some_and(|d| d.is_unique_violation());
        return Err(if unique { Retry::Again } else { Retry::Fail(db_failed(e)) });
    }
    for (n, line, price) in &lines {
        exec(
            db,
            &mut tx,
            "INSERT INTO order_items (order_id, line_no, sku, quantity, unit_price_cents) VALUES (:o, :n, :sku, :q, :p)",
            &params(&[("o", json!(order_id)), ("n", json!(n)), ("sku", json!(line.sku)), ("q", json!(line.quantity)), ("p", json!(price))]),
        )
        .await?;
    }
    tx.commit().await.map_err(db_failed)?;
    let items: Vec<Value> =
        lines.iter().map(|(_, l, p)| json!({"sku": l.sku, "quantity": l.quantity, "unit_price_cents": p})).collect();
    Ok(CallToolResult::structured(
        json!({"order_id": order_id, "status": "pending", "total_cents": total, "items": items}),
    ))
}

/// Why a refund is made.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    /// Arrived damaged.
    Damaged,
    /// Not what was ordered.
    WrongItem,
    /// Did not arrive.
    NotReceived,
    /// Returned.
    Returned,
    /// Goodwill gesture.
    Goodwill,
}

/// Arguments of `process_refund`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct RefundArgs {
    /// The order (ORD-YYYYMMDD-XXXX).
    pub order_id: String,
    /// The amount in cents; omit for everything that remains refundable.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub amount_cents: Option<i64>,
    /// Why.
    pub reason: RefundReason,
    /// A key unique to this refund request: repeating it returns the first refund unchanged.
    #[schemars(length(min = 8, max = 64))]
    pub idempotency_key: String,
}

/// Registers `process_refund`.
pub fn process_refund(router: Router, name: &str, description: &str, db: Database) -> Router {
    let db = Arc::new(db);
    router.tool(tool::<RefundArgs>(name, description, false, true), move |args, _| {
        let db = db.clone();
        async move {
            let a: RefundArgs = args.parse()?;
            match try_refund(&db, &a).await {
                Err(Retry::Again) => {
                    // Another request with the same key won the race: answer with its refund.
                    let mut tx = db.pool.begin().await.map_err(db_failed)?;
                    existing_refund(&db, &mut tx, &a.idempotency_key)
                        .await?
                        .ok_or_else(|| HandlerError::msg("the refund could not be recorded; try again"))
                }
                Err(Retry::Fail(e)) => Err(e),
                Ok(r) => Ok(r),
            }
        }
    })
}

async fn existing_refund(
    db: &Database,
    tx: &mut Transaction<'static, Any>,
    key: &str,
) -> Result<Option<CallToolResult>, HandlerError> {
    let found = rows(
        db,
        tx,
        "SELECT id, order_id, amount_cents, reason FROM refunds WHERE idempotency_key = :k",
        &params(&[("k", json!(key))]),
    )
    .await?;
    Ok(found.into_iter().next().map(|r| {
        let mut v = Value::Object(r);
        v["replayed"] = json!(true);
        CallToolResult::structured(v)
    }))
}

async fn try_refund(db: &Database, a: &RefundArgs) -> Result<CallToolResult, Retry> {
    let mut tx = db.pool.begin().await.map_err(db_failed)?;
    // Lock the order first: on MySQL the first plain read fixes the transaction's snapshot, so
    // every read after the lock sees the refunds committed by whoever held it before.
    let order = rows(
        db,
        &mut tx,
        &format!("SELECT id, total_cents, status FROM orders WHERE id = :id{}", lock_suffix(db)),
        &params(&[("id", json!(a.order_id))]),
    )
    .await?;
    if let Some(previous) = existing_refund(db, &mut tx, &a.idempotency_key).await? {
        return Ok(previous);
    }
    let Some(order) = order.first() else {
        return Err(HandlerError::msg(format!("order {} does not exist", a.order_id)).into());
    };
    let total = order.get("total_cents").and_then(Value::as_i64).unwrap_or(0);
    // Summed here rather than with SUM(): MySQL's SUM yields DECIMAL, which the portable driver
    // cannot decode.
    let refunded: i64 = rows(
        db,
        &mut tx,
        &format!("SELECT amount_cents FROM refunds WHERE order_id = :id{}", lock_suffix(db)),
        &params(&[("id", json!(a.order_id))]),
    )
    .await?
    .iter()
    .filter_map(|r| r.get("amount_cents").and_then(Value::as_i64))
    .sum();
    let remaining = total - refunded;
    let amount = a.amount_cents.unwrap_or(remaining);
    if remaining <= 0 {
        return Err(HandlerError::msg(format!("order {} is already fully refunded", a.order_id)).into());
    }
    if amount > remaining {
        return Err(HandlerError::msg(format!(
            "a refund of {amount} cents exceeds the {remaining} cents that remain refundable on order {}",
            a.order_id
        ))
        .into());
    }
    let refund_id = format!("RF-{}", random_digits(8));
    let (_, date) = today();
    let reason = serde_json::to_value(a.reason).unwrap_or_default();
    let inserted = sql::bind(
        &sql::compile("INSERT INTO refunds (id, order_id, amount_cents, reason, idempotency_key, created_at) VALUES (:id, :o, :a, :r, :k, :d)", db.kind),
        &params(&[("id", json!(refund_id)), ("o", json!(a.order_id)), ("a", json!(amount)), ("r", reason.clone()), ("k", json!(a.idempotency_key)), ("d", json!(date))]),
    )
    .execute(&mut *tx)
    .await;
    if let Err(e) = inserted {
        let unique = e.as_database_error().is_some_and(|d| d.is_unique_violation());
        return Err(if unique { Retry::Again } else { Retry::Fail(db_failed(e)) });
    }
    if amount == remaining {
        exec(
            db,
            &mut tx,
            "UPDATE orders SET status = 'refunded' WHERE id = :id",
            &params(&[("id", json!(a.order_id))]),
        )
        .await?;
    }
    tx.commit().await.map_err(db_failed)?;
    Ok(CallToolResult::structured(
        json!({"id": refund_id, "order_id": a.order_id, "amount_cents": amount, "reason": reason, "remaining_cents": remaining - amount}),
    ))
}

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
}

/// Registers `process_return`.
pub fn process_return(router: Router, name: &str, description: &str, db: Database) -> Router {
    let db = Arc::new(db);
    router.tool(tool::<ReturnArgs>(name, description, false, false), move |args, _| {
        let db = db.clone();
        async move {
            let a: ReturnArgs = args.parse()?;
            let mut tx = db.pool.begin().await.map_err(db_failed)?;
            let order = rows(&db, &mut tx, &format!("SELECT status, delivered_at FROM orders WHERE id = :id{}", lock_suffix(&db)), &params(&[("id", json!(a.order_id))])).await?;
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

#[cfg(test)]
mod tests {
    #[test]
    fn dates_round_trip() {
        let today = super::iso_date(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() as i64,
        );
        assert_eq!(super::days_since(&today), Some(0));
        assert_eq!(super::iso_date(0), "1970-01-01");
    }
}

/// Arguments of `get_order_status`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct OrderIdArgs {
    /// The order ID, e.g. ORD-20250115-0042.
    #[schemars(length(max = 64))]
    pub order_id: String,
}

/// What an order ID looks like: `ORD-YYYYMMDD-XXXX`.
fn is_order_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 17
        && s.starts_with("ORD-")
        && b[12] == b'-'
        && b[4..12].iter().all(u8::is_ascii_digit)
        && b[13..].iter().all(u8::is_ascii_digit)
}

/// A correction for a malformed order ID, when its digits allow one.
fn suggest_order_id(s: &str) -> Option<String> {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    (digits.len() == 12).then(|| format!("ORD-{}-{}", &digits[..8], &digits[8..]))
}

/// An order and its shipments in one pass: a LEFT JOIN, so an order without shipments is one row
/// whose `shipment_*` columns are NULL.
const ORDER_STATUS_SQL: &str = "SELECT o.id, o.status, o.created_at, o.delivered_at, o.total_cents, \
     s.carrier AS shipment_carrier, s.tracking_number AS shipment_tracking_number, \
     s.status AS shipment_status, s.shipped_at AS shipment_shipped_at, s.eta AS shipment_eta \
     FROM orders o LEFT JOIN shipments s ON s.order_id = o.id WHERE o.id = :id ORDER BY s.shipped_at, s.id";

/// Splits a row of [`ORDER_STATUS_SQL`] into the order's columns and its shipment, if the row has
/// one (`carrier` is NOT NULL, so a NULL carrier means the LEFT JOIN found none).
fn split_shipment(row: Map<String, Value>) -> (Map<String, Value>, Option<Value>) {
    let mut order = Map::new();
    let mut shipment = Map::new();
    for (k, v) in row {
        match k.strip_prefix("shipment_") {
            Some(field) => {
                shipment.insert(field.to_owned(), v);
            }
            None => {
                order.insert(k, v);
            }
        }
    }
    let present = shipment.get("carrier").is_some_and(|c| !c.is_null());
    (order, present.then_some(Value::Object(shipment)))
}

/// Registers `get_order_status`.
pub fn get_order_status(router: Router, name: &str, description: &str, db: Database) -> Router {
    let db = Arc::new(db);
    router.tool(tool::<OrderIdArgs>(name, description, true, true), move |args, _| {
        let db = db.clone();
        async move {
            let a: OrderIdArgs = args.parse()?;
            let id = a.order_id.trim();
            if !is_order_id(id) {
                let hint = match suggest_order_id(id) {
                    Some(s) => format!(" Did you mean {s}?"),
                    None => " Order IDs look like ORD-YYYYMMDD-XXXX, e.g. ORD-20250115-0042; it is in the order confirmation email.".into(),
                };
                return Err(HandlerError::msg(format!("{id:?} is not a valid order ID.{hint}")));
            }
            // One statement, not a transaction of two: a single SELECT already reads one snapshot,
            // and on SQLite every statement is a round trip to the connection's worker thread.
            let compiled = sql::compile(ORDER_STATUS_SQL, db.kind);
            let joined = sql::bind(&compiled, &params(&[("id", json!(id))]))
                .fetch_all(&db.pool)
                .await
                .map_err(db_failed)?;
            let mut joined = joined.iter().map(sql::row_to_json);
            let Some(first) = joined.next() else {
                return Err(HandlerError::msg(format!("no order {id} exists; check the ID in the confirmation email")));
            };
            let (order, shipment) = split_shipment(first);
            let shipments: Vec<Value> = shipment.into_iter().chain(joined.filter_map(|row| split_shipment(row).1)).collect();
            let mut v = Value::Object(order);
            v["shipments"] = Value::Array(shipments);
            Ok(CallToolResult::structured(v))
        }
    })
}

/// Arguments of `realtime_stock`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct SkusArgs {
    /// The SKUs to check (1-50).
    #[schemars(length(min = 1, max = 50))]
    pub skus: Vec<String>,
}

/// Registers `realtime_stock`.
pub fn realtime_stock(router: Router, name: &str, description: &str, db: Database) -> Router {
    let db = Arc::new(db);
    router.tool(tool::<SkusArgs>(name, description, true, true), move |args, _| {
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

/// How urgent a ticket is.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Whenever.
    Low,
    /// Today.
    Medium,
    /// Now.
    High,
    /// Everyone drops everything.
    Urgent,
}

/// Arguments of `escalate_to_human`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct EscalateArgs {
    /// The customer.
    pub customer_id: String,
    /// The order concerned, if any.
    #[serde(default)]
    pub order_id: Option<String>,
    /// How urgent.
    pub priority: Priority,
    /// What the human agent needs to know.
    #[schemars(length(min = 10, max = 2000))]
    pub summary: String,
}

/// Registers `escalate_to_human`.
pub fn escalate_to_human(router: Router, name: &str, description: &str, db: Database) -> Router {
    let db = Arc::new(db);
    router.tool(tool::<EscalateArgs>(name, description, false, false), move |args, _| {
        let db = db.clone();
        async move {
            let a: EscalateArgs = args.parse()?;
            let mut tx = db.pool.begin().await.map_err(db_failed)?;
            if rows(&db, &mut tx, "SELECT id FROM customers WHERE id = :id", &params(&[("id", json!(a.customer_id))])).await?.is_empty() {
                return Err(HandlerError::msg(format!("customer {} does not exist", a.customer_id)));
            }
            let ticket = format!("TCK-{}", random_digits(8));
            let (_, date) = today();
            let priority = serde_json::to_value(a.priority).unwrap_or_default();
            exec(
                &db,
                &mut tx,
                "INSERT INTO support_tickets (id, customer_id, order_id, priority, summary, status, created_at) VALUES (:id, :c, :o, :p, :s, 'open', :d)",
                &params(&[("id", json!(ticket)), ("c", json!(a.customer_id)), ("o", json!(a.order_id)), ("p", priority.clone()), ("s", json!(a.summary)), ("d", json!(date))]),
            )
            .await?;
            tx.commit().await.map_err(db_failed)?;
            Ok(CallToolResult::structured(json!({"ticket_id": ticket, "status": "open", "priority": priority})))
        }
    })
}
