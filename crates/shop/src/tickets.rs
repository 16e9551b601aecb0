//! Support tickets: `escalate_to_human` opens a ticket for a human agent.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_gateway::source::sql::Database;
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, Router};

use crate::common::{db_failed, exec, params, random_digits, rows, today, tool, Effect};

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
pub(crate) fn escalate_to_human(router: Router, name: &str, description: &str, db: Database) -> Router {
    let db = Arc::new(db);
    router.tool(tool::<EscalateArgs>(name, description, Effect::Adds, false), move |args, _| {
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
