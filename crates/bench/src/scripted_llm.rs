//! A scripted OpenAI-compatible model for the chat scenario: a server whose answers take a
//! fixed time per round, so the host's own cost can be read off the end-to-end latency. A
//! question gets one streamed `get_order_status` call (the order ID from the question); a
//! conversation that already holds a tool result gets a short streamed answer. Loopback use
//! only: no TLS, no keys checked.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

/// Serves the scripted model on `addr` until the process ends.
pub(crate) async fn serve(addr: &str, round: Duration) -> anyhow::Result<()> {
    use anyhow::Context;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    eprintln!("scripted model listening on http://{local}/v1 ({} ms per round)", round.as_millis());
    loop {
        let (stream, _) = listener.accept().await.context("accepting a connection")?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| answer(request, round));
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn answer(request: Request<Incoming>, round: Duration) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return Ok(reply(
            StatusCode::BAD_REQUEST,
            "application/json",
            json!({"error": {"message": "not JSON"}}).to_string(),
        ));
    };
    tokio::time::sleep(round).await;
    let messages = body.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
    let answered = messages.iter().any(|m| m.get("role").and_then(Value::as_str) == Some("tool"));
    let chunk = |delta: Value, finish: Option<&str>| {
        json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut chunks = vec![chunk(json!({"role": "assistant", "content": null}), None)];
    if answered {
        for piece in ["Your order ", "has been ", "delivered."] {
            chunks.push(chunk(json!({"content": piece}), None));
        }
        chunks.push(chunk(json!({}), Some("stop")));
    } else {
        let question = messages.iter().rev().find_map(|m| m.get("content").and_then(Value::as_str)).unwrap_or_default();
        let order = question.split_whitespace().find(|w| w.starts_with("ORD-")).unwrap_or("ORD-20250204-1037");
        let order = order.trim_end_matches(|c: char| !c.is_ascii_digit());
        let arguments = json!({"order_id": order}).to_string();
        let (head, tail) = arguments.split_at(arguments.len() / 2);
        chunks.push(chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_order_status", "arguments": head}}]}), None));
        chunks.push(chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": tail}}]}), None));
        chunks.push(chunk(json!({}), Some("tool_calls")));
    }
    chunks.push(json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "scripted", "choices": [],
                       "usage": {"prompt_tokens": 200, "completion_tokens": 20, "total_tokens": 220}}));
    let mut text: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    text.push_str("data: [DONE]\n\n");
    Ok(reply(StatusCode::OK, "text/event-stream", text))
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    response
}
