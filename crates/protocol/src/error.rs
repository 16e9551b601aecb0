//! JSON-RPC and MCP error codes, and [`ErrorObject`], the one type every failure becomes on the
//! wire. All code-to-meaning mapping lives in this file.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ProtocolVersion;

/// A JSON-RPC error code. The associated constants are every code MCP assigns a meaning to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorCode(pub i32);

impl ErrorCode {
    /// Invalid JSON was received (`-32700`).
    pub const PARSE_ERROR: ErrorCode = ErrorCode(-32700);
    /// The JSON sent is not a valid request object (`-32600`).
    pub const INVALID_REQUEST: ErrorCode = ErrorCode(-32600);
    /// The method does not exist or is not available (`-32601`).
    pub const METHOD_NOT_FOUND: ErrorCode = ErrorCode(-32601);
    /// Invalid method parameters (`-32602`).
    pub const INVALID_PARAMS: ErrorCode = ErrorCode(-32602);
    /// Internal error (`-32603`).
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(-32603);
    /// Legacy revisions: the requested resource does not exist (`-32002`).
    pub const RESOURCE_NOT_FOUND: ErrorCode = ErrorCode(-32002);
    /// HTTP headers disagree with the body, or are missing or malformed (`-32020`).
    pub const HEADER_MISMATCH: ErrorCode = ErrorCode(-32020);
    /// The request needs a client capability the client did not declare (`-32021`).
    pub const MISSING_REQUIRED_CLIENT_CAPABILITY: ErrorCode = ErrorCode(-32021);
    /// The request's protocol version is not supported (`-32022`).
    pub const UNSUPPORTED_PROTOCOL_VERSION: ErrorCode = ErrorCode(-32022);
    /// Switchboard: the caller is over a rate limit; `data.retryAfterMs` says when to retry
    /// (`-32029`, after HTTP's 429). Not in the MCP spec, which defines no such code.
    pub const RATE_LIMITED: ErrorCode = ErrorCode(-32029);
    /// 2025-11-25: a URL-mode elicitation must complete first (`-32042`).
    pub const URL_ELICITATION_REQUIRED: ErrorCode = ErrorCode(-32042);
}

/// The `error` member of a JSON-RPC error response.
///
/// It deliberately does not implement `std::error::Error`: handler code converts any error into
/// a tool-level failure with `?`, and only an explicit `ErrorObject` becomes a protocol error.
///
/// Messages are meant for people: they say what was wrong and, where it helps, what would be
/// accepted instead. Constructors name the failure; the code follows from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// The error code.
    pub code: ErrorCode,
    /// A short, actionable description.
    pub message: String,
    /// Machine-readable details, shaped by the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ErrorObject {
    /// An error with a code and message and no data.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: None }
    }

    /// Attaches `data`.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// `-32700`: the bytes are not JSON (or not UTF-8).
    pub fn parse_error(detail: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::PARSE_ERROR, format!("parse error: {detail}"))
    }

    /// `-32600`: the message is JSON but not a valid JSON-RPC request.
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_REQUEST, detail)
    }

    /// `-32601`: no such method (in this era, or at all).
    pub fn method_not_found(method: &str) -> Self {
        Self::new(ErrorCode::METHOD_NOT_FOUND, format!("method not found: {method}"))
    }

    /// `-32602`: the parameters are wrong; `detail` names the failing path.
    pub fn invalid_params(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_PARAMS, detail)
    }

    /// `-32603`: something broke on our side; the message must not leak internals.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::INTERNAL_ERROR, detail)
    }

    /// A resource URI that names nothing. Legacy revisions use `-32002`; the modern era uses
    /// `-32602`. Both carry the URI in `data.uri`.
    pub fn resource_not_found(uri: &str, version: ProtocolVersion) -> Self {
        let code = if version.is_modern() { ErrorCode::INVALID_PARAMS } else { ErrorCode::RESOURCE_NOT_FOUND };
        Self::new(code, format!("resource not found: {uri}")).with_data(serde_json::json!({ "uri": uri }))
    }

    /// `-32022` with `data.supported` and `data.requested`, as the modern spec requires.
    pub fn unsupported_protocol_version(requested: &str, supported: &[&str]) -> Self {
        Self::new(
            ErrorCode::UNSUPPORTED_PROTOCOL_VERSION,
            format!("unsupported protocol version {requested:?}; supported: {}", supported.join(", ")),
        )
        .with_data(serde_json::json!({ "supported": supported, "requested": requested }))
    }

    /// `-32021` with `data.requiredCapabilities`.
    pub fn missing_client_capability(what: &str, required: Value) -> Self {
        Self::new(
            ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
            format!("this request needs the client capability `{what}`, which the request did not declare"),
        )
        .with_data(serde_json::json!({ "requiredCapabilities": required }))
    }

    /// `-32029`: over a rate limit; retry after `retry_after_ms` (in `data.retryAfterMs`).
    pub fn rate_limited(detail: impl Into<String>, retry_after_ms: u64) -> Self {
        Self::new(ErrorCode::RATE_LIMITED, detail).with_data(serde_json::json!({ "retryAfterMs": retry_after_ms }))
    }

    /// The `data.retryAfterMs` of a rate-limit error.
    pub fn retry_after_ms(&self) -> Option<u64> {
        if self.code != ErrorCode::RATE_LIMITED {
            return None;
        }
        self.data.as_ref()?.get("retryAfterMs")?.as_u64()
    }

    /// `-32020`: an HTTP header disagrees with the body.
    pub fn header_mismatch(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::HEADER_MISMATCH, detail)
    }
}

impl std::fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.message, self.code.0)
    }
}

impl From<serde_json::Error> for ErrorObject {
    /// A parameter that failed to deserialize: `-32602` with serde's path and reason.
    fn from(e: serde_json::Error) -> Self {
        ErrorObject::invalid_params(format!("invalid params: {e}"))
    }
}
