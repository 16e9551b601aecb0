//! `x-mcp-header`: tool arguments mirrored into `Mcp-Param-*` HTTP headers, and the value
//! encoding shared by `Mcp-Name` and `Mcp-Param-*`. The server refuses a tool whose annotations
//! are invalid when its catalog is built; the client drops such a tool from `tools/list`.

use serde_json::Value;

/// One argument mirrored into a header: where it is in the arguments, and the header suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderParam {
    /// The chain of `properties` keys from the root.
    pub path: Vec<String>,
    /// The `x-mcp-header` value (the header is `Mcp-Param-{name}`).
    pub name: String,
}

/// Finds the `x-mcp-header` annotations of an input schema, rejecting invalid ones: not an RFC
/// 9110 token, duplicated (case-insensitively), on a non-primitive type, or not reachable through
/// `properties` alone.
pub fn header_params(schema: &serde_json::Map<String, Value>) -> Result<Vec<HeaderParam>, String> {
    let mut found = Vec::new();
    collect(schema, &mut Vec::new(), &mut found)?;
    let mut seen = std::collections::HashSet::new();
    for p in &found {
        if !seen.insert(p.name.to_ascii_lowercase()) {
            return Err(format!("x-mcp-header {:?} is used twice", p.name));
        }
    }
    check_unreachable(&Value::Object(schema.clone()), true)?;
    Ok(found)
}

fn collect(
    schema: &serde_json::Map<String, Value>,
    path: &mut Vec<String>,
    out: &mut Vec<HeaderParam>,
) -> Result<(), String> {
    let Some(Value::Object(props)) = schema.get("properties") else { return Ok(()) };
    for (key, prop) in props {
        let Value::Object(prop) = prop else { continue };
        path.push(key.clone());
        if let Some(annotation) = prop.get("x-mcp-header") {
            let name = annotation.as_str().ok_or_else(|| format!("x-mcp-header on {key:?} must be a string"))?;
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err(format!("x-mcp-header {name:?} on {key:?} is not an HTTP token"));
            }
            let ty = prop.get("type").and_then(Value::as_str).unwrap_or("");
            if !matches!(ty, "string" | "integer" | "boolean") {
                return Err(format!("x-mcp-header {name:?} is on {key:?} of type {ty:?}; only string, integer and boolean can be mirrored"));
            }
            out.push(HeaderParam { path: path.clone(), name: name.to_owned() });
        }
        collect(prop, path, out)?;
        path.pop();
    }
    Ok(())
}

/// Annotations anywhere but along `properties` chains make the definition invalid.
/// `reachable` says whether `v` was reached from the root through `properties` alone.
fn check_unreachable(v: &Value, reachable: bool) -> Result<(), String> {
    match v {
        Value::Object(map) => {
            if !reachable && map.contains_key("x-mcp-header") {
                return Err(
                    "x-mcp-header is only allowed on properties reachable through `properties` alone".to_owned()
                );
            }
            for (k, child) in map {
                match (k.as_str(), child) {
                    ("x-mcp-header", _) => {}
                    ("properties", Value::Object(props)) => {
                        for prop in props.values() {
                            check_unreachable(prop, reachable)?;
                        }
                    }
                    (_, child) => check_unreachable(child, false)?,
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|i| check_unreachable(i, false)),
        _ => Ok(()),
    }
}

/// The value at `path` in `arguments` as a header value (strings as-is, integers in decimal,
/// booleans as `true`/`false`), encoded with [`encode_header_value`]; `None` when absent or null.
pub fn param_value(arguments: &Value, path: &[String]) -> Option<String> {
    let mut v = arguments;
    for key in path {
        v = v.get(key)?;
    }
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(encode_header_value(&text))
}

/// Encodes a value for an HTTP header: plain when it is visible ASCII (inner spaces allowed)
/// without leading or trailing whitespace, otherwise the `=?base64?…?=` sentinel form (also
/// used for plain values that look like the sentinel, so decoding is never ambiguous).
pub fn encode_header_value(value: &str) -> String {
    let visible = value.bytes().all(|b| (0x20..=0x7e).contains(&b));
    let padded = value.starts_with(' ') || value.ends_with(' ');
    let looks_encoded = value.starts_with("=?base64?") && value.ends_with("?=");
    let plain = visible && !padded && !looks_encoded;
    if plain {
        value.to_owned()
    } else {
        use base64::Engine as _;
        format!("=?base64?{}?=", base64::engine::general_purpose::STANDARD.encode(value.as_bytes()))
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_encoded_per_the_spec() {
        assert_eq!(encode_header_value("us-west1"), "us-west1");
        assert_eq!(encode_header_value("us west 1"), "us west 1");
        assert_eq!(encode_header_value(""), "");
        assert_eq!(encode_header_value("Hello, 世界"), "=?base64?SGVsbG8sIOS4lueVjA==?=");
        assert_eq!(encode_header_value(" padded "), "=?base64?IHBhZGRlZCA=?=");
        assert_eq!(encode_header_value("line1\nline2"), "=?base64?bGluZTEKbGluZTI=?=");
        assert_eq!(encode_header_value("\tx"), "=?base64?CXg=?=");
        assert_eq!(encode_header_value("=?base64?literal?="), "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=");
        let args = serde_json::json!({"a": {"b": 42}, "t": true, "n": null});
        assert_eq!(param_value(&args, &["a".into(), "b".into()]).as_deref(), Some("42"));
        assert_eq!(param_value(&args, &["t".into()]).as_deref(), Some("true"));
        assert_eq!(param_value(&args, &["n".into()]), None);
        assert_eq!(param_value(&args, &["missing".into()]), None);
    }

    #[test]
    fn header_params_are_found_and_validated() {
        let schema = |v: Value| match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let ok = schema(serde_json::json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "nested": {"type": "object", "properties": {"id": {"type": "integer", "x-mcp-header": "Id"}}}
        }}));
        let found = header_params(&ok).expect("valid");
        assert_eq!(found.len(), 2);
        for bad in [
            serde_json::json!({"type": "object", "properties": {"a": {"type": "number", "x-mcp-header": "A"}}}),
            serde_json::json!({"type": "object", "properties": {"a": {"type": "string", "x-mcp-header": "has space"}}}),
            serde_json::json!({"type": "object", "properties": {"a": {"type": "string", "x-mcp-header": "X"}, "b": {"type": "string", "x-mcp-header": "x"}}}),
            serde_json::json!({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string", "x-mcp-header": "A"}}}}),
            serde_json::json!({"type": "object", "oneOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
        ] {
            assert!(header_params(&schema(bad.clone())).is_err(), "{bad}");
        }
    }
}
