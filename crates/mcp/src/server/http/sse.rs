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

/// The HTTP status of a modern response: 404 for -32601, 400 for the validation errors the spec
/// lists, 200 otherwise (results, and errors about the call itself).
pub(crate) fn modern_status(error: Option<ErrorCode>) -> StatusCode {
    match error {
        Some(ErrorCode::RATE_LIMITED) => StatusCode::TOO_MANY_REQUESTS,
        Some(ErrorCode::METHOD_NOT_FOUND) => StatusCode::NOT_FOUND,
        Some(
            ErrorCode::HEADER_MISMATCH
            | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
            | ErrorCode::UNSUPPORTED_PROTOCOL_VERSION,
        ) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
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

/// One SSE event. Each line of `data` (compact JSON has one) gets a `data:` line of its own, so
/// a line break (CR, LF or CRLF) can neither end the event early nor add fields to it; the client
/// reads the lines back joined by LF.
pub(crate) fn event(id: Option<&str>, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 48);
    out.extend_from_slice(b"event: message\n");
    if let Some(id) = id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    let mut rest = data;
    while let Some(at) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(b"\ndata: ");
        let crlf = rest[at] == b'\r' && rest.get(at + 1) == Some(&b'\n');
        rest = &rest[at + if crlf { 2 } else { 1 }..];
    }
    out.extend_from_slice(rest);
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
    use super::event;

    #[test]
    fn line_breaks_in_data_become_data_lines() {
        // Found by fuzzing (fuzz/, target sse_codec): data was written on one `data:` line as it
        // was, so a line break in it cut the event short and could add fields or whole events.
        assert_eq!(
            &event(Some("s-1"), b"line one\nline two\r\nthree\rfour")[..],
            b"event: message\nid: s-1\ndata: line one\ndata: line two\ndata: three\ndata: four\n\n"
        );
        assert_eq!(
            &event(None, b"x\n\nevent: evil\ndata: y")[..],
            b"event: message\ndata: x\ndata: \ndata: event: evil\ndata: data: y\n\n"
        );
        assert_eq!(&event(None, b"{\"a\":1}")[..], b"event: message\ndata: {\"a\":1}\n\n");
    }
}
