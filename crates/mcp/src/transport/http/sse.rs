//! Response building: JSON bodies with the status the spec assigns to each error, and SSE
//! streams (one compact JSON message per `data:` line).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::Stream;
use futures_util::StreamExt;
use http::{header, HeaderValue, StatusCode};
use switchboard_protocol::jsonrpc;
use switchboard_protocol::{ErrorCode, ErrorObject, RequestId};

/// The HTTP status for a modern response frame: 404 for -32601, 400 for the validation errors
/// the spec lists, 200 otherwise.
pub(crate) fn modern_status(frame: &[u8]) -> StatusCode {
    match error_code(frame) {
        Some(c) if c == ErrorCode::METHOD_NOT_FOUND.0 => StatusCode::NOT_FOUND,
        Some(c)
            if c == ErrorCode::HEADER_MISMATCH.0
                || c == ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY.0
                || c == ErrorCode::UNSUPPORTED_PROTOCOL_VERSION.0 =>
        {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::OK,
    }
}

/// The error code of an error frame. Frames come from `jsonrpc::write_result` and
/// `jsonrpc::write_error`, whose layout is fixed, so the kind and the code are read from the
/// first bytes; anything else is parsed.
fn error_code(frame: &[u8]) -> Option<i32> {
    match sniff(frame) {
        Some(Sniffed::Result) => None,
        Some(Sniffed::Error(code)) => Some(code),
        None => parse_error_code(frame),
    }
}

/// What the head of an encoded response says.
#[derive(Debug, PartialEq, Eq)]
enum Sniffed {
    Result,
    Error(i32),
}

/// Reads `{"jsonrpc":"2.0","id":<id>,"result":` or `{"jsonrpc":"2.0","id":<id>,"error":{"code":<n>,`;
/// `None` when the frame does not start like either.
fn sniff(frame: &[u8]) -> Option<Sniffed> {
    let rest = frame.strip_prefix(br#"{"jsonrpc":"2.0","id":"#)?;
    let rest = skip_id(rest)?;
    if rest.starts_with(br#","result":"#) {
        return Some(Sniffed::Result);
    }
    let rest = rest.strip_prefix(br#","error":{"code":"#)?;
    let (negative, digits) = match rest.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, rest),
    };
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 || len > 10 || !matches!(digits.get(len), Some(b',' | b'}')) {
        return None;
    }
    let magnitude: i64 = std::str::from_utf8(&digits[..len]).ok()?.parse().ok()?;
    let code = i32::try_from(if negative { -magnitude } else { magnitude }).ok()?;
    Some(Sniffed::Error(code))
}

/// Skips an encoded id (a JSON string, an integer or `null`).
fn skip_id(bytes: &[u8]) -> Option<&[u8]> {
    match bytes.first()? {
        b'"' => {
            let mut escaped = false;
            for (i, &b) in bytes.iter().enumerate().skip(1) {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => return bytes.get(i + 1..),
                    _ => {}
                }
            }
            None
        }
        b'n' => bytes.strip_prefix(b"null"),
        _ => {
            let len = bytes.iter().take_while(|b| b.is_ascii_digit() || **b == b'-').count();
            (len > 0).then(|| &bytes[len..])
        }
    }
}

/// The error code of an error frame, by parsing it.
fn parse_error_code(frame: &[u8]) -> Option<i32> {
    #[derive(serde::Deserialize)]
    struct Peek {
        error: Option<Code>,
    }
    #[derive(serde::Deserialize)]
    struct Code {
        code: i32,
    }
    serde_json::from_slice::<Peek>(frame).ok()?.error.map(|e| e.code)
}

/// A JSON response carrying one frame.
pub(crate) fn json(status: StatusCode, frame: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(frame));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A JSON-RPC error response with an HTTP status.
pub(crate) fn error(status: StatusCode, id: Option<&RequestId>, error: &ErrorObject) -> Response {
    let mut frame = Vec::with_capacity(128);
    jsonrpc::write_error(&mut frame, id, error);
    json(status, frame)
}

/// 413 for a body over the limit.
pub(crate) fn too_large(limit: usize) -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        None,
        &ErrorObject::invalid_request(format!("request body exceeds the limit of {limit} bytes")),
    )
}

/// 405 for GET/DELETE without a legacy session.
pub(crate) fn method_not_allowed() -> Response {
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, HeaderValue::from_static("POST"))]).into_response()
}

/// 202 with no body.
pub(crate) fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

/// One SSE event.
pub(crate) fn event(id: Option<&str>, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 48);
    out.extend_from_slice(b"event: message\n");
    if let Some(id) = id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// The SEP-1699 priming event: an id with empty data, and the reconnection delay.
pub(crate) fn priming(id: &str, retry: Duration) -> Bytes {
    Bytes::from(format!("id: {id}\nretry: {}\ndata: \n\n", retry.as_millis()))
}

/// A keep-alive comment.
pub(crate) fn keep_alive() -> Bytes {
    Bytes::from_static(b": keep-alive\n\n")
}

/// An SSE response around a stream of already-framed events.
pub(crate) fn stream<S>(events: S, session: Option<&str>) -> Response
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    let body = Body::from_stream(events.map(Ok::<_, Infallible>));
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-transform"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if let Some(id) = session.and_then(|s| HeaderValue::from_str(s).ok()) {
        h.insert(super::headers::SESSION_ID, id);
    }
    response
}

/// Whether the client accepts SSE.
pub(crate) fn accepts_sse(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.contains("text/event-stream") || s.contains("*/*")))
}

#[cfg(test)]
mod tests {
    use switchboard_protocol::jsonrpc::{write_error, write_result, RequestId};
    use switchboard_protocol::{ErrorCode, ErrorObject};

    use super::*;

    fn ids() -> Vec<RequestId> {
        vec![
            RequestId::Number(0),
            RequestId::Number(-17),
            RequestId::Number(i64::MAX),
            RequestId::String(String::new()),
            RequestId::String(r#"a","result":{"x"#.into()),
            RequestId::String(r#"quote \" and backslash \\"#.into()),
            RequestId::String("\u{1F600} ünïcödé".into()),
        ]
    }

    #[test]
    fn sniffing_agrees_with_parsing() {
        let codes = [
            ErrorCode::METHOD_NOT_FOUND,
            ErrorCode::HEADER_MISMATCH,
            ErrorCode::UNSUPPORTED_PROTOCOL_VERSION,
            ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
            ErrorCode(0),
            ErrorCode(7),
            ErrorCode(i32::MIN),
            ErrorCode(i32::MAX),
        ];
        for id in ids() {
            let mut frame = Vec::new();
            write_result(&mut frame, &id, &serde_json::json!({"error": {"code": 1}})).expect("encodes");
            assert_eq!(sniff(&frame), Some(Sniffed::Result), "{}", String::from_utf8_lossy(&frame));
            assert_eq!(error_code(&frame), parse_error_code(&frame));
            for code in codes {
                let mut frame = Vec::new();
                write_error(&mut frame, Some(&id), &ErrorObject::new(code, "no"));
                assert_eq!(sniff(&frame), Some(Sniffed::Error(code.0)), "{}", String::from_utf8_lossy(&frame));
                assert_eq!(error_code(&frame), Some(code.0));
            }
        }
        let mut frame = Vec::new();
        write_error(&mut frame, None, &ErrorObject::new(ErrorCode::METHOD_NOT_FOUND, "no"));
        assert_eq!(error_code(&frame), Some(ErrorCode::METHOD_NOT_FOUND.0));
    }

    #[test]
    fn unknown_layouts_are_parsed() {
        let frame = br#"{"id":1,"jsonrpc":"2.0","error":{"message":"x","code":-32601}}"#;
        assert_eq!(sniff(frame), None);
        assert_eq!(error_code(frame), Some(-32601));
        assert_eq!(modern_status(frame), StatusCode::NOT_FOUND);
        assert_eq!(error_code(br#"{"jsonrpc":"2.0","id":1,"error":{"code":-3x}}"#), None);
        assert_eq!(modern_status(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#), StatusCode::OK);
    }
}
