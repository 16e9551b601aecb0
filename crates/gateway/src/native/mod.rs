//! Native tools: Rust implementations for what one fixed SQL statement list cannot express
//! cleanly (a variable number of order lines, refund arithmetic under row locks, return
//! eligibility rules). A config names them with `native: <name>`.

pub mod shop;

use switchboard_mcp::server::Router;

use crate::config;
use crate::sql::Database;

/// The native tools a config can name.
pub const KNOWN: [&str; 6] = [
    "shop.get_order_status",
    "shop.create_order",
    "shop.process_refund",
    "shop.process_return",
    "shop.realtime_stock",
    "shop.escalate_to_human",
];

/// Registers the native tool `native` as tool `name`.
pub fn register(
    router: Router,
    name: &str,
    native: &str,
    tool: &config::Tool,
    db: Option<Database>,
) -> Result<Router, String> {
    let db = || db.clone().ok_or_else(|| format!("tools.{name}: native tool {native} needs `source`"));
    match native {
        "shop.create_order" => Ok(shop::create_order(router, name, &tool.description, db()?)),
        "shop.process_refund" => Ok(shop::process_refund(router, name, &tool.description, db()?)),
        "shop.process_return" => Ok(shop::process_return(router, name, &tool.description, db()?)),
        "shop.get_order_status" => Ok(shop::get_order_status(router, name, &tool.description, db()?)),
        "shop.realtime_stock" => Ok(shop::realtime_stock(router, name, &tool.description, db()?)),
        "shop.escalate_to_human" => Ok(shop::escalate_to_human(router, name, &tool.description, db()?)),
        other => Err(format!("tools.{name}: unknown native tool {other:?} (known: {})", KNOWN.join(", "))),
    }
}
