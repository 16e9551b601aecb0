//! JSON-RPC decoding, as every era's transport does it: one frame (a line, a body, a WebSocket
//! text frame) through `jsonrpc::decode` (single messages, and 2025-03-26 batches), then the
//! params and results through the protocol's typed structs and `Shape` for every revision.
//!
//! Invariants: nothing panics; every decoded message re-encodes (`write_request`,
//! `write_notification`, `write_result`, `write_error`) to a frame that decodes to the same
//! message; a typed value that decodes re-encodes to JSON that decodes again to the same JSON;
//! a result shaped for any revision still encodes and decodes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use switchboard_protocol::client::{
    CreateMessageParams, CreateMessageResult, ElicitParams, ElicitResult, ListRootsResult,
};
use switchboard_protocol::completion::{CompleteParams, CompleteResult};
use switchboard_protocol::jsonrpc::{
    decode, write_error, write_notification, write_request, write_result, DecodeLimits, Decoded, Inbound,
};
use switchboard_protocol::lifecycle::{DiscoverResult, InitializeParams, InitializeResult};
use switchboard_protocol::logging::{LoggingMessageParams, SetLevelParams};
use switchboard_protocol::meta::{PaginatedRequestParams, RequestParams};
use switchboard_protocol::mrtr::InputRequiredResult;
use switchboard_protocol::notifications::{CancelledParams, ProgressParams, ResourceUpdatedParams};
use switchboard_protocol::prompts::{GetPromptParams, GetPromptResult, ListPromptsResult};
use switchboard_protocol::resources::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceParams, ReadResourceResult, SubscribeParams,
};
use switchboard_protocol::result::EmptyResult;
use switchboard_protocol::subscriptions::ListenParams;
use switchboard_protocol::tasks::{TaskIdParams, TaskUpdateParams};
use switchboard_protocol::tools::{CallToolParams, CallToolResult, ListToolsResult};
use switchboard_protocol::{ProtocolVersion, Shape};

fuzz_target!(|data: &[u8]| {
    // The server's defaults, and tight limits (the size and depth checks' edges).
    for limits in [DecodeLimits::default(), DecodeLimits::new(512, 4)] {
        match decode(data, &limits) {
            Ok(Decoded::Single(message)) => check(&message),
            Ok(Decoded::Batch(items)) => {
                assert!(!items.is_empty(), "an empty batch must be refused");
                items.iter().flatten().for_each(check);
            }
            Err(e) => {
                // The error is answered; its frame must decode as a response.
                let mut out = Vec::new();
                write_error(&mut out, e.id.as_ref(), &e.error);
                assert!(matches!(one(&out), Inbound::Response(_)), "error frame {}", String::from_utf8_lossy(&out));
            }
        }
    }
});

/// Decodes a frame this crate wrote: it must be one message.
fn one(frame: &[u8]) -> Inbound {
    match decode(frame, &DecodeLimits::new(usize::MAX, 128)) {
        Ok(Decoded::Single(m)) => m,
        other => panic!("re-encoded frame {} decoded to {other:?}", String::from_utf8_lossy(frame)),
    }
}

fn raw(v: &Option<Box<RawValue>>) -> Option<&str> {
    v.as_deref().map(RawValue::get)
}

fn check(message: &Inbound) {
    let mut out = Vec::new();
    match message {
        Inbound::Request(r) => {
            write_request(&mut out, &r.id, &r.method, r.params.as_deref()).expect("a request encodes");
            let Inbound::Request(back) = one(&out) else { panic!("request came back as another kind") };
            assert_eq!((&back.id, &back.method, raw(&back.params)), (&r.id, &r.method, raw(&r.params)));
            if let Some(p) = &r.params {
                params(p.get());
            }
        }
        Inbound::Notification(n) => {
            write_notification(&mut out, &n.method, n.params.as_deref()).expect("a notification encodes");
            let Inbound::Notification(back) = one(&out) else { panic!("notification came back as another kind") };
            assert_eq!((&back.method, raw(&back.params)), (&n.method, raw(&n.params)));
            if let Some(p) = &n.params {
                params(p.get());
            }
        }
        Inbound::Response(r) => match &r.outcome {
            Ok(result) => {
                let Some(id) = &r.id else { return };
                write_result(&mut out, id, result).expect("a result encodes");
                let Inbound::Response(back) = one(&out) else { panic!("result came back as another kind") };
                assert_eq!(back.id.as_ref(), Some(id));
                assert_eq!(back.outcome.as_ref().map(|v| v.get()).ok(), Some(result.get()));
                results(result.get());
            }
            Err(error) => {
                write_error(&mut out, r.id.as_ref(), error);
                let Inbound::Response(back) = one(&out) else { panic!("error came back as another kind") };
                assert_eq!(back.id, r.id);
                assert_eq!(back.outcome.as_ref().err(), Some(error));
            }
        },
    }
}

/// Every params struct a server or client reads (any method: the structs must cope with
/// whatever they are given).
fn params(text: &str) {
    typed::<RequestParams>(text);
    typed::<PaginatedRequestParams>(text);
    typed::<InitializeParams>(text);
    typed::<CallToolParams>(text);
    typed::<GetPromptParams>(text);
    typed::<ReadResourceParams>(text);
    typed::<SubscribeParams>(text);
    typed::<CompleteParams>(text);
    typed::<SetLevelParams>(text);
    typed::<ListenParams>(text);
    typed::<TaskIdParams>(text);
    typed::<TaskUpdateParams>(text);
    typed::<CreateMessageParams>(text);
    typed::<ProgressParams>(text);
    typed::<CancelledParams>(text);
    typed::<LoggingMessageParams>(text);
    typed::<ResourceUpdatedParams>(text);
    if let Some(mut p) = typed::<ElicitParams>(text) {
        for v in ProtocolVersion::ALL {
            p.shape(v);
            reencode(&p);
        }
    }
}

/// Every result struct, shaped for every revision.
fn results(text: &str) {
    shaped::<InitializeResult>(text);
    shaped::<DiscoverResult>(text);
    shaped::<CallToolResult>(text);
    shaped::<ListToolsResult>(text);
    shaped::<ListPromptsResult>(text);
    shaped::<GetPromptResult>(text);
    shaped::<ListResourcesResult>(text);
    shaped::<ListResourceTemplatesResult>(text);
    shaped::<ReadResourceResult>(text);
    shaped::<CompleteResult>(text);
    shaped::<InputRequiredResult>(text);
    shaped::<EmptyResult>(text);
    typed::<CreateMessageResult>(text);
    typed::<ElicitResult>(text);
    typed::<ListRootsResult>(text);
}

/// Decodes `text` as `T`; when it decodes, its encoding must decode again to the same JSON.
fn typed<T: DeserializeOwned + Serialize>(text: &str) -> Option<T> {
    let value: T = serde_json::from_str(text).ok()?;
    reencode(&value);
    Some(value)
}

fn reencode<T: DeserializeOwned + Serialize>(value: &T) {
    let first = serde_json::to_value(value).expect("a decoded value encodes");
    let again: T = serde_json::from_value(first.clone())
        .unwrap_or_else(|e| panic!("{} cannot read its own encoding {first}: {e}", std::any::type_name::<T>()));
    let second: Value = serde_json::to_value(&again).expect("encodes");
    assert_eq!(first, second, "{} does not round-trip", std::any::type_name::<T>());
}

fn shaped<T: DeserializeOwned + Serialize + Shape + Clone>(text: &str) {
    let Some(value) = typed::<T>(text) else { return };
    for v in ProtocolVersion::ALL {
        let mut shaped = value.clone();
        shaped.shape(v);
        reencode(&shaped);
    }
}
