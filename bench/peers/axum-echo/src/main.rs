//! The benchmark's ceiling: a bare axum JSON-RPC endpoint at `/mcp`. It parses the request, and
//! answers `tools/call echo` with the message, `tools/call add` with the sum, `tools/list` with
//! the two tools, `initialize` with a session header, and anything else with an empty result.
//! No validation, no eras, no sessions kept: what an HTTP + JSON stack costs on its own.
//!
//! Usage: `axum-echo 127.0.0.1:PORT` (prints `listening on http://ADDR/mcp` on stderr).

use axum::serve::ListenerExt;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// The global allocator Switchboard's binary uses (mimalloc, same version and features), so the
/// comparison measures servers, not allocators.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The parts of a JSON-RPC request the echo reads.
#[derive(Deserialize)]
struct Request {
    id: Option<Value>,
    method: String,
    #[serde(default)]
    params: Value,
}

fn text(s: String) -> Value {
    json!({"content": [{"type": "text", "text": s}], "isError": false})
}

async fn mcp(_headers: HeaderMap, Json(req): Json<Request>) -> Response {
    let Some(id) = req.id else {
        return axum::http::StatusCode::ACCEPTED.into_response();
    };
    let args = &req.params["arguments"];
    let result = match (req.method.as_str(), req.params["name"].as_str()) {
        ("tools/call", Some("echo")) => text(args["message"].as_str().unwrap_or_default().to_owned()),
        ("tools/call", Some("add")) => {
            text((args["a"].as_f64().unwrap_or(0.0) + args["b"].as_f64().unwrap_or(0.0)).to_string())
        }
        ("tools/list", _) => json!({"tools": [
            {"name": "echo", "description": "Echoes the message back.", "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}},
            {"name": "add", "description": "Adds two numbers.", "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}}
        ]}),
        ("initialize", _) => {
            let body = Json(json!({"jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": req.params["protocolVersion"].as_str().unwrap_or("2025-11-25"),
                "capabilities": {"tools": {}}, "serverInfo": {"name": "axum-echo", "version": "0"}}}));
            return ([("mcp-session-id", "axum-echo")], body).into_response();
        }
        _ => json!({}),
    };
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let app = axum::Router::new().route("/mcp", post(mcp));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("listening on http://{}/mcp", listener.local_addr()?);
    // TCP_NODELAY, as Switchboard's listener sets: without it, responses written in several
    // pieces (SSE) wait on Nagle + delayed ACK (~40 ms).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
