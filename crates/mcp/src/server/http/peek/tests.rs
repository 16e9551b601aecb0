//! The one-pass peek must classify every body and read every routing field exactly as the two
//! parses it replaces (a lenient era peek of the body, then a strict parse of the decoded params).

use switchboard_protocol::jsonrpc::{decode, DecodeLimits, Decoded, Inbound};

use super::{classify, slow, Body, Routing};

/// A comparable view of a classification and its routing fields.
#[derive(Debug, PartialEq)]
enum View {
    Modern(Option<Fields>),
    Initialize,
    Other,
}

type Fields = (Option<(Option<String>, bool)>, Option<String>, Option<String>, Option<String>, Option<String>);

fn fields(r: &Routing<'_>) -> Fields {
    (
        r.meta.as_ref().map(|m| (m.version.as_deref().map(str::to_owned), m.capabilities)),
        r.name.as_deref().map(str::to_owned),
        r.uri.as_deref().map(str::to_owned),
        r.task_id.as_deref().map(str::to_owned),
        r.arguments.map(|a| a.get().to_owned()),
    )
}

/// The old way: the lenient peek, then (for a modern request that decodes) the strict parse
/// of the decoded params.
fn reference(body: &str) -> View {
    match slow(body.as_bytes()) {
        Body::Modern(_) => View::Modern(decoded_params(body).map(|p| fields(&Routing::parse(&p)))),
        Body::Initialize => View::Initialize,
        Body::Other => View::Other,
    }
}

/// The new way: the fast peek, falling back to the strict parse when it could not read them.
fn fast(body: &str) -> View {
    match classify(body.as_bytes()) {
        Body::Modern(Some(r)) => View::Modern(decoded_params(body).map(|_| fields(&r))),
        Body::Modern(None) => View::Modern(decoded_params(body).map(|p| fields(&Routing::parse(&p)))),
        Body::Initialize => View::Initialize,
        Body::Other => View::Other,
    }
}

/// The params text the modern path sees, when the body decodes to one request.
fn decoded_params(body: &str) -> Option<String> {
    match decode(body.as_bytes(), &DecodeLimits::new(1 << 20, 64)) {
        Ok(Decoded::Single(Inbound::Request(r))) => {
            Some(r.params.as_deref().map_or("{}", serde_json::value::RawValue::get).to_owned())
        }
        _ => None,
    }
}

const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;

fn bodies() -> Vec<String> {
    let call = |params: &str| format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{params}}}"#);
    let mut out = vec![
        call(&format!(r#"{{"name":"echo","arguments":{{"message":"hi"}},{META}}}"#)),
        call(&format!(r#"{{{META},"name":"echo","arguments":{{"message":"hi"}}}}"#)),
        call(r#"{"name":"echo","arguments":{"message":"hi"}}"#),
        call(&format!(r#"{{"name":7,{META}}}"#)),
        call(&format!(r#"{{"name":null,{META}}}"#)),
        call(&format!(r#"{{"name":["a"],"uri":{{"x":1}},{META}}}"#)),
        call(&format!(r#"{{"name":"a","name":"b",{META}}}"#)),
        call(&format!(r#"{{"arguments":1,"arguments":2,{META}}}"#)),
        call(&format!(r#"{{"arguments":null,"name":"e\u0063ho",{META}}}"#)),
        call(&format!(r#"{{"n\u0061me":"echo",{META}}}"#)),
        call(&format!(r#"{{"taskId":"t-1","uri":"file:///x",{META}}}"#)),
        call(&format!(r#"{{"taskId":true,{META}}}"#)),
        call(r#"{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":null}}"#),
        call(r#"{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":42}}"#),
        call(r#"{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}"#),
        call(r#"{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"x","io.modelcontextprotocol/clientCapabilities":null}}"#),
        call(r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"a","io.modelcontextprotocol/protocolVersion":"b"}}"#),
        call(r#"{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"a"}}"#),
        call(r#"{"_meta":["2026-07-28",{}]}"#),
        call(r#"{"_meta":null,"name":"echo"}"#),
        call(r#"{"_meta":1}"#),
        call(r#"[{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}]"#),
        call(r#"[{"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"echo"]"#),
        call("null"),
        call("7"),
        call(&format!(r#"{{"name":"echo","extra":{{"deep":[1,2,{{"name":3}}]}},{META}}}"#)),
        call(&format!(r#"{{"name":"\ud83d\ude00 \"quoted\"",{META}}}"#)),
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{{META}}}}}"#),
        format!(r#"{{"jsonrpc":"2.0","method":"notifications/initialized","params":{{{META}}}}}"#),
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#.into(),
        format!(r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"2025-11-25",{META}}}}}"#),
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize"}"#.into(),
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":[1]}"#.into(),
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize","method":"initialize"}"#.into(),
        format!(r#"[{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{{META}}}}}]"#),
        r#"["tools/call",{"_meta":{"io.modelcontextprotocol/protocolVersion":"x"},"name":"echo"}]"#.into(),
        r#"["initialize"]"#.into(),
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.into(),
        r#"{"jsonrpc":"2.0","id":1,"method":5,"params":{}}"#.into(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo""#.into(),
        "not json".into(),
        String::new(),
        "42".into(),
    ];
    // Every body again with its params' routing members in other orders and spacing.
    let spaced: Vec<String> = out.iter().map(|b| b.replace(':', " : ").replace(',', " ,\n ")).collect();
    out.extend(spaced);
    out
}

#[test]
fn the_fast_peek_agrees_with_the_two_parses_it_replaces() {
    for body in bodies() {
        assert_eq!(fast(&body), reference(&body), "body: {body}");
    }
}

#[test]
fn a_plain_modern_call_is_read_in_one_pass() {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"hi"}},{META}}}}}"#
    );
    let Body::Modern(Some(r)) = classify(body.as_bytes()) else { panic!("the fast peek must read {body}") };
    assert_eq!(r.name.as_deref(), Some("echo"));
    assert!(matches!(r.name, Some(std::borrow::Cow::Borrowed(_))), "unescaped strings are borrowed");
    assert_eq!(r.meta.as_ref().and_then(|m| m.version.as_deref()), Some("2026-07-28"));
    assert_eq!(r.arguments.map(|a| a.get()), Some(r#"{"message":"hi"}"#));
}
