//! Round-trip tests: every published 2026-07-28 example deserializes into our types and
//! serializes back to the same JSON.

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::client::*;
use crate::completion::*;
use crate::content::*;
use crate::jsonrpc::*;
use crate::lifecycle::*;
use crate::logging::*;
use crate::meta::*;
use crate::mrtr::*;
use crate::notifications::*;
use crate::prompts::*;
use crate::resources::*;
use crate::result::EmptyResult;
use crate::subscriptions::*;
use crate::tools::*;
use crate::ErrorObject;

fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SWITCHBOARD_SHARED") {
        return PathBuf::from(dir);
    }
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("shared");
        if candidate.join("mcp-schema").is_dir() {
            return candidate;
        }
        assert!(dir.pop(), "no shared/mcp-schema above {}; set SWITCHBOARD_SHARED", env!("CARGO_MANIFEST_DIR"));
    }
}

fn through<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(v.clone()).map_err(|e| format!("deserialize: {e}"))?;
    serde_json::to_value(&typed).map_err(|e| format!("serialize: {e}"))
}

/// Routes an example to the Rust type that models its schema definition.
fn roundtrip(def: &str, v: &Value) -> Result<Value, String> {
    match def {
        "AudioContent" | "ImageContent" | "TextContent" | "ResourceLink" | "EmbeddedResource" | "ToolUseContent"
        | "ToolResultContent" => through::<ContentBlock>(v),
        "BlobResourceContents" | "TextResourceContents" => through::<ResourceContents>(v),
        "BooleanSchema"
        | "NumberSchema"
        | "StringSchema"
        | "TitledMultiSelectEnumSchema"
        | "TitledSingleSelectEnumSchema"
        | "UntitledMultiSelectEnumSchema"
        | "UntitledSingleSelectEnumSchema"
        | "LegacyTitledEnumSchema" => through::<PrimitiveSchema>(v),
        "CallToolRequest" => through::<JsonRpcRequest<CallToolParams>>(v),
        "CallToolRequestParams" => through::<CallToolParams>(v),
        "CallToolResult" => through::<CallToolResult>(v),
        "CallToolResultResponse" => through::<JsonRpcResultResponse<CallToolResult>>(v),
        "CancelledNotification" => through::<JsonRpcNotification<CancelledParams>>(v),
        "CancelledNotificationParams" => through::<CancelledParams>(v),
        "ClientCapabilities" => through::<ClientCapabilities>(v),
        "ServerCapabilities" => through::<ServerCapabilities>(v),
        "CompleteRequest" => through::<JsonRpcRequest<CompleteParams>>(v),
        "CompleteRequestParams" => through::<CompleteParams>(v),
        "CompleteResult" => through::<CompleteResult>(v),
        "CompleteResultResponse" => through::<JsonRpcResultResponse<CompleteResult>>(v),
        "CreateMessageRequest" | "ElicitRequest" | "ListRootsRequest" => through::<InputRequest>(v),
        "CreateMessageRequestParams" => through::<CreateMessageParams>(v),
        "CreateMessageResult" => through::<CreateMessageResult>(v),
        "DiscoverRequest" => through::<JsonRpcRequest<RequestParams>>(v),
        "DiscoverResult" => through::<DiscoverResult>(v),
        "DiscoverResultResponse" => through::<JsonRpcResultResponse<DiscoverResult>>(v),
        "ElicitRequestFormParams" | "ElicitRequestURLParams" => through::<ElicitParams>(v),
        "ElicitResult" => through::<ElicitResult>(v),
        "GetPromptRequest" => through::<JsonRpcRequest<GetPromptParams>>(v),
        "GetPromptRequestParams" => through::<GetPromptParams>(v),
        "GetPromptResult" => through::<GetPromptResult>(v),
        "GetPromptResultResponse" => through::<JsonRpcResultResponse<GetPromptResult>>(v),
        "HeaderMismatchError"
        | "UnsupportedProtocolVersionError"
        | "MissingRequiredClientCapabilityError"
        | "InternalError"
        | "InvalidParamsError"
        | "InvalidRequestError"
        | "MethodNotFoundError"
        | "ParseError" => {
            if v.get("jsonrpc").is_some() {
                through::<JsonRpcErrorResponse>(v)
            } else {
                through::<ErrorObject>(v)
            }
        }
        "InputRequests" => through::<InputRequests>(v),
        "InputResponses" => through::<InputResponses>(v),
        "InputRequiredResult" => through::<InputRequiredResult>(v),
        "ListPromptsRequest" | "ListResourcesRequest" | "ListResourceTemplatesRequest" | "ListToolsRequest" => {
            through::<JsonRpcRequest<PaginatedRequestParams>>(v)
        }
        "PaginatedRequestParams" => through::<PaginatedRequestParams>(v),
        "ListPromptsResult" => through::<ListPromptsResult>(v),
        "ListPromptsResultResponse" => through::<JsonRpcResultResponse<ListPromptsResult>>(v),
        "ListResourcesResult" => through::<ListResourcesResult>(v),
        "ListResourcesResultResponse" => through::<JsonRpcResultResponse<ListResourcesResult>>(v),
        "ListResourceTemplatesResult" => through::<ListResourceTemplatesResult>(v),
        "ListResourceTemplatesResultResponse" => through::<JsonRpcResultResponse<ListResourceTemplatesResult>>(v),
        "ListToolsResult" => through::<ListToolsResult>(v),
        "ListToolsResultResponse" => through::<JsonRpcResultResponse<ListToolsResult>>(v),
        "ListRootsResult" => through::<ListRootsResult>(v),
        "LoggingMessageNotification" => through::<JsonRpcNotification<LoggingMessageParams>>(v),
        "LoggingMessageNotificationParams" => through::<LoggingMessageParams>(v),
        "ModelPreferences" => through::<ModelPreferences>(v),
        "ProgressNotification" => through::<JsonRpcNotification<ProgressParams>>(v),
        "ProgressNotificationParams" => through::<ProgressParams>(v),
        "PromptListChangedNotification" | "ResourceListChangedNotification" | "ToolListChangedNotification" => {
            through::<JsonRpcNotification<NotificationParams>>(v)
        }
        "ReadResourceRequest" => through::<JsonRpcRequest<ReadResourceParams>>(v),
        "ReadResourceResult" => through::<ReadResourceResult>(v),
        "ReadResourceResultResponse" => through::<JsonRpcResultResponse<ReadResourceResult>>(v),
        "Resource" => through::<Resource>(v),
        "ResourceUpdatedNotification" => through::<JsonRpcNotification<ResourceUpdatedParams>>(v),
        "ResourceUpdatedNotificationParams" => through::<ResourceUpdatedParams>(v),
        "Root" => through::<Root>(v),
        "SamplingMessage" => through::<SamplingMessage>(v),
        "SubscriptionsAcknowledgedNotification" => through::<JsonRpcNotification<AcknowledgedParams>>(v),
        "SubscriptionsListenRequest" => through::<JsonRpcRequest<ListenParams>>(v),
        "SubscriptionsListenResult" => through::<ListenResult>(v),
        "SubscriptionsListenResultResponse" => through::<JsonRpcResultResponse<ListenResult>>(v),
        "Tool" => through::<Tool>(v),
        "EmptyResult" => through::<EmptyResult>(v),
        "Implementation" => through::<Implementation>(v),
        "Prompt" => through::<Prompt>(v),
        "ResourceTemplate" => through::<ResourceTemplate>(v),
        other => Err(format!("no Rust type is mapped to schema definition {other}")),
    }
}

#[test]
fn every_2026_example_round_trips() {
    let root = shared_dir().join("mcp-schema/2026-07-28/examples");
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(&root).expect("examples folder").flatten().collect();
    dirs.sort_by_key(|d| d.file_name());
    for dir in dirs {
        let def = dir.file_name().to_string_lossy().into_owned();
        let mut files: Vec<_> = std::fs::read_dir(dir.path()).expect("example dir").flatten().collect();
        files.sort_by_key(|f| f.file_name());
        for file in files {
            let text = std::fs::read_to_string(file.path()).expect("example file");
            let original: Value = serde_json::from_str(&text).expect("example is JSON");
            match roundtrip(&def, &original) {
                Ok(back) if back == original => {}
                Ok(back) => failures.push(format!(
                    "{def}/{}: changed\n  was: {original}\n  now: {back}",
                    file.file_name().to_string_lossy()
                )),
                Err(e) => failures.push(format!("{def}/{}: {e}", file.file_name().to_string_lossy())),
            }
            checked += 1;
        }
    }
    assert!(checked >= 129, "expected the 129 published examples, found {checked}");
    assert!(failures.is_empty(), "{} of {checked} examples failed:\n{}", failures.len(), failures.join("\n"));
}

fn decode_one(s: &str) -> Result<Inbound, DecodeError> {
    match decode(s.as_bytes(), &DecodeLimits::default())? {
        Decoded::Single(m) => Ok(m),
        Decoded::Batch(_) => panic!("unexpected batch"),
    }
}

/// What a frame should decode to: a message kind, or an error code and the id it answers.
type Want = Result<&'static str, (i32, Option<RequestId>)>;

#[test]
fn decode_classifies_and_rejects() {
    let cases: &[(&str, Want)] = &[
        (r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, Ok("request")),
        (r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, Ok("notification")),
        (r#"{"jsonrpc":"2.0","id":"a","result":{}}"#, Ok("response")),
        (r#"{"jsonrpc":"2.0","id":7,"error":{"code":-1,"message":"x"}}"#, Ok("response")),
        (r#"{"jsonrpc":"2.0","id":0,"result":null}"#, Ok("response")),
        (r#"{"jsonrpc":"2.0","id":0,"result":{},"error":null}"#, Ok("response")),
        (r#"{"jsonrpc":"2.0","id":0,"result":null,"error":{"code":-1,"message":"x"}}"#, Ok("response")),
        (
            r#"{"jsonrpc":"2.0","id":0,"result":{},"error":{"code":-1,"message":"x"}}"#,
            Err((-32600, Some(RequestId::Number(0)))),
        ),
        (r#"{"jsonrpc":"2.0","id":0}"#, Err((-32600, Some(RequestId::Number(0))))),
        (r#"{"jsonrpc":"1.0","id":3,"method":"ping"}"#, Err((-32600, Some(RequestId::Number(3))))),
        (r#"{"id":3,"method":"ping"}"#, Err((-32600, Some(RequestId::Number(3))))),
        (r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, Err((-32600, None))),
        (r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#, Err((-32600, None))),
        (r#"{"jsonrpc":"2.0","id":"x","method":5}"#, Err((-32600, Some(RequestId::from("x"))))),
        (r#"{"jsonrpc":"2.0","id":"x","method":"a","params":3}"#, Err((-32600, Some(RequestId::from("x"))))),
        (r#"{"jsonrpc":"2.0","id":1"#, Err((-32700, None))),
        (r#"42"#, Err((-32600, None))),
    ];
    for (input, want) in cases {
        let got = decode_one(input);
        match (got, want) {
            (Ok(Inbound::Request(_)), Ok("request"))
            | (Ok(Inbound::Notification(_)), Ok("notification"))
            | (Ok(Inbound::Response(_)), Ok("response")) => {}
            (Err(e), Err((code, id))) => {
                assert_eq!(e.error.code.0, *code, "{input}: {}", e.error.message);
                assert_eq!(&e.id, id, "{input}");
            }
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn decode_enforces_limits() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let err = decode(deep.as_bytes(), &DecodeLimits::default()).expect_err("too deep");
    assert_eq!(err.error.code.0, -32600);
    assert!(err.error.message.contains("64"), "{}", err.error.message);

    let big = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{{"s":"{}"}}}}"#, "a".repeat(200));
    let err = decode(big.as_bytes(), &DecodeLimits::new(100, 64)).expect_err("too big");
    assert_eq!(err.error.code.0, -32600);

    let err =
        decode(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}", &DecodeLimits::default()).expect_err("utf8");
    assert_eq!(err.error.code.0, -32700);

    // Brackets inside strings do not count toward depth.
    let ok = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{{"s":"{}"}}}}"#, "[".repeat(500));
    assert!(decode(ok.as_bytes(), &DecodeLimits::default()).is_ok());
}

#[test]
fn legacy_shaping_drops_modern_fields() {
    let mut r = ListToolsResult {
        result_type: Some(crate::ResultType::Complete),
        tools: vec![Tool::new("t", "d", serde_json::Map::new())],
        ttl_ms: Some(0),
        cache_scope: Some(crate::CacheScope::Public),
        meta: Some(ResultMeta {
            server_info: Some(std::sync::Arc::new(Implementation::new("s", "1"))),
            ..Default::default()
        }),
        ..Default::default()
    };
    crate::Shape::shape(&mut r, crate::ProtocolVersion::V2025_06_18);
    let v = serde_json::to_value(&r).expect("serialize");
    assert_eq!(v, serde_json::json!({"tools":[{"name":"t","description":"d","inputSchema":{}}]}));
}
