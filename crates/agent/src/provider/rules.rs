//! The rules provider: no model at all. It recognises a shop's common requests — an order ID,
//! the return policy, a product search, asking for a person — answers them through the same
//! tools a model would use, and says plainly that it is the automatic assistant. When it cannot
//! help it opens a ticket; it never promises a person without one. It is the last fallback and
//! the default when no model key is configured, so the shop works offline.

use futures_util::future::BoxFuture;
use serde_json::{json, Map, Value};

use super::{Deltas, ModelRequest, ModelTurn, Provider, ProviderError};
use crate::message::{AssistantTurn, Message, ToolCall, ToolOutcome};

/// Which tools and resource the rules use. Every field names something in the server's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesConfig {
    /// Looks one order up by `order_id`.
    pub order_status_tool: String,
    /// Searches products by `query`.
    pub search_tool: String,
    /// Opens a ticket (`summary`, `priority`, optional `order_id` and `customer_id`).
    pub escalate_tool: String,
    /// The return and refund policy.
    pub policy_resource: String,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            order_status_tool: "get_order_status".into(),
            search_tool: "search_products".into(),
            escalate_tool: "escalate_to_human".into(),
            policy_resource: "shop://policies/returns".into(),
        }
    }
}

/// The rules provider.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    config: RulesConfig,
}

impl Rules {
    /// Rules over the named tools.
    pub fn new(config: RulesConfig) -> Self {
        Self { config }
    }

    async fn round(&self, request: ModelRequest<'_>, deltas: &Deltas) -> Result<ModelTurn, ProviderError> {
        let turn = match request.messages.last() {
            Some(Message::ToolResults(results)) => self.answer_results(request.messages, results),
            Some(Message::User(text)) => self.answer_user(text, request).await,
            _ => text_turn(INTRO.to_owned()),
        };
        if !turn.text.is_empty() {
            deltas.text(&turn.text);
        }
        Ok(ModelTurn { turn, usage: Default::default() })
    }

    async fn answer_user(&self, text: &str, request: ModelRequest<'_>) -> AssistantTurn {
        let offered = |name: &str| request.tools.iter().any(|t| t.name == name);
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        let has = |list: &[&str]| words.iter().any(|w| list.contains(w));
        let order_id = find_order_id(text);
        let customer_id = find_customer_id(text);

        if has(&["human", "person", "agent", "representative", "someone", "somebody", "manager", "operator"]) {
            return self.escalate(text, order_id, customer_id, request, "You asked for a person");
        }
        if let Some(id) = &order_id {
            if offered(&self.config.order_status_tool) {
                return call(&self.config.order_status_tool, json!({"order_id": id}));
            }
        }
        if has(&["return", "returns", "refund", "refunds", "policy", "exchange"]) {
            let policy = request.client.read_resource(&self.config.policy_resource, request.cancel).await;
            let text = policy.ok().and_then(|r| {
                r.contents.iter().find_map(|c| serde_json::to_value(c).ok()?.get("text")?.as_str().map(str::to_owned))
            });
            if let Some(policy) = text {
                let policy: String = policy.chars().take(1500).collect();
                return text_turn(format!(
                    "I'm the automatic assistant. Here is our return and refund policy:\n\n{}\n\nTo start a return, tell me your order ID (it looks like ORD-YYYYMMDD-XXXXXXXX).",
                    policy.trim()
                ));
            }
        }
        let shopping =
            has(&["looking", "search", "find", "have", "buy", "sell", "recommend", "product", "products", "stock"]);
        if shopping && offered(&self.config.search_tool) {
            let query = keywords(&words);
            if !query.is_empty() {
                return call(&self.config.search_tool, json!({"query": query}));
            }
        }
        self.escalate(text, order_id, customer_id, request, "I could not answer that myself")
    }

    /// Opens a ticket when the tool is offered and has what it needs; otherwise says what is
    /// missing, without promising a person.
    fn escalate(
        &self,
        text: &str,
        order_id: Option<String>,
        customer_id: Option<String>,
        request: ModelRequest<'_>,
        why: &str,
    ) -> AssistantTurn {
        let Some(tool) = request.tools.iter().find(|t| t.name == self.config.escalate_tool) else {
            return text_turn(format!(
                "I'm the automatic assistant. {why}, and I cannot open a support ticket from here, so no one has been notified. {HELP}"
            ));
        };
        let required: Vec<&str> = tool
            .parameters
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut arguments = Map::new();
        let mut summary: String = text.trim().chars().take(1900).collect();
        while summary.chars().count() < 10 {
            summary.push_str(" (customer message)");
        }
        arguments.insert("summary".into(), Value::String(summary));
        arguments.insert("priority".into(), Value::String("medium".into()));
        if let Some(order) = order_id {
            arguments.insert("order_id".into(), Value::String(order));
        }
        if required.contains(&"customer_id") {
            match customer_id {
                Some(c) => {
                    arguments.insert("customer_id".into(), Value::String(c));
                }
                None => {
                    return text_turn(format!(
                        "I'm the automatic assistant. {why}. To open a ticket for a person I need your customer ID (it looks like CUST-0001); no ticket has been opened yet."
                    ))
                }
            }
        }
        call(&self.config.escalate_tool, Value::Object(arguments))
    }

    fn answer_results(&self, messages: &[Message], results: &[ToolOutcome]) -> AssistantTurn {
        let asked = messages.iter().rev().find_map(|m| match m {
            Message::User(text) => Some(text.as_str()),
            _ => None,
        });
        let parts: Vec<String> = results.iter().map(|r| self.describe(r, asked.unwrap_or_default())).collect();
        text_turn(parts.join("\n\n"))
    }

    fn describe(&self, result: &ToolOutcome, asked: &str) -> String {
        let value: Option<Value> = serde_json::from_str(&result.content).ok();
        if result.name == self.config.order_status_tool {
            if result.is_error {
                return format!("I'm the automatic assistant. I could not find that order: {}", result.content);
            }
            let Some(order) = value else { return format!("I'm the automatic assistant. {}", result.content) };
            let field = |k: &str| order.get(k).and_then(Value::as_str).unwrap_or("unknown").to_owned();
            let mut text = format!("I'm the automatic assistant. Order {} is {}.", field("id"), field("status"));
            if let Some(delivered) = order.get("delivered_at").and_then(Value::as_str) {
                text.push_str(&format!(" It was delivered on {delivered}."));
            }
            for s in order.get("shipments").and_then(Value::as_array).into_iter().flatten() {
                let carrier = s.get("carrier").and_then(Value::as_str).unwrap_or("the carrier");
                let tracking = s.get("tracking_number").and_then(Value::as_str).unwrap_or("-");
                let status = s.get("status").and_then(Value::as_str).unwrap_or("unknown");
                text.push_str(&format!(" Shipment with {carrier} (tracking {tracking}): {status}."));
                if let Some(eta) = s.get("eta").and_then(Value::as_str) {
                    text.push_str(&format!(" Expected {eta}."));
                }
            }
            return text;
        }
        if result.name == self.config.search_tool {
            if result.is_error {
                return format!("I'm the automatic assistant. The search failed: {}", result.content);
            }
            let rows: Vec<Value> = match value {
                Some(Value::Array(rows)) => rows,
                Some(Value::Object(o)) => o.values().find_map(|v| v.as_array().cloned()).unwrap_or_default(),
                _ => Vec::new(),
            };
            if rows.is_empty() {
                return "I'm the automatic assistant. I found no products matching that.".to_owned();
            }
            let lines: Vec<String> = rows
                .iter()
                .take(5)
                .map(|p| {
                    let name = p.get("name").and_then(Value::as_str).unwrap_or("?");
                    let sku = p.get("sku").and_then(Value::as_str).unwrap_or("?");
                    match p.get("price_cents").and_then(Value::as_f64) {
                        Some(cents) => format!("- {name} ({sku}): ${:.2}", cents / 100.0),
                        None => format!("- {name} ({sku})"),
                    }
                })
                .collect();
            return format!("I'm the automatic assistant. Here is what I found:\n{}", lines.join("\n"));
        }
        if result.name == self.config.escalate_tool {
            if result.is_error {
                return format!(
                    "I'm the automatic assistant. I could not open a ticket ({}), so no one has been notified yet. {HELP}",
                    result.content
                );
            }
            let ticket =
                value.as_ref().and_then(|v| v.get("ticket_id")).and_then(Value::as_str).unwrap_or("(no number)");
            let lead =
                if asked.is_empty() { "" } else { "I'm the automatic assistant and I cannot resolve this myself. " };
            return format!("{lead}I opened support ticket {ticket}; a member of our team will follow up on it.");
        }
        if result.is_error {
            format!("I'm the automatic assistant. That did not work: {}", result.content)
        } else {
            format!("I'm the automatic assistant. Done: {}", result.content)
        }
    }
}

const INTRO: &str = "I'm the automatic assistant. I can look up an order by its ID, explain the return policy, search products, or open a ticket for a person.";
const HELP: &str = "I can look up an order by its ID, explain the return policy, or search products.";

impl Provider for Rules {
    fn name(&self) -> &str {
        "rules"
    }

    fn complete<'a>(
        &'a self,
        request: ModelRequest<'a>,
        deltas: &'a Deltas,
    ) -> BoxFuture<'a, Result<ModelTurn, ProviderError>> {
        Box::pin(self.round(request, deltas))
    }
}

fn text_turn(text: String) -> AssistantTurn {
    AssistantTurn { text, ..Default::default() }
}

fn call(tool: &str, arguments: Value) -> AssistantTurn {
    let id = format!("rules_{tool}");
    AssistantTurn {
        text: String::new(),
        tool_calls: vec![ToolCall { id, name: tool.to_owned(), arguments: arguments.to_string() }],
        opaque: Vec::new(),
    }
}

/// `ORD-YYYYMMDD-` followed by 4 to 8 digits, anywhere in the text (case-insensitive).
fn find_order_id(text: &str) -> Option<String> {
    let upper = text.to_uppercase();
    upper.match_indices("ORD-").find_map(|(at, _)| {
        let rest = &upper[at + 4..];
        let date: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if date.len() != 8 || rest.as_bytes().get(8) != Some(&b'-') {
            return None;
        }
        let serial: String = rest[9..].chars().take_while(char::is_ascii_digit).collect();
        (4..=8).contains(&serial.len()).then(|| format!("ORD-{date}-{serial}"))
    })
}

/// `CUST-` followed by digits.
fn find_customer_id(text: &str) -> Option<String> {
    let upper = text.to_uppercase();
    upper.match_indices("CUST-").find_map(|(at, _)| {
        let digits: String = upper[at + 5..].chars().take_while(char::is_ascii_digit).collect();
        (!digits.is_empty()).then(|| format!("CUST-{digits}"))
    })
}

/// The word of a shopping question that names the thing: the last that is not filler (the
/// search matches one phrase, and nouns come last in "do you have wireless headphones").
fn keywords(words: &[&str]) -> String {
    const SKIP: &[&str] = &[
        "i",
        "im",
        "a",
        "an",
        "the",
        "do",
        "you",
        "have",
        "any",
        "some",
        "for",
        "looking",
        "search",
        "find",
        "me",
        "please",
        "can",
        "could",
        "want",
        "to",
        "buy",
        "sell",
        "is",
        "are",
        "there",
        "in",
        "stock",
        "of",
        "and",
        "with",
        "recommend",
        "product",
        "products",
        "what",
        "which",
        "would",
        "like",
        "need",
        "my",
        "we",
        "your",
    ];
    words
        .iter()
        .rev()
        .find(|w| !SKIP.contains(w) && w.len() > 1)
        .map(|w| w.trim_end_matches('s').to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_customer_ids_are_found() {
        assert_eq!(find_order_id("where is my order ord-20250204-1037?").as_deref(), Some("ORD-20250204-1037"));
        assert_eq!(find_order_id("ORD-20251201-12345678 please").as_deref(), Some("ORD-20251201-12345678"));
        assert_eq!(find_order_id("ORD-2025-1"), None);
        assert_eq!(find_customer_id("I am cust-0007").as_deref(), Some("CUST-0007"));
        assert_eq!(keywords(&["do", "you", "have", "wireless", "headphones"]), "headphone");
    }
}
