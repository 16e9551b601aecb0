//! HTTP body peek and routing headers (`server/http/peek.rs`, `headers.rs`, `xmcp.rs`).
//!
//! Input: a POST body, optionally followed by a line `--` and header lines `name: value`.
//!
//! Invariants: nothing panics; the one-pass peek classifies the body and reads its routing
//! fields exactly as the two parses it replaced; a header value encoded by the client
//! (`encode_header_value`) decodes to itself; the `Mcp-Method`/`Mcp-Name`/`Mcp-Param-*` headers a
//! client derives from a body pass the server's checks; headers the server accepts mirror the
//! body.

#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchboard_mcp::protocol::jsonrpc::{decode, DecodeLimits, Decoded, Inbound};
use switchboard_mcp::server::http::fuzzing::{
    check_params, check_routing, decode_header_value, mirrored_field, peek, peek_reference, PeekView,
};
use switchboard_mcp::server::HeaderParam;
use switchboard_mcp::xmcp::{encode_header_value, param_value};

fuzz_target!(|data: &[u8]| {
    let (body, header_text) = match data.windows(4).position(|w| w == b"\n--\n") {
        Some(i) => (&data[..i], &data[i + 4..]),
        None => (data, &[][..]),
    };
    let view = peek(body);
    assert_eq!(view, peek_reference(body), "the fast peek disagrees with the two parses it replaces");

    let fuzzed = headers(header_text);
    for v in fuzzed.values() {
        if let Ok(s) = v.to_str() {
            round_trip(s);
        }
    }

    let Ok(Decoded::Single(Inbound::Request(request))) = decode(body, &DecodeLimits::default()) else { return };
    let PeekView::Modern(Some(fields)) = view else { return };
    let method = request.method.as_str();
    let expected = match mirrored_field(method) {
        Some("name") => Some(fields.name.as_deref()),
        Some("uri") => Some(fields.uri.as_deref()),
        Some("taskId") => Some(fields.task_id.as_deref()),
        _ => None,
    };
    for s in
        [fields.name.as_deref(), fields.uri.as_deref(), fields.task_id.as_deref(), Some(method)].into_iter().flatten()
    {
        round_trip(s);
    }

    // Whatever the fuzzed headers say, the check must not panic; when it passes, they mirror the body.
    if check_routing(&fuzzed, method, expected).is_ok() {
        if let Some(want) = expected {
            let got = fuzzed.get("mcp-name").and_then(|v| v.to_str().ok()).map(|s| s.trim_matches([' ', '\t']));
            let got = got.map(|g| decode_header_value(g).expect("accepted, so it decodes").into_owned());
            assert_eq!(
                got.as_deref(),
                Some(want.unwrap_or_default()),
                "Mcp-Name accepted but does not mirror the body"
            );
        }
    }

    // The headers a client derives from the body must pass (when the method can be a header).
    let plain = method.bytes().all(|b| (0x20..=0x7e).contains(&b)) && method.trim_matches([' ', '\t']) == method;
    if !plain {
        return;
    }
    let mut derived = HeaderMap::new();
    derived.insert("mcp-method", HeaderValue::from_str(method).expect("visible ASCII"));
    if let Some(want) = expected {
        let value = encode_header_value(want.unwrap_or_default());
        derived.insert("mcp-name", HeaderValue::from_str(&value).expect("encoded values are visible ASCII"));
    }
    if let Err(e) = check_routing(&derived, method, expected) {
        panic!("the client's own headers were refused: {e:?}");
    }

    // `Mcp-Param-*` for every primitive top-level argument, as a client sends them.
    let Some(arguments) = fields.arguments.as_deref().and_then(|a| serde_json::from_str::<Value>(a).ok()) else {
        return;
    };
    let Some(object) = arguments.as_object() else { return };
    let mut params: Vec<HeaderParam> = Vec::new();
    for (key, value) in object {
        let primitive = matches!(value, Value::String(_) | Value::Bool(_) | Value::Number(_) | Value::Null);
        let token =
            !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let fresh = !params.iter().any(|p| p.name.eq_ignore_ascii_case(key));
        if !(primitive && token && fresh) {
            continue;
        }
        let Ok(name) = HeaderName::from_bytes(format!("mcp-param-{}", key.to_ascii_lowercase()).as_bytes()) else {
            continue;
        };
        if let Some(v) = param_value(&arguments, std::slice::from_ref(key)) {
            derived.insert(name, HeaderValue::from_str(&v).expect("encoded values are visible ASCII"));
        }
        params.push(HeaderParam { path: vec![key.clone()], name: key.clone() });
    }
    if let Err(e) = check_params(&derived, &params, Some(&arguments)) {
        panic!("the client's own Mcp-Param headers were refused: {e:?} ({params:?}, {arguments})");
    }
    // And the fuzzed headers against the same params: no panic.
    let _ = check_params(&fuzzed, &params, Some(&arguments));
});

/// A value the client encodes decodes to itself on the server.
fn round_trip(s: &str) {
    let encoded = encode_header_value(s);
    let header = HeaderValue::from_str(&encoded).expect("encoded values are visible ASCII");
    let seen = header.to_str().expect("visible ASCII").trim_matches([' ', '\t']);
    match decode_header_value(seen) {
        Ok(back) => assert_eq!(back, s, "header value {encoded:?} decodes to something else"),
        Err(e) => panic!("header value {encoded:?} (for {s:?}) is refused: {e:?}"),
    }
}

/// `name: value` lines; lines that are not a valid header are skipped.
fn headers(text: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in text.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            map.append(n, v);
        }
    }
    map
}
