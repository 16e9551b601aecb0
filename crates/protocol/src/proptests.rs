//! Property tests: every JSON-RPC message (request, notification, result, error; string and
//! integer ids) survives encoding and decoding, through the typed envelopes and through the
//! framing the engine uses (`write_*` then `decode`).

use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{ErrorCode, ErrorObject};
use crate::jsonrpc::{
    decode, write_error, write_notification, write_request, write_result, DecodeLimits, Decoded, Inbound,
    JsonRpcErrorResponse, JsonRpcNotification, JsonRpcRequest, JsonRpcResultResponse, JsonRpcVersion, RequestId,
};

fn id() -> impl Strategy<Value = RequestId> {
    prop_oneof![any::<i64>().prop_map(RequestId::Number), any::<String>().prop_map(RequestId::String)]
}

/// Any JSON value: any integers and strings, decimals of up to ten digits, nested a few levels.
///
/// (Not any `f64`: serde_json without its `float_roundtrip` feature reads some 17-digit floats
/// one unit in the last place off, e.g. `1.884781034011154e206`.)
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (any::<i32>(), 0..=10).prop_map(|(m, e)| Value::from(f64::from(m) / 10f64.powi(e))),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Params: an object or an array (JSON-RPC allows nothing else), or none.
fn params() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(prop_oneof![
        prop::collection::btree_map(any::<String>(), json(), 0..6)
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        prop::collection::vec(json(), 0..6).prop_map(Value::Array),
    ])
}

fn error() -> impl Strategy<Value = ErrorObject> {
    // `data: null` and no data are the same on the wire.
    (any::<i32>(), any::<String>(), prop::option::of(json().prop_filter("not null", |v| !v.is_null())))
        .prop_map(|(code, message, data)| ErrorObject { code: ErrorCode(code), message, data })
}

fn decode_one(frame: &[u8]) -> Inbound {
    match decode(frame, &DecodeLimits::default()) {
        Ok(Decoded::Single(m)) => m,
        other => panic!("{} decoded to {other:?}", String::from_utf8_lossy(frame)),
    }
}

fn raw_value(raw: Option<&RawValue>) -> Option<Value> {
    raw.map(|r| serde_json::from_str(r.get()).expect("raw params are JSON"))
}

proptest! {
    #[test]
    fn proptest_request_round_trips(id in id(), method in any::<String>(), params in params()) {
        let typed = JsonRpcRequest { jsonrpc: JsonRpcVersion, id: id.clone(), method: method.clone(), params: params.clone() };
        let text = serde_json::to_string(&typed).expect("encodes");
        prop_assert_eq!(serde_json::from_str::<JsonRpcRequest<Value>>(&text).expect("decodes"), typed);

        let mut frame = Vec::new();
        write_request(&mut frame, &id, &method, params.as_ref()).expect("encodes");
        let Inbound::Request(r) = decode_one(&frame) else { panic!("not a request") };
        prop_assert_eq!(r.id, id);
        prop_assert_eq!(r.method, method);
        prop_assert_eq!(raw_value(r.params.as_deref()), params);
    }

    #[test]
    fn proptest_notification_round_trips(method in any::<String>(), params in params()) {
        let typed = JsonRpcNotification { jsonrpc: JsonRpcVersion, method: method.clone(), params: params.clone() };
        let text = serde_json::to_string(&typed).expect("encodes");
        prop_assert_eq!(serde_json::from_str::<JsonRpcNotification<Value>>(&text).expect("decodes"), typed);

        let mut frame = Vec::new();
        write_notification(&mut frame, &method, params.as_ref()).expect("encodes");
        let Inbound::Notification(n) = decode_one(&frame) else { panic!("not a notification") };
        prop_assert_eq!(n.method, method);
        prop_assert_eq!(raw_value(n.params.as_deref()), params);
    }

    #[test]
    fn proptest_result_round_trips(id in id(), result in json()) {
        let typed = JsonRpcResultResponse { jsonrpc: JsonRpcVersion, id: id.clone(), result: result.clone() };
        let text = serde_json::to_string(&typed).expect("encodes");
        prop_assert_eq!(serde_json::from_str::<JsonRpcResultResponse<Value>>(&text).expect("decodes"), typed);

        let mut frame = Vec::new();
        write_result(&mut frame, &id, &result).expect("encodes");
        let Inbound::Response(r) = decode_one(&frame) else { panic!("not a response") };
        prop_assert_eq!(r.id, Some(id));
        let back = r.outcome.map(|raw| serde_json::from_str::<Value>(raw.get()).expect("JSON"));
        prop_assert_eq!(back, Ok(result));
    }

    #[test]
    fn proptest_error_round_trips(id in prop::option::of(id()), error in error()) {
        let typed = JsonRpcErrorResponse { jsonrpc: JsonRpcVersion, id: id.clone(), error: error.clone() };
        let text = serde_json::to_string(&typed).expect("encodes");
        prop_assert_eq!(serde_json::from_str::<JsonRpcErrorResponse>(&text).expect("decodes"), typed);

        let mut frame = Vec::new();
        write_error(&mut frame, id.as_ref(), &error);
        let Inbound::Response(r) = decode_one(&frame) else { panic!("not a response") };
        prop_assert_eq!(r.id, id);
        prop_assert_eq!(r.outcome.err(), Some(error));
    }

    #[test]
    fn proptest_request_ids_round_trip(id in id()) {
        let text = serde_json::to_string(&id).expect("encodes");
        prop_assert_eq!(serde_json::from_str::<RequestId>(&text).expect("decodes"), id);
    }
}
