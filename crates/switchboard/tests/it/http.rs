//! Streamable HTTP, HTTP+SSE and WebSocket against the real binary. Every message received is
//! checked against the schema of the revision in use (`switchboard_testkit::http`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use switchboard_protocol::ProtocolVersion;
use switchboard_testkit::http::{parse_sse, HttpPeer};
use switchboard_testkit::peer::modern_meta;
use switchboard_testkit::process::ServerProcess;
use switchboard_testkit::schema::SchemaValidator;

use crate::switchboard_bin;

fn server(extra: &[&str]) -> ServerProcess {
    let mut args = vec!["serve", "--demo", "--listen", "127.0.0.1:0", "--log-level", "info"];
    args.extend_from_slice(extra);
    ServerProcess::spawn(&switchboard_bin(), &args)
}

/// Sends a raw HTTP/1.1 request and returns the status code.
fn raw_status(addr: &str, request: &str) -> u16 {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(request.as_bytes()).expect("write");
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modern_requests_answer_json_or_a_request_scoped_stream() {
    let srv = server(&[]);
    let mut peer = HttpPeer::new(srv.mcp_url());
    let r = peer.modern("tools/call", json!({"name": "echo", "arguments": {"message": "hi"}}), json!({})).await;
    assert_eq!((r.status, r.content_type()), (200, "application/json"), "{r:?}");
    assert_eq!(r.last().pointer("/result/content/0/text"), Some(&json!("hi")));

    let mut params = json!({"name": "test_tool_with_progress", "arguments": {}});
    params["_meta"] = modern_meta(json!({}));
    params["_meta"]["progressToken"] = json!("pt");
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params});
    let headers = [
        ("mcp-protocol-version", "2026-07-28".to_owned()),
        ("mcp-method", "tools/call".to_owned()),
        ("mcp-name", "test_tool_with_progress".to_owned()),
    ];
    let r = peer.post(&body, &headers, ProtocolVersion::LATEST, Some("tools/call")).await;
    assert!(r.content_type().starts_with("text/event-stream"), "{r:?}");
    assert_eq!(r.headers.get("x-accel-buffering").map(String::as_str), Some("no"));
    let progress: Vec<f64> = r
        .messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .filter_map(|m| m["params"]["progress"].as_f64())
        .collect();
    assert_eq!(progress, vec![0.0, 50.0, 100.0]);
    assert_eq!(r.last()["id"], 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modern_header_rules_map_to_the_specified_statuses() {
    let srv = server(&[]);
    let peer = HttpPeer::new(srv.mcp_url());
    let meta = modern_meta(json!({}));
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}});
    let v = ProtocolVersion::LATEST;
    // name, body, headers, expected HTTP status, expected JSON-RPC code
    type Case = (&'static str, Value, Vec<(&'static str, String)>, u16, i64);
    let cases: Vec<Case> = vec![
        ("no protocol header", list.clone(), vec![("mcp-method", "tools/list".into())], 400, -32020),
        (
            "method mismatch",
            list.clone(),
            vec![("mcp-protocol-version", "2026-07-28".into()), ("mcp-method", "prompts/list".into())],
            400,
            -32020,
        ),
        (
            "method case",
            list.clone(),
            vec![("mcp-protocol-version", "2026-07-28".into()), ("mcp-method", "TOOLS/LIST".into())],
            400,
            -32020,
        ),
        (
            "name mismatch",
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"_meta": meta, "name": "echo", "arguments": {"message": "x"}}}),
            vec![
                ("mcp-protocol-version", "2026-07-28".into()),
                ("mcp-method", "tools/call".into()),
                ("mcp-name", "add".into()),
            ],
            400,
            -32020,
        ),
        (
            "unknown method",
            json!({"jsonrpc": "2.0", "id": 1, "method": "nope/nothing", "params": {"_meta": meta}}),
            vec![("mcp-protocol-version", "2026-07-28".into()), ("mcp-method", "nope/nothing".into())],
            404,
            -32601,
        ),
        (
            "unsupported version",
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "v9", "io.modelcontextprotocol/clientCapabilities": {}}}}),
            vec![("mcp-protocol-version", "v9".into()), ("mcp-method", "tools/list".into())],
            400,
            -32022,
        ),
        (
            "missing capabilities",
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}}),
            vec![("mcp-protocol-version", "2026-07-28".into()), ("mcp-method", "tools/list".into())],
            400,
            -32602,
        ),
        (
            "undeclared capability",
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"_meta": meta, "name": "test_missing_capability", "arguments": {}}}),
            vec![
                ("mcp-protocol-version", "2026-07-28".into()),
                ("mcp-method", "tools/call".into()),
                ("mcp-name", "test_missing_capability".into()),
            ],
            400,
            -32021,
        ),
    ];
    for (name, body, headers, status, code) in cases {
        let r = peer.post(&body, &headers, v, Some(body["method"].as_str().unwrap_or_default())).await;
        assert_eq!(r.status, status, "{name}: {:?}", r.messages);
        assert_eq!(r.last().pointer("/error/code"), Some(&json!(code)), "{name}");
        assert_eq!(r.last()["id"], 1, "{name}: the request id is echoed");
    }
    let note = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}});
    assert_eq!(peer.post(&note, &[("mcp-protocol-version", "2026-07-28".into())], v, None).await.status, 202);
    assert_eq!(raw_status(&srv.addr, &format!("GET /mcp HTTP/1.1\r\nHost: {}\r\n\r\n", srv.addr)), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_sessions_live_and_end() {
    let srv = server(&[]);
    let mut peer = HttpPeer::new(srv.mcp_url());
    let init = peer.initialize(ProtocolVersion::V2025_06_18, json!({})).await;
    let sid = peer.session.clone().expect("a session id");
    assert!(sid.len() >= 32 && sid.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{sid}");
    assert_eq!(init.last().pointer("/result/protocolVersion"), Some(&json!("2025-06-18")));
    let r = peer.legacy("tools/call", json!({"name": "add", "arguments": {"a": 1, "b": 2}})).await;
    assert_eq!(r.last().pointer("/result/structuredContent/sum"), Some(&json!(3.0)), "{r:?}");
    assert_eq!(peer.delete().await, 200);
    let r = peer.legacy("tools/list", json!({})).await;
    assert_eq!(r.status, 404, "an ended session is gone");
    let mut stranger = HttpPeer::new(srv.mcp_url());
    let r = stranger.legacy("tools/list", json!({})).await;
    assert_eq!(r.status, 400, "no session, no initialize");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_server_requests_travel_on_the_request_stream() {
    let srv = server(&[]);
    let mut peer = HttpPeer::new(srv.mcp_url());
    peer.initialize(ProtocolVersion::V2025_11_25, json!({"sampling": {}})).await;
    let mut stream = peer
        .legacy_stream("tools/call", json!({"name": "test_sampling", "arguments": {"prompt": "Capital of France?"}}))
        .await;
    let priming = stream.next(Duration::from_secs(5)).await.expect("priming event");
    assert!(priming.data.is_empty() && priming.id.is_some(), "{priming:?}");
    let ask = stream.next(Duration::from_secs(5)).await.expect("sampling request");
    let ask: Value = serde_json::from_str(&ask.data).expect("json");
    assert_eq!(ask["method"], "sampling/createMessage");
    let answer = json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"role": "assistant", "content": {"type": "text", "text": "Paris"}, "model": "m"}});
    assert_eq!(peer.legacy_raw(&answer).await.status, 202);
    let done = stream.next(Duration::from_secs(5)).await.expect("result");
    let done: Value = serde_json::from_str(&done.data).expect("json");
    assert_eq!(done.pointer("/result/content/0/text"), Some(&json!("LLM response: Paris")), "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_resumes_with_exactly_the_missed_events() {
    let srv = server(&[]);
    let mut peer = HttpPeer::new(srv.mcp_url());
    peer.initialize(ProtocolVersion::V2025_11_25, json!({})).await;
    let mut resumer = HttpPeer::new(srv.mcp_url());
    resumer.session = peer.session.clone();
    resumer.version = peer.version;
    drop_and_resume(&mut peer, &resumer).await;
}

/// Starts a slow call with progress through `start`, drops its stream after two events, resumes
/// it with `Last-Event-ID` through `resume` (the same session, maybe on another replica), and
/// checks that every event came once, in order, and then the result.
pub(crate) async fn drop_and_resume(start: &mut HttpPeer, resume: &HttpPeer) {
    let mut stream = start
        .legacy_stream(
            "tools/call",
            json!({"name": "slow", "arguments": {"ms": 1500, "steps": 6}, "_meta": {"progressToken": 9}}),
        )
        .await;
    let mut seen = Vec::new();
    let mut last_id = None;
    while seen.len() < 2 {
        let e = stream.next(Duration::from_secs(5)).await.expect("event before the drop");
        last_id = e.id.clone();
        if !e.data.is_empty() {
            seen.push(serde_json::from_str::<Value>(&e.data).expect("json"));
        }
    }
    drop(stream);
    let last_id = last_id.expect("events carry ids");
    let mut resumed = resume.get(Some(&last_id), Some("tools/call")).await;
    assert_eq!(resumed.status, 200);
    let mut rest = Vec::new();
    while let Some(e) = resumed.next(Duration::from_secs(5)).await {
        rest.push(serde_json::from_str::<Value>(&e.data).expect("json"));
    }
    let progress: Vec<f64> =
        seen.iter().chain(&rest).filter_map(|m| m.pointer("/params/progress").and_then(Value::as_f64)).collect();
    assert_eq!(progress, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "every event once, in order");
    let result = rest.last().expect("the result after resuming");
    assert_eq!(result.pointer("/result/content/0/text"), Some(&json!("worked 1500 ms")), "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_rebinding_and_size_limits_are_enforced() {
    let srv = server(&["--max-message-bytes", "65536"]);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": modern_meta(json!({}))}})
        .to_string();
    let request = |host: &str, origin: Option<&str>, body: &str| {
        let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {host}\r\n{origin}Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    assert_eq!(raw_status(&srv.addr, &request(&srv.addr, None, &body)), 200);
    assert_eq!(
        raw_status(
            &srv.addr,
            &request(
                &format!("localhost:{}", srv.addr.rsplit(':').next().unwrap_or("")),
                Some("http://localhost"),
                &body
            )
        ),
        200
    );
    assert_eq!(raw_status(&srv.addr, &request("evil.example.com", None, &body)), 403, "foreign Host");
    assert_eq!(
        raw_status(&srv.addr, &request(&srv.addr, Some("http://evil.example.com"), &body)),
        403,
        "foreign Origin"
    );
    let big =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"pad":"{}"}}}}"#, "x".repeat(100_000));
    assert_eq!(raw_status(&srv.addr, &request(&srv.addr, None, &big)), 413, "oversized body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_dropped_while_clients_are_served() {
    let srv = server(&["--header-read-timeout", "2"]);
    let idle: Vec<TcpStream> = (0..1000).map(|_| TcpStream::connect(&srv.addr).expect("idle connection")).collect();
    let mut peer = HttpPeer::new(srv.mcp_url());
    let r = peer.modern("tools/call", json!({"name": "echo", "arguments": {"message": "busy?"}}), json!({})).await;
    assert_eq!(
        r.last().pointer("/result/content/0/text"),
        Some(&json!("busy?")),
        "served beside 1000 idle connections"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let closed = idle
        .into_iter()
        .filter(|s| {
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let mut b = [0u8; 1];
            matches!((&*s).read(&mut b), Ok(0) | Err(_)) && (&*s).read(&mut b).map_or(true, |n| n == 0)
        })
        .count();
    assert_eq!(closed, 1000, "every idle connection was closed by the header timeout");
    let r = peer.modern("tools/list", json!({}), json!({})).await;
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_carries_both_eras() {
    let srv = server(&[]);
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{}/ws", srv.addr))
            .expect("request");
    request.headers_mut().insert("sec-websocket-protocol", "mcp".parse().expect("header"));
    let (mut ws, response) = tokio_tungstenite::connect_async(request).await.expect("websocket");
    assert_eq!(response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()), Some("mcp"));
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"_meta": modern_meta(json!({})), "name": "echo", "arguments": {"message": "over ws"}}});
    ws.send(tokio_tungstenite::tungstenite::Message::Text(call.to_string().into())).await.expect("send");
    let reply = loop {
        match ws.next().await.expect("a frame").expect("ok") {
            tokio_tungstenite::tungstenite::Message::Text(t) => break serde_json::from_str::<Value>(&t).expect("json"),
            _ => continue,
        }
    };
    SchemaValidator::global().check_message(ProtocolVersion::LATEST, &reply, Some("tools/call")).expect("schema-valid");
    assert_eq!(reply.pointer("/result/content/0/text"), Some(&json!("over ws")));
    let init = json!({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    ws.send(tokio_tungstenite::tungstenite::Message::Text(init.to_string().into())).await.expect("send");
    let reply = loop {
        if let tokio_tungstenite::tungstenite::Message::Text(t) = ws.next().await.expect("a frame").expect("ok") {
            break serde_json::from_str::<Value>(&t).expect("json");
        }
    };
    SchemaValidator::global()
        .check_message(ProtocolVersion::V2025_03_26, &reply, Some("initialize"))
        .expect("schema-valid");
    assert_eq!(reply.pointer("/result/protocolVersion"), Some(&json!("2025-03-26")));
    ws.close(None).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_2024_11_05_sse_transport_still_works() {
    let srv = server(&[]);
    let client = crate::http_client();
    let mut sse =
        client.get(format!("{}/sse", srv.base)).header("accept", "text/event-stream").send().await.expect("GET /sse");
    let mut buf = String::new();
    let endpoint = loop {
        let chunk = sse.chunk().await.expect("chunk").expect("stream open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(line) = buf.lines().find(|l| l.starts_with("data: /messages")) {
            break line.trim_start_matches("data: ").to_owned();
        }
    };
    let post = |body: Value| {
        client
            .post(format!("{}{endpoint}", srv.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}}});
    assert_eq!(post(init).await.expect("POST").status(), 202);
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "legacy sse"}}});
    assert_eq!(post(call).await.expect("POST").status(), 202);
    buf.clear();
    let mut answers = Vec::new();
    while answers.len() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(5), sse.chunk())
            .await
            .expect("in time")
            .expect("chunk")
            .expect("open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        answers = parse_sse(&buf)
            .into_iter()
            .filter(|e| e.data.starts_with('{'))
            .map(|e| serde_json::from_str::<Value>(&e.data).expect("json"))
            .collect();
    }
    let v = ProtocolVersion::V2024_11_05;
    SchemaValidator::global().check_message(v, &answers[0], Some("initialize")).expect("schema-valid");
    SchemaValidator::global().check_message(v, &answers[1], Some("tools/call")).expect("schema-valid");
    assert_eq!(answers[1].pointer("/result/content/0/text"), Some(&json!("legacy sse")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_calls() {
    let mut srv = server(&[]);
    let mut peer = HttpPeer::new(srv.mcp_url());
    let call = tokio::spawn(async move {
        peer.modern("tools/call", json!({"name": "slow", "arguments": {"ms": 1500}}), json!({})).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = tokio::task::spawn_blocking(move || {
        let s = srv.terminate(Duration::from_secs(10));
        (s, srv)
    })
    .await
    .expect("join");
    let reply = call.await.expect("join");
    assert_eq!(reply.last().pointer("/result/content/0/text"), Some(&json!("worked 1500 ms")), "{reply:?}");
    assert!(status.0.is_some_and(|s| s.success()), "clean exit: {:?}", status.0);
}

/// A legacy session's work and the number of sessions are bounded, with answers a client can
/// act on: 429 while the session has too much running, 503 with Retry-After when the server
/// holds its limit of sessions.
#[tokio::test]
async fn legacy_sessions_and_their_work_are_bounded() {
    let srv = server(&["--max-sessions", "2", "--max-concurrent-requests", "2"]);
    let mut first = HttpPeer::new(srv.mcp_url());
    assert_eq!(first.initialize(ProtocolVersion::V2025_06_18, json!({})).await.status, 200);
    let mut second = HttpPeer::new(srv.mcp_url());
    assert_eq!(second.initialize(ProtocolVersion::V2025_06_18, json!({})).await.status, 200);
    let mut third = HttpPeer::new(srv.mcp_url());
    let refused = third.initialize(ProtocolVersion::V2025_06_18, json!({})).await;
    assert_eq!(refused.status, 503, "{:?}", refused.messages);
    assert!(refused.headers.contains_key("retry-after"));
    assert!(refused.last()["error"]["message"].as_str().is_some_and(|m| m.contains("limit of 2 sessions")));
    // Ending a session makes room.
    assert_eq!(second.delete().await, 200);
    assert_eq!(third.initialize(ProtocolVersion::V2025_06_18, json!({})).await.status, 200);

    // Two slow calls run; a third is refused until they finish (hanging up would not stop them).
    let slow = json!({"name": "slow_compute", "arguments": {"seconds": 3}});
    let mut running = Vec::new();
    for id in ["slow-1", "slow-2"] {
        let (url, session) = (srv.mcp_url(), first.session.clone().unwrap_or_default());
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": slow});
        running.push(tokio::spawn(async move {
            crate::http_client()
                .post(url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-06-18")
                .body(body.to_string())
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let busy = first.legacy("tools/call", json!({"name": "echo", "arguments": {"message": "me too"}})).await;
    assert_eq!(busy.status, 429, "{:?}", busy.messages);
    assert!(busy.last()["error"]["message"].as_str().is_some_and(|m| m.contains("2 requests running")));
    for r in running {
        assert_eq!(r.await.ok().and_then(Result::ok), Some(200));
    }
    let ok = first.legacy("tools/call", json!({"name": "echo", "arguments": {"message": "now"}})).await;
    assert_eq!(ok.status, 200, "{:?}", ok.messages);
}

/// A client that sends its headers and then trickles (or stops sending) its body is cut off
/// with 408 instead of holding a connection and a request slot forever.
#[test]
fn a_body_that_never_arrives_gets_408() {
    let srv = server(&["--body-read-timeout", "1"]);
    // The Streamable HTTP endpoint and the 2024-11-05 transport's message endpoint alike.
    for path in ["/mcp", "/messages?sessionId=0123"] {
        let mut s = TcpStream::connect(&srv.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{{\"jsonrpc\":",
            srv.addr
        );
        s.write_all(head.as_bytes()).expect("write");
        let started = std::time::Instant::now();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 408"), "{path}: {text}");
        assert!(started.elapsed() < Duration::from_secs(8), "{path}: answered after {:?}", started.elapsed());
    }
}

/// A legacy session's answers that went out as single JSON responses cannot be resumed, so the
/// server does not keep them: 300 answers of 256 KiB leave its memory where it was (it grew
/// by the whole 75 MiB before).
#[tokio::test]
async fn json_answers_of_a_legacy_session_are_not_kept() {
    let srv = server(&[]);
    let mut peer = HttpPeer::new(srv.mcp_url());
    assert_eq!(peer.initialize(ProtocolVersion::V2025_06_18, json!({})).await.status, 200);
    let big = "x".repeat(256 * 1024);
    let echo = json!({"name": "echo", "arguments": {"message": big}});
    // Warm up (allocator arenas, buffers), then measure.
    for _ in 0..20 {
        assert_eq!(peer.legacy("tools/call", echo.clone()).await.status, 200);
    }
    let before = srv.rss_kib();
    for _ in 0..300 {
        let r = peer.legacy("tools/call", echo.clone()).await;
        assert_eq!(r.status, 200);
    }
    let grown_mib = srv.rss_kib().saturating_sub(before) / 1024;
    assert!(grown_mib < 30, "the server grew by {grown_mib} MiB over 300 answers of 256 KiB");
}

/// A 2025-03-26 batch over HTTP: every request's answer comes back in one JSON array (each
/// answered from the process, none from an event log), with or without progress on the way.
#[tokio::test]
async fn a_legacy_http_batch_answers_every_request() {
    let srv = server(&[]);
    let mut peer = HttpPeer::new(srv.mcp_url());
    assert_eq!(peer.initialize(ProtocolVersion::V2025_03_26, json!({})).await.status, 200);
    let batch = json!([
        {"jsonrpc": "2.0", "id": "b1", "method": "ping"},
        {"jsonrpc": "2.0", "id": "b2", "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "hi"}}},
        {"jsonrpc": "2.0", "id": "b3", "method": "tools/call",
         "params": {"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "p"}}}
    ]);
    let response = crate::http_client()
        .post(srv.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", peer.session.clone().expect("a session"))
        .header("mcp-protocol-version", "2025-03-26")
        .body(batch.to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 200);
    let answer: Value = serde_json::from_str(&response.text().await.expect("a body")).expect("JSON");
    let items = answer.as_array().unwrap_or_else(|| panic!("a batch answer: {answer}"));
    assert_eq!(items.len(), 3, "{answer}");
    assert!(items.iter().any(|i| i["id"] == "b1" && i["result"] == json!({})), "{answer}");
    assert!(items.iter().any(|i| i["id"] == "b2" && i["result"]["content"][0]["text"] == "hi"), "{answer}");
    assert!(items.iter().any(|i| i["id"] == "b3" && i["result"]["content"].is_array()), "{answer}");
}

/// A WebSocket peer that stops answering pings (gone, though its TCP connection looks open) is
/// disconnected after two keep-alive intervals instead of holding its connection forever.
#[tokio::test]
async fn a_websocket_peer_that_answers_no_ping_is_disconnected() {
    let srv = server(&["--keep-alive", "1"]);
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{}/ws", srv.addr))
            .expect("request");
    request.headers_mut().insert("sec-websocket-protocol", "mcp".parse().expect("header"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.expect("websocket");
    // Read nothing (so no pong is sent) for a while, then see what arrived.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return "closed".to_owned(),
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => {
                    return frame.map(|f| f.reason.to_string()).unwrap_or_default()
                }
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .expect("the server ends the connection");
    assert!(ended == "no pong" || ended == "closed", "{ended}");
}

/// A legacy client that only listens (its GET stream open, nothing posted) is not idle: its
/// session outlives the idle timeout; one that neither posts nor listens is ended.
#[tokio::test]
async fn a_listening_legacy_session_is_not_idle() {
    let srv = server(&["--session-idle-timeout", "2"]);
    let mut listener = HttpPeer::new(srv.mcp_url());
    assert_eq!(listener.initialize(ProtocolVersion::V2025_06_18, json!({})).await.status, 200);
    let stream = listener.get(None, None).await;
    assert_eq!(stream.status, 200);
    let mut quiet = HttpPeer::new(srv.mcp_url());
    assert_eq!(quiet.initialize(ProtocolVersion::V2025_06_18, json!({})).await.status, 200);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(listener.legacy("ping", json!({})).await.status, 200, "the listener's session lives");
    assert_eq!(quiet.legacy("ping", json!({})).await.status, 404, "the quiet session was ended");
    drop(stream);
}
