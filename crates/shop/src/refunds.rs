//! Refunds: `process_refund`, full or partial, only on orders that were paid, never above what
//! remains refundable, with the order row locked. A repeated idempotency key is answered with
//! the first refund — when it names the same order (and amount, if one is given); a key reused
//! for a different refund is refused, so nobody is told a refund happened that did not.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{Any, Transaction};
use switchboard_gateway::source::sql::{self, Database};
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, Router};

use crate::common::{
    db_failed, exec, lock_suffix, on_conflict_retry, params, random_digits, rows, today, tool, Effect, Retry,
};

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
    /// The order (ORD-YYYYMMDD-XXXXXXXX, or -XXXX for older orders).
    pub order_id: String,
    /// The amount in cents; omit for everything that remains refundable.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub amount_cents: Option<i64>,
    /// Why.
    pub reason: RefundReason,
    /// A key unique to this refund request: repeating it (same order, same amount) returns the
    /// first refund unchanged; using it for another refund is refused.
    #[schemars(length(min = 8, max = 64))]
    pub idempotency_key: String,
}

/// Registers `process_refund`.
pub(crate) fn process_refund(router: Router, name: &str, description: &str, db: Database) -> Router {
    let db = Arc::new(db);
    router.tool(tool::<RefundArgs>(name, description, Effect::Changes, true), move |args, ctx| {
        let db = db.clone();
        // The caller's limit comes from its identity (an API key's `refund_limit_cents`), never
        // from the arguments.
        let limit = ctx.principal().attributes().get(REFUND_LIMIT_ATTRIBUTE).and_then(Value::as_i64);
        async move {
            let a: RefundArgs = args.parse()?;
            match on_conflict_retry(|| try_refund(&db, &a, limit)).await {
                Err(Retry::Again) => {
                    // Another request with the same key won the race: answer with its refund.
                    let mut tx = db.pool.begin().await.map_err(db_failed)?;
                    existing_refund(&db, &mut tx, &a)
                        .await?
                        .ok_or_else(|| HandlerError::msg("the refund could not be recorded; try again"))
                }
                Err(Retry::Fail(e) | Retry::Conflict(e)) => Err(e),
                Ok(r) => Ok(r),
            }
        }
    })
}

/// The refund an earlier request with `a`'s key made, when it is the same refund; an error
/// when the key was used for a different one.
async fn existing_refund(
    db: &Database,
    tx: &mut Transaction<'static, Any>,
    a: &RefundArgs,
) -> Result<Option<CallToolResult>, HandlerError> {
    let found = rows(
        db,
        tx,
        "SELECT id, order_id, amount_cents, reason FROM refunds WHERE idempotency_key = :k",
        &params(&[("k", json!(a.idempotency_key))]),
    )
    .await?;
    let Some(first) = found.into_iter().next() else { return Ok(None) };
    let order = first.get("order_id").and_then(Value::as_str).unwrap_or_default().to_owned();
    let amount = first.get("amount_cents").and_then(Value::as_i64).unwrap_or_default();
    if order != a.order_id || a.amount_cents.is_some_and(|asked| asked != amount) {
        return Err(HandlerError::msg(format!(
            "idempotency key {:?} was already used for a refund of {amount} cents on order {order}; \
             use a new key for a different refund",
            a.idempotency_key
        )));
    }
    let mut v = Value::Object(first);
    v["replayed"] = json!(true);
    Ok(Some(CallToolResult::structured(v)))
}

/// Order states in which nothing was paid, so nothing can be refunded.
const UNPAID: [&str; 2] = ["pending", "cancelled"];

/// The principal attribute that caps one refund, in cents (absent: no cap).
pub const REFUND_LIMIT_ATTRIBUTE: &str = "refund_limit_cents";

async fn try_refund(db: &Database, a: &RefundArgs, limit: Option<i64>) -> Result<CallToolResult, Retry> {
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
    if let Some(previous) = existing_refund(db, &mut tx, a).await? {
        return Ok(previous);
    }
    let Some(order) = order.first() else {
        return Err(HandlerError::msg(format!("order {} does not exist", a.order_id)).into());
    };
    let status = order.get("status").and_then(Value::as_str).unwrap_or_default();
    if UNPAID.contains(&status) {
        return Err(HandlerError::msg(format!(
            "order {} is {status}: nothing was paid, so there is nothing to refund",
            a.order_id
        ))
        .into());
    }
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
    if let Some(limit) = limit.filter(|limit| amount > *limit) {
        return Err(HandlerError::msg(format!(
            "a refund of {amount} cents on order {} is above your limit of {limit} cents; escalate_to_human hands it to someone who can approve it",
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
        return Err(if unique { Retry::Again } else { db_failed(e).into() });
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
