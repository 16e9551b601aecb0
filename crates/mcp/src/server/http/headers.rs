//! Validation of the modern routing headers against the body: `MCP-Protocol-Version`,
//! `Mcp-Method`, `Mcp-Name` and the `Mcp-Param-*` headers mirrored from `x-mcp-header`
//! properties. Every failure is HTTP 400 with `-32020`.

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::HeaderMap;
use serde_json::Value;
use switchboard_protocol::ErrorObject;

use crate::server::HeaderParam;

/// `MCP-Protocol-Version`.
pub(crate) const PROTOCOL_VERSION: &str = "mcp-protocol-version";
/// `Mcp-Method`.
pub(crate) const METHOD: &str = "mcp-method";
/// `Mcp-Name`.
pub(crate) const NAME: &str = "mcp-name";
/// `Mcp-Session-Id`.
pub(crate) const SESSION_ID: &str = "mcp-session-id";
/// `Last-Event-ID`.
pub(crate) const LAST_EVENT_ID: &str = "last-event-id";

/// A header's value with optional whitespace trimmed; `Err` if it is not visible ASCII/space.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ErrorObject> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim_matches([' ', '\t'])))
            .map_err(|_| ErrorObject::header_mismatch(format!("header {name} has characters outside visible ASCII"))),
    }
}

/// Decodes the `=?base64?…?=` sentinel (strict RFC 4648 with padding); anything else is literal.
pub(crate) fn decode_value(raw: &str) -> Result<Cow<'_, str>, ErrorObject> {
    match raw.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) {
        Some(b64) => {
            let bytes = STANDARD
                .decode(b64)
                .map_err(|e| ErrorObject::header_mismatch(format!("header value {raw:?} is not valid base64: {e}")))?;
            String::from_utf8(bytes)
                .map(Cow::Owned)
                .map_err(|_| ErrorObject::header_mismatch(format!("header value {raw:?} does not decode to UTF-8")))
        }
        None => Ok(Cow::Borrowed(raw)),
    }
}

/// The params field `Mcp-Name` mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mirrored {
    /// `name` (tools/call, prompts/get).
    Name,
    /// `uri` (resources/read).
    Uri,
    /// `taskId` (tasks/get, tasks/update, tasks/cancel).
    TaskId,
}

/// The body field `Mcp-Name` must mirror, for methods that have one.
pub(crate) fn mirrored_field(method: &str) -> Option<Mirrored> {
    match method {
        "tools/call" | "prompts/get" => Some(Mirrored::Name),
        "resources/read" => Some(Mirrored::Uri),
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some(Mirrored::TaskId),
        _ => None,
    }
}

/// Checks `Mcp-Method` and `Mcp-Name` against the body. `mirrored` is the value of the field
/// `Mcp-Name` mirrors (`None` when the method has none; `Some(None)` when the body lacks it
/// or it is not a string).
pub(crate) fn check_routing(
    headers: &HeaderMap,
    method: &str,
    mirrored: Option<Option<&str>>,
) -> Result<(), ErrorObject> {
    match header(headers, METHOD)? {
        None => return Err(ErrorObject::header_mismatch(format!("missing header Mcp-Method (expected {method:?})"))),
        Some(h) if h != method => {
            return Err(ErrorObject::header_mismatch(format!(
                "header Mcp-Method {h:?} does not match the body's method {method:?}"
            )))
        }
        Some(_) => {}
    }
    if let Some(expected) = mirrored {
        let expected = expected.unwrap_or_default();
        match header(headers, NAME)? {
            None => {
                return Err(ErrorObject::header_mismatch(format!("missing header Mcp-Name (expected {expected:?})")))
            }
            Some(h) => {
                let decoded = decode_value(h)?;
                if decoded != expected {
                    return Err(ErrorObject::header_mismatch(format!(
                        "header Mcp-Name {decoded:?} does not match the body's value {expected:?}"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Checks the `Mcp-Param-*` headers of a `tools/call` against its arguments.
pub(crate) fn check_params(
    headers: &HeaderMap,
    params: &[HeaderParam],
    arguments: Option<&Value>,
) -> Result<(), ErrorObject> {
    for p in params {
        let value = p.path.iter().try_fold(arguments, |v, k| v.map(|v| v.get(k))).flatten();
        let header_name = format!("mcp-param-{}", p.name.to_ascii_lowercase());
        let expected = match value {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => ValueKind::Text(s.clone()),
            Some(Value::Bool(b)) => ValueKind::Text(b.to_string()),
            Some(Value::Number(n)) => ValueKind::Number(n.as_f64().unwrap_or(f64::NAN)),
            Some(other) => ValueKind::Text(other.to_string()),
        };
        let raw = headers.get(&header_name).ok_or_else(|| {
            ErrorObject::header_mismatch(format!(
                "missing header Mcp-Param-{} for argument {:?}",
                p.name,
                p.path.join(".")
            ))
        })?;
        let raw = raw
            .to_str()
            .map_err(|_| ErrorObject::header_mismatch(format!("header Mcp-Param-{} has invalid characters", p.name)))?
            .trim_matches([' ', '\t']);
        let decoded = decode_value(raw)?;
        let matches = match &expected {
            ValueKind::Text(s) => *s == decoded,
            ValueKind::Number(n) => decoded.parse::<f64>().is_ok_and(|d| d == *n),
        };
        if !matches {
            return Err(ErrorObject::header_mismatch(format!(
                "header Mcp-Param-{} {decoded:?} does not match argument {:?}",
                p.name,
                p.path.join(".")
            )));
        }
    }
    Ok(())
}

enum ValueKind {
    Text(String),
    Number(f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_sentinel_is_strict() {
        assert_eq!(decode_value("=?base64?SGVsbG8=?=").ok().as_deref(), Some("Hello"));
        assert!(decode_value("=?base64?SGVsbG8?=").is_err(), "missing padding");
        assert!(decode_value("=?base64?SGVs!!!bG8=?=").is_err(), "bad characters");
        assert_eq!(decode_value("SGVsbG8=").ok().as_deref(), Some("SGVsbG8="), "no markers: literal");
        assert_eq!(decode_value("=?base64?SGVsbG8=").ok().as_deref(), Some("=?base64?SGVsbG8="), "no suffix: literal");
        assert_eq!(
            decode_value("=?BASE64?SGVsbG8=?=").ok().as_deref(),
            Some("=?BASE64?SGVsbG8=?="),
            "markers are lowercase"
        );
    }
}
