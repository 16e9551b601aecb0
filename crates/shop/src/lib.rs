//! The example shop's native tools: Rust implementations for what one fixed list of SQL
//! statements cannot express cleanly (a variable number of order lines, refund arithmetic under
//! row locks, return eligibility rules). A gateway config names them with `native: shop.<tool>`;
//! the binary registers [`natives`] when it builds the gateway's catalog.
//!
//! **Invariant:** every write tool runs in one transaction: it either does everything or changes
//! nothing, and every refusal is a readable tool error (`isError`), never a protocol error.
//! **Invariant:** values reach SQL only as bound parameters (through the gateway's `sql`
//! helpers); no SQL text is built from arguments.
//! **Boundary:** the gateway knows nothing of the shop; this crate knows the gateway only through
//! its public native-tool registry and SQL helpers.
//!
//! - `create_order`: any number of lines, each reserving stock with a conditional update
//!   (`... AND quantity >= n`), so concurrent orders can never oversell or drive stock negative.
//! - `process_refund`: full or partial, never above what remains refundable; the order row is
//!   locked (`FOR UPDATE` on PostgreSQL/MySQL; SQLite serializes writers), and a repeated
//!   idempotency key returns the first refund without writing.
//! - `process_return`: delivered orders only, inside the return window, items of that order, not
//!   already returned; creates the return with a label reference.

mod common;
mod orders;
mod refunds;
mod returns;
mod stock;
#[cfg(test)]
mod tests;
mod tickets;

use switchboard_gateway::NativeTools;

pub use orders::{CreateOrderArgs, OrderIdArgs, OrderLine};
pub use refunds::{RefundArgs, RefundReason, REFUND_LIMIT_ATTRIBUTE};
pub use returns::{ReturnArgs, ReturnLine, DAMAGE_WINDOW_DAYS, RETURN_WINDOW_DAYS};
pub use stock::SkusArgs;
pub use tickets::{EscalateArgs, Priority};

/// The shop's native tools, by the name a config gives after `native:`.
pub fn natives() -> NativeTools {
    NativeTools::new()
        .with("shop.get_order_status", |router, t| {
            Ok(orders::get_order_status(router, t.name, &t.config.description, t.database()?))
        })
        .with("shop.create_order", |router, t| {
            Ok(orders::create_order(router, t.name, &t.config.description, t.database()?))
        })
        .with("shop.process_refund", |router, t| {
            Ok(refunds::process_refund(router, t.name, &t.config.description, t.database()?))
        })
        .with("shop.process_return", |router, t| {
            Ok(returns::process_return(router, t.name, &t.config.description, t.database()?))
        })
        .with("shop.realtime_stock", |router, t| {
            Ok(stock::realtime_stock(router, t.name, &t.config.description, t.database()?))
        })
        .with("shop.escalate_to_human", |router, t| {
            Ok(tickets::escalate_to_human(router, t.name, &t.config.description, t.database()?))
        })
}
