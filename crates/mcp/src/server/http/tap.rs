//! The `--wire-log` recorder for HTTP: request bodies are logged as `in`, and every JSON-RPC
//! message of a response (a JSON body, or each `data:` line of an SSE stream) as `out`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;

use crate::transport::tap::WireLog;

pub(crate) async fn record(State(log): State<WireLog>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => Bytes::new(),
    };
    if !bytes.is_empty() {
        log.record("in", &bytes);
    }
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let is_sse = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let (parts, body) = response.into_parts();
    if is_sse {
        let stream = body.into_data_stream().map(move |chunk| {
            if let Ok(chunk) = &chunk {
                for line in String::from_utf8_lossy(chunk).lines() {
                    if let Some(data) = line.strip_prefix("data: ").filter(|d| d.starts_with('{') || d.starts_with('['))
                    {
                        log.record("out", data.as_bytes());
                    }
                }
            }
            chunk
        });
        return Response::from_parts(parts, Body::from_stream(stream));
    }
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    if bytes.first().is_some_and(|b| *b == b'{' || *b == b'[') {
        log.record("out", &bytes);
    }
    Response::from_parts(parts, Body::from(bytes))
}
