//! JSON-RPC 2.0 framing: decoding an inbound message in one parse, and encoding outbound ones
//! straight into a byte buffer.
//!
//! Decoding borrows from the input and keeps `params`/`result` as raw JSON, so a payload is
//! parsed exactly once, by whoever knows its type. Classification follows JSON-RPC 2.0 with
//! MCP's refinements: a request id is a string or an integer, never null.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::error::ErrorObject;

/// A JSON-RPC request id: a string or an integer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestId {
    /// An integer id.
    Number(i64),
    /// A string id.
    String(String),
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for RequestId {
    fn from(n: i64) -> Self {
        RequestId::Number(n)
    }
}

impl From<&str> for RequestId {
    fn from(s: &str) -> Self {
        RequestId::String(s.to_owned())
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RequestId::Number(n) => s.serialize_i64(*n),
            RequestId::String(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = RequestId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RequestId, E> {
                Ok(RequestId::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RequestId, E> {
                i64::try_from(v).map(RequestId::Number).map_err(|_| E::custom("integer id does not fit in 64 bits"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RequestId, E> {
                Ok(RequestId::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RequestId, E> {
                Ok(RequestId::String(v))
            }
        }
        d.deserialize_any(IdVisitor)
    }
}

/// The `"jsonrpc": "2.0"` member; (de)serializes only that exact string.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonRpcVersion;

impl Serialize for JsonRpcVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("2.0")
    }
}

impl<'de> Deserialize<'de> for JsonRpcVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Cow::<str>::deserialize(d)?;
        if v == "2.0" {
            Ok(JsonRpcVersion)
        } else {
            Err(de::Error::custom(format!("jsonrpc must be \"2.0\", not {v:?}")))
        }
    }
}

/// Limits applied while decoding; every one has a default and is meant to be configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeLimits {
    /// The largest message accepted, in bytes (default 4 MiB).
    pub max_message_bytes: usize,
    /// The deepest nesting of arrays and objects accepted (default 64, at most 128).
    pub max_depth: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_message_bytes: 4 * 1024 * 1024, max_depth: 64 }
    }
}

impl DecodeLimits {
    /// Limits with the given message size and depth (depth is capped at 128, the JSON parser's
    /// own recursion bound).
    pub fn new(max_message_bytes: usize, max_depth: usize) -> Self {
        Self { max_message_bytes, max_depth: max_depth.min(128) }
    }
}

/// A request as received: the id, the method and its still-encoded params.
#[derive(Debug)]
pub struct RawRequest {
    /// The request id.
    pub id: RequestId,
    /// The method name.
    pub method: String,
    /// The params, unparsed.
    pub params: Option<Box<RawValue>>,
}

/// A notification as received.
#[derive(Debug)]
pub struct RawNotification {
    /// The method name.
    pub method: String,
    /// The params, unparsed.
    pub params: Option<Box<RawValue>>,
}

/// A response as received: to a request we sent.
#[derive(Debug)]
pub struct RawResponse {
    /// The id of the request it answers; `None` when the peer could not tell (`id: null`).
    pub id: Option<RequestId>,
    /// The result, unparsed, or the error.
    pub outcome: Result<Box<RawValue>, ErrorObject>,
}

/// One decoded inbound message.
#[derive(Debug)]
pub enum Inbound {
    /// A request, expecting a response.
    Request(RawRequest),
    /// A notification.
    Notification(RawNotification),
    /// A response to one of our requests.
    Response(RawResponse),
}

/// A message that could not be decoded, with the id to answer to if one could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    /// The id of the offending request, when it was readable.
    pub id: Option<RequestId>,
    /// What to answer.
    pub error: ErrorObject,
}

impl DecodeError {
    fn new(id: Option<RequestId>, error: ErrorObject) -> Self {
        Self { id, error }
    }
}

/// What one frame of input decoded to.
#[derive(Debug)]
pub enum Decoded {
    /// A single message.
    Single(Inbound),
    /// A JSON-RPC batch; each element decoded on its own.
    Batch(Vec<Result<Inbound, DecodeError>>),
}

/// Decodes one frame (one line on stdio, one body on HTTP, one WebSocket text frame).
///
/// Checks size, UTF-8 and nesting depth before parsing, so a hostile frame costs one linear
/// scan and never a deep recursion.
pub fn decode(frame: &[u8], limits: &DecodeLimits) -> Result<Decoded, DecodeError> {
    if frame.len() > limits.max_message_bytes {
        return Err(DecodeError::new(None, oversized(frame.len(), limits.max_message_bytes)));
    }
    let text = std::str::from_utf8(frame)
        .map_err(|e| DecodeError::new(None, ErrorObject::parse_error(format!("message is not valid UTF-8 ({e})"))))?;
    check_depth(text.as_bytes(), limits.max_depth).map_err(|e| DecodeError::new(None, e))?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let items: Vec<&RawValue> =
            serde_json::from_str(text).map_err(|e| DecodeError::new(None, ErrorObject::parse_error(e)))?;
        if items.is_empty() {
            return Err(DecodeError::new(None, ErrorObject::invalid_request("an empty batch is not a valid request")));
        }
        return Ok(Decoded::Batch(items.into_iter().map(|raw| classify_raw(raw.get())).collect()));
    }
    classify_raw(text).map(Decoded::Single)
}

/// The error for a frame over the size limit.
pub fn oversized(len: usize, max: usize) -> ErrorObject {
    ErrorObject::invalid_request(format!("message of {len} bytes exceeds the limit of {max} bytes"))
}

/// Rejects JSON nested deeper than `max`. Strings are skipped, so brackets inside them count
/// for nothing.
fn check_depth(bytes: &[u8], max: usize) -> Result<(), ErrorObject> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(ErrorObject::invalid_request(format!(
                        "message nests arrays/objects deeper than the limit of {max} levels"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Deserializes a member that is present, even when it is `null`, as `Some` (serde's `Option`
/// would turn `null` into `None`, and `"id": null` must not look like a notification).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<&'a RawValue>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    // `"result": null` is a result (JSON-RPC allows any value), so presence is what counts.
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

fn classify_raw(text: &str) -> Result<Inbound, DecodeError> {
    let env: Envelope<'_> = match serde_json::from_str(text) {
        Ok(env) => env,
        Err(e) if e.is_data() => {
            // Valid JSON but not an object (a number, a string, ...).
            return Err(DecodeError::new(
                None,
                ErrorObject::invalid_request("a JSON-RPC message must be a JSON object"),
            ));
        }
        Err(e) => return Err(DecodeError::new(None, ErrorObject::parse_error(e))),
    };
    // The id is read first so every later error can be answered to it.
    let id = match env.id {
        None => None,
        Some(raw) if raw.get() == "null" => Some(None),
        Some(raw) => match serde_json::from_str::<RequestId>(raw.get()) {
            Ok(id) => Some(Some(id)),
            Err(_) => {
                return Err(DecodeError::new(
                    None,
                    ErrorObject::invalid_request(format!("id must be a string or an integer, not {}", raw.get())),
                ))
            }
        },
    };
    let answer_id = id.clone().flatten();
    match env.jsonrpc {
        Some(v) if v.get() == "\"2.0\"" => {}
        Some(v) => {
            return Err(DecodeError::new(
                answer_id,
                ErrorObject::invalid_request(format!("jsonrpc must be \"2.0\", not {}", v.get())),
            ))
        }
        None => return Err(DecodeError::new(answer_id, ErrorObject::invalid_request("missing \"jsonrpc\": \"2.0\""))),
    }
    if let Some(method) = env.method {
        let method: String = serde_json::from_str(method.get()).map_err(|_| {
            DecodeError::new(answer_id.clone(), ErrorObject::invalid_request("method must be a string"))
        })?;
        let params = match env.params {
            None => None,
            Some(p) if p.get() == "null" => None,
            Some(p) if p.get().starts_with('{') || p.get().starts_with('[') => Some(p.to_owned()),
            Some(_) => {
                return Err(DecodeError::new(
                    answer_id,
                    ErrorObject::invalid_request("params must be an object or an array"),
                ))
            }
        };
        return match id {
            None => Ok(Inbound::Notification(RawNotification { method, params })),
            Some(None) => Err(DecodeError::new(
                None,
                ErrorObject::invalid_request("request id must be a string or an integer; null is not allowed"),
            )),
            Some(Some(id)) => Ok(Inbound::Request(RawRequest { id, method, params })),
        };
    }
    // Lenient where peers are sloppy: `"error": null` beside a result, or `"result": null`
    // beside an error, is read as the member that carries something.
    let result = env.result.filter(|r| !(r.get() == "null" && env.error.is_some()));
    let outcome = match (result, env.error) {
        (Some(r), None) => Ok(r.to_owned()),
        (None, Some(e)) => Err(serde_json::from_str::<ErrorObject>(e.get()).map_err(|e| {
            DecodeError::new(answer_id.clone(), ErrorObject::invalid_request(format!("malformed error object: {e}")))
        })?),
        (Some(_), Some(_)) => {
            return Err(DecodeError::new(
                answer_id,
                ErrorObject::invalid_request("a response has both result and error"),
            ))
        }
        (None, None) => {
            return Err(DecodeError::new(
                answer_id,
                ErrorObject::invalid_request("message has neither method nor result nor error"),
            ))
        }
    };
    match id {
        None => Err(DecodeError::new(None, ErrorObject::invalid_request("a response must carry an id"))),
        Some(id) => Ok(Inbound::Response(RawResponse { id, outcome })),
    }
}

#[derive(Serialize)]
struct ResultOut<'a, T: ?Sized> {
    jsonrpc: JsonRpcVersion,
    id: &'a RequestId,
    result: &'a T,
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    jsonrpc: JsonRpcVersion,
    // JSON-RPC 2.0 requires `null` when the id could not be determined.
    id: Option<&'a RequestId>,
    error: &'a ErrorObject,
}

#[derive(Serialize)]
struct RequestOut<'a, P: ?Sized> {
    jsonrpc: JsonRpcVersion,
    id: &'a RequestId,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a P>,
}

#[derive(Serialize)]
struct NotificationOut<'a, P: ?Sized> {
    jsonrpc: JsonRpcVersion,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a P>,
}

/// Appends a result response to `out` (no trailing newline).
pub fn write_result<T: Serialize + ?Sized>(out: &mut Vec<u8>, id: &RequestId, result: &T) -> serde_json::Result<()> {
    serde_json::to_writer(out, &ResultOut { jsonrpc: JsonRpcVersion, id, result })
}

/// Appends an error response to `out`; `id: None` encodes as `null`.
pub fn write_error(out: &mut Vec<u8>, id: Option<&RequestId>, error: &ErrorObject) {
    // Serializing these plain types cannot fail: no maps with non-string keys, no I/O.
    let _ = serde_json::to_writer(out, &ErrorOut { jsonrpc: JsonRpcVersion, id, error });
}

/// Appends a request to `out`.
pub fn write_request<P: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    id: &RequestId,
    method: &str,
    params: Option<&P>,
) -> serde_json::Result<()> {
    serde_json::to_writer(out, &RequestOut { jsonrpc: JsonRpcVersion, id, method, params })
}

/// Appends a notification to `out`.
pub fn write_notification<P: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    method: &str,
    params: Option<&P>,
) -> serde_json::Result<()> {
    serde_json::to_writer(out, &NotificationOut { jsonrpc: JsonRpcVersion, method, params })
}

/// A typed request envelope, for tests and clients that want the whole message as one value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonRpcRequest<P> {
    /// Always `"2.0"`.
    pub jsonrpc: JsonRpcVersion,
    /// The id.
    pub id: RequestId,
    /// The method.
    pub method: String,
    /// The params.
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    pub params: Option<P>,
}

/// A typed notification envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonRpcNotification<P> {
    /// Always `"2.0"`.
    pub jsonrpc: JsonRpcVersion,
    /// The method.
    pub method: String,
    /// The params.
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    pub params: Option<P>,
}

/// A typed result-response envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonRpcResultResponse<R> {
    /// Always `"2.0"`.
    pub jsonrpc: JsonRpcVersion,
    /// The id of the answered request.
    pub id: RequestId,
    /// The result.
    pub result: R,
}

/// A typed error-response envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonRpcErrorResponse {
    /// Always `"2.0"`.
    pub jsonrpc: JsonRpcVersion,
    /// The id of the answered request; absent or null when it could not be determined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<RequestId>,
    /// The error.
    pub error: ErrorObject,
}
