//! Checks a wire log written by `--wire-log`: every message the server sent must validate
//! against the revision its request spoke.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use switchboard_protocol::ProtocolVersion;

use crate::schema::SchemaValidator;

/// What a checked log contained.
#[derive(Debug, Default)]
pub struct LogReport {
    /// Messages the server sent and that were validated.
    pub checked: usize,
    /// Methods of the requests the server received, in order.
    pub requests: Vec<String>,
    /// Schema violations.
    pub violations: Vec<String>,
}

/// Validates every outbound message of the log at `path`.
///
/// The revision is tracked as a client would see it: a request carrying modern `_meta` speaks
/// 2026-07-28; otherwise the revision negotiated by the connection's `initialize`.
pub fn check(path: &Path) -> LogReport {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading wire log {}: {e}", path.display()));
    let validator = SchemaValidator::global();
    let mut report = LogReport::default();
    let mut session: Option<ProtocolVersion> = None;
    let mut pending: HashMap<String, (String, ProtocolVersion)> = HashMap::new();
    for line in text.lines() {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad wire log line {line}: {e}"));
        let Some(msg) = entry.get("msg") else { continue };
        let dir = entry.get("dir").and_then(Value::as_str).unwrap_or("");
        if dir == "in" {
            for m in as_list(msg) {
                if let (Some(id), Some(method)) = (m.get("id"), m.get("method").and_then(Value::as_str)) {
                    let v = crate::peer::request_version(m, session.unwrap_or(ProtocolVersion::LATEST_LEGACY));
                    pending.entry(id.to_string()).or_insert((method.to_owned(), v));
                    report.requests.push(method.to_owned());
                }
            }
            continue;
        }
        for m in as_list(msg) {
            let answered = match (m.get("id"), m.get("result")) {
                (Some(id), Some(_)) => pending.remove(&id.to_string()),
                (Some(id), None) => pending.get(&id.to_string()).cloned(),
                _ => None,
            };
            let v = match (&answered, m.get("method")) {
                (Some((method, v)), None) => crate::peer::negotiated(method, m).unwrap_or(*v),
                _ => session.unwrap_or(ProtocolVersion::LATEST),
            };
            if let (Some((method, _)), Some(result)) = (&answered, m.get("result")) {
                if method == "initialize" {
                    session = result.get("protocolVersion").and_then(Value::as_str).and_then(|s| s.parse().ok());
                }
            }
            // Notifications on a modern stream carry modern shapes; legacy ones the session's.
            let v = if m.get("method").is_some()
                && m.pointer("/params/_meta/io.modelcontextprotocol~1subscriptionId").is_some()
            {
                ProtocolVersion::LATEST
            } else {
                v
            };
            report.checked += 1;
            if let Err(e) = validator.check_message(v, m, answered.as_ref().map(|(m, _)| m.as_str())) {
                report.violations.push(e);
            }
        }
    }
    report
}

fn as_list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}
