//! Orders: `create_order` (any number of lines, stock reserved atomically per line) and
//! `get_order_status` (the order and its shipments in one statement).

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use switchboard_gateway::source::sql::{self, Database};
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, Router};

use crate::common::{
    db_failed, exec, lock_suffix, on_conflict_retry, params, random_digits, rows, today, tool, Effect, Retry,
};

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
    /// A key unique to this order request: repeating the request with it (after a timeout, say)
    /// returns the first order instead of placing a second one; using it for a different order
    /// is refused.
    #[serde(default)]
    #[schemars(length(min = 8, max = 64))]
    pub idempotency_key: Option<String>,
}

/// The table of order idempotency keys, for databases made before it existed.
const ORDER_REQUESTS_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS order_requests (idempotency_key VARCHAR(64) PRIMARY KEY, \
     order_id VARCHAR(32) NOT NULL, request VARCHAR(1000) NOT NULL, created_at VARCHAR(32) NOT NULL)";

/// What a keyed request asks for, in a canonical form: the customer and the lines by SKU.
fn request_fingerprint(a: &CreateOrderArgs) -> String {
    let mut lines: Vec<String> = a.items.iter().map(|l| format!("{}*{}", l.sku, l.quantity)).collect();
    lines.sort();
    format!("{}|{}", a.customer_id, lines.join(","))
}

/// The order an earlier request with `a`'s key placed, when it asked for the same thing; an
/// error when the key was used for a different order.
async fn earlier_order(
    db: &Database,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    a: &CreateOrderArgs,
    key: &str,
) -> Result<Option<CallToolResult>, HandlerError> {
    let found = rows(
        db,
        tx,
        "SELECT order_id, request FROM order_requests WHERE idempotency_key = :k",
        &params(&[("k", json!(key))]),
    )
    .await?;
    let Some(first) = found.first() else { return Ok(None) };
    let order_id = first.get("order_id").and_then(Value::as_str).unwrap_or_default().to_owned();
    if first.get("request").and_then(Value::as_str) != Some(request_fingerprint(a).as_str()) {
        return Err(HandlerError::msg(format!(
            "idempotency key {key:?} was already used for a different order ({order_id}); use a new key for a new order"
        )));
    }
    let order =
        rows(db, tx, "SELECT status, total_cents FROM orders WHERE id = :id", &params(&[("id", json!(order_id))]))
            .await?;
    let items = rows(
        db,
        tx,
        "SELECT sku, quantity, unit_price_cents FROM order_items WHERE order_id = :id ORDER BY line_no",
        &params(&[("id", json!(order_id))]),
    )
    .await?;
    let order = order.into_iter().next().unwrap_or_default();
    Ok(Some(CallToolResult::structured(json!({
        "order_id": order_id,
        "status": order.get("status").cloned().unwrap_or_default(),
        "total_cents": order.get("total_cents").cloned().unwrap_or_default(),
        "items": items,
        "replayed": true,
    }))))
}

/// Registers `create_order`.
pub(crate) fn create_order(router: Router, name: &str, description: &str, db: Database) -> Router {
    let db = Arc::new(db);
    // Made once per process when a keyed order first arrives (older databases lack the table).
    let keys_ready = Arc::new(tokio::sync::OnceCell::<()>::new());
    router.tool(tool::<CreateOrderArgs>(name, description, Effect::Changes, false), move |args, _| {
        let (db, keys_ready) = (db.clone(), keys_ready.clone());
        async move {
            let a: CreateOrderArgs = args.parse()?;
            if a.idempotency_key.is_some() {
                keys_ready
                    .get_or_try_init(|| async {
                        sqlx::query(ORDER_REQUESTS_TABLE).execute(&db.pool).await.map(|_| ()).map_err(db_failed)
                    })
                    .await?;
            }
            let mut attempt = 0;
            loop {
                attempt += 1;
                match on_conflict_retry(|| try_create_order(&db, &a)).await {
                    Err(Retry::Again) if attempt < 5 => continue,
                    Err(Retry::Again) => {
                        return Err(HandlerError::msg("could not allocate an order number; try again"))
                    }
                    Err(Retry::Fail(e) | Retry::Conflict(e)) => return Err(e),
                    Ok(r) => return Ok(r),
                }
            }
        }
    })
}

async fn try_create_order(db: &Database, a: &CreateOrderArgs) -> Result<CallToolResult, Retry> {
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = a.items.iter().find(|l| !seen.insert(l.sku.clone())) {
        return Err(HandlerError::msg(format!("SKU {} appears twice; combine the lines", dup.sku)).into());
    }
    let mut tx = db.pool.begin().await.map_err(db_failed)?;
    if let Some(key) = &a.idempotency_key {
        if let Some(earlier) = earlier_order(db, &mut tx, a, key).await? {
            return Ok(earlier);
        }
    }
    let customer =
        rows(db, &mut tx, "SELECT id FROM customers WHERE id = :id", &params(&[("id", json!(a.customer_id))])).await?;
    if customer.is_empty() {
        return Err(HandlerError::msg(format!("customer {} does not exist", a.customer_id)).into());
    }
    let (stamp, date) = today();
    // Eight random digits: 10⁸ numbers a day, so a busy shop's orders do not collide (with four,
    // a collision was expected by about the hundredth order of a day).
    let order_id = format!("ORD-{stamp}-{}", random_digits(8));
    // Lines are reserved in SKU order, whatever order they were asked in: two orders of the same
    // SKUs then lock their stock rows in the same order and cannot deadlock each other.
    let mut by_sku: Vec<&OrderLine> = a.items.iter().collect();
    by_sku.sort_by(|x, y| x.sku.cmp(&y.sku));
    let mut prices = std::collections::HashMap::new();
    for line in by_sku {
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
        // The SKU's stock rows, locked in warehouse order — an order that changes as other
        // orders commit (quantity) would let two orders lock them in opposite orders and
        // deadlock — then served fullest warehouse first, from as many as it takes.
        let mut stock = rows(
            db,
            &mut tx,
            &format!(
                "SELECT warehouse_id, quantity FROM inventory WHERE sku = :sku ORDER BY warehouse_id{}",
                lock_suffix(db)
            ),
            &params(&[("sku", json!(line.sku))]),
        )
        .await?;
        stock.sort_by_key(|r| std::cmp::Reverse(r.get("quantity").and_then(Value::as_i64).unwrap_or(0)));
        let available: i64 = stock.iter().filter_map(|r| r.get("quantity").and_then(Value::as_i64)).sum();
        if stock.is_empty() {
            return Err(HandlerError::msg(format!("SKU {} is not stocked anywhere", line.sku)).into());
        }
        if available < line.quantity {
            return Err(HandlerError::msg(format!(
                "insufficient stock for SKU {}: {available} left, {} requested",
                line.sku, line.quantity
            ))
            .into());
        }
        let mut left = line.quantity;
        for row in &stock {
            let here = row.get("quantity").and_then(Value::as_i64).unwrap_or(0);
            let take = left.min(here);
            if take <= 0 {
                continue;
            }
            // The condition keeps it atomic where rows are not locked (SQLite's one writer).
            let warehouse = row.get("warehouse_id").cloned().unwrap_or_default();
            let reserved = exec(
                db,
                &mut tx,
                "UPDATE inventory SET quantity = quantity - :q WHERE sku = :sku AND warehouse_id = :w AND quantity >= :q",
                &params(&[("q", json!(take)), ("sku", json!(line.sku)), ("w", warehouse)]),
            )
            .await?;
            if reserved == 0 {
                return Err(Retry::Again);
            }
            left -= take;
            if left == 0 {
                break;
            }
        }
        prices.insert(line.sku.clone(), price);
    }
    let mut total = 0i64;
    let mut lines = Vec::new();
    for (i, line) in a.items.iter().enumerate() {
        let price = prices.get(&line.sku).copied().unwrap_or(0);
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
        return Err(if unique { Retry::Again } else { db_failed(e).into() });
    }
    if let Some(key) = &a.idempotency_key {
        // A concurrent request with the same key that committed first makes this one a replay.
        let recorded = sql::bind(
            &sql::compile(
                "INSERT INTO order_requests (idempotency_key, order_id, request, created_at) VALUES (:k, :o, :r, :d)",
                db.kind,
            ),
            &params(&[
                ("k", json!(key)),
                ("o", json!(order_id)),
                ("r", json!(request_fingerprint(a))),
                ("d", json!(date)),
            ]),
        )
        .execute(&mut *tx)
        .await;
        if let Err(e) = recorded {
            let unique = e.as_database_error().is_some_and(|d| d.is_unique_violation());
            return Err(if unique { Retry::Again } else { db_failed(e).into() });
        }
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

/// Arguments of `get_order_status`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct OrderIdArgs {
    /// The order ID, e.g. ORD-20250115-0042.
    #[schemars(length(max = 64))]
    pub order_id: String,
    /// Only an order of this customer (bound to a customer's own id through `from_principal`;
    /// staff may leave it out).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub customer_id: Option<String>,
}

/// What an order ID looks like: `ORD-YYYYMMDD-XXXXXXXX` (orders made here) or
/// `ORD-YYYYMMDD-XXXX` (older orders).
fn is_order_id(s: &str) -> bool {
    let b = s.as_bytes();
    (b.len() == 17 || b.len() == 21)
        && s.starts_with("ORD-")
        && b[12] == b'-'
        && b[4..12].iter().all(u8::is_ascii_digit)
        && b[13..].iter().all(u8::is_ascii_digit)
}

/// A correction for a malformed order ID, when its digits allow one.
fn suggest_order_id(s: &str) -> Option<String> {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    matches!(digits.len(), 12 | 16).then(|| format!("ORD-{}-{}", &digits[..8], &digits[8..]))
}

/// An order and its shipments in one pass: a LEFT JOIN, so an order without shipments is one row
/// whose `shipment_*` columns are NULL.
const ORDER_STATUS_SQL: &str = "SELECT o.id, o.status, o.created_at, o.delivered_at, o.total_cents, \
     s.carrier AS shipment_carrier, s.tracking_number AS shipment_tracking_number, \
     s.status AS shipment_status, s.shipped_at AS shipment_shipped_at, s.eta AS shipment_eta \
     FROM orders o LEFT JOIN shipments s ON s.order_id = o.id \
     WHERE o.id = :id AND (:customer IS NULL OR o.customer_id = :customer) ORDER BY s.shipped_at, s.id";

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
pub(crate) fn get_order_status(router: Router, name: &str, description: &str, db: Database) -> Router {
    let db = Arc::new(db);
    router.tool(tool::<OrderIdArgs>(name, description, Effect::Reads, true), move |args, _| {
        let db = db.clone();
        async move {
            let a: OrderIdArgs = args.parse()?;
            let id = a.order_id.trim();
            if !is_order_id(id) {
                let hint = match suggest_order_id(id) {
                    Some(s) => format!(" Did you mean {s}?"),
                    None => " Order IDs look like ORD-YYYYMMDD-XXXXXXXX (older ones ORD-YYYYMMDD-XXXX), e.g. ORD-20250115-0042; it is in the order confirmation email.".into(),
                };
                return Err(HandlerError::msg(format!("{id:?} is not a valid order ID.{hint}")));
            }
            // One statement, not a transaction of two: a single SELECT already reads one snapshot,
            // and on SQLite every statement is a round trip to the connection's worker thread.
            let compiled = sql::compile(ORDER_STATUS_SQL, db.kind);
            let joined = sql::bind(&compiled, &params(&[("id", json!(id)), ("customer", json!(a.customer_id))]))
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
