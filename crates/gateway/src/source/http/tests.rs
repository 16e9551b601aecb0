//! HTTP tools: URL building (encoding, injection), response mapping and redaction as pure
//! functions, then whole calls against a small HTTP/1.1 server on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::response::{success, Redactor};
use super::{request, run, HttpCall, Upstream};
use crate::config::{Config, ToolKind};
use crate::syntax::template::Template;

fn args(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn url(path: &str, query: &[(&str, &str)], a: Value) -> Result<String, String> {
    let base = reqwest::Url::parse("http://h:1/api/").expect("base");
    let query: Vec<(String, Template)> = query.iter().map(|(k, v)| ((*k).to_owned(), Template::parse(v))).collect();
    request::url(&base, &Template::parse(path), &query, &args(a)).map(|u| u.to_string()).map_err(|e| e.to_string())
}

#[test]
fn path_values_stay_inside_their_segment() {
    let cases = [
        ("A-1", "http://h:1/api/orders/A-1"),
        ("../admin", "http://h:1/api/orders/..%2Fadmin"),
        ("a/b?c#d", "http://h:1/api/orders/a%2Fb%3Fc%23d"),
        ("%2e%2e", "http://h:1/api/orders/%252e%252e"),
        ("..\\x", "http://h:1/api/orders/..%5Cx"),
        ("é ü", "http://h:1/api/orders/%C3%A9%20%C3%BC"),
        ("...", "http://h:1/api/orders/..."),
    ];
    for (id, want) in cases {
        assert_eq!(url("/orders/{id}", &[], json!({"id": id})).as_deref(), Ok(want), "{id:?}");
    }
    for bad in ["..", ".", ""] {
        let e = url("/orders/{id}", &[], json!({"id": bad})).expect_err(bad);
        assert!(e.starts_with("argument id cannot be"), "{e}");
    }
    assert_eq!(url("/n/{n}", &[], json!({"n": 42})).as_deref(), Ok("http://h:1/api/n/42"));
}

#[test]
fn query_pairs_are_encoded_and_absent_ones_left_out() {
    let got = url("/s", &[("q", "{q}"), ("page", "{page}"), ("fixed", "1")], json!({"q": "a b&c=d"}));
    assert_eq!(got.as_deref(), Ok("http://h:1/api/s?q=a+b%26c%3Dd&fixed=1"));
}

#[test]
fn responses_map_to_results() {
    let r = success(StatusCode::OK, Some("application/json"), br#"{"a":1}"#);
    assert_eq!((r.structured_content, r.is_error), (Some(json!({"a": 1})), None));
    let r = success(StatusCode::OK, Some("application/vnd.api+json"), b"[1,2]");
    assert_eq!(r.structured_content, Some(json!({"items": [1, 2]})));
    let r = success(StatusCode::OK, None, b"7");
    assert_eq!(r.structured_content, Some(json!({"value": 7})));
    let r = success(StatusCode::OK, Some("text/plain"), b"{\"not\": \"parsed\"}");
    assert_eq!(r.structured_content, None);
    let r = success(StatusCode::NO_CONTENT, None, b"");
    assert_eq!(serde_json::to_value(&r.content).expect("json")[0]["text"], "204 No Content (empty body)");
    let r = success(StatusCode::OK, Some("image/png"), &[0xff, 0xfe, 0x00]);
    assert_eq!(serde_json::to_value(&r.content).expect("json")[0]["text"], "200 OK: 3 bytes of image/png (not text)");
}

#[test]
fn redaction_hides_whole_secrets_and_their_words() {
    let mut r = Redactor::default();
    r.add("Bearer tok-1234567890");
    r.add("short");
    assert_eq!(r.redact("got Bearer tok-1234567890 and tok-1234567890, short"), "got *** and ***, short");
    assert_eq!(format!("{r:?}"), "Redactor(2 secrets)");
}

/// A tiny HTTP/1.1 server on loopback: one response per path, every request recorded.
struct TestServer {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

const SECRET: &str = "s3cr3t-token-0123456789";

async fn server() -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => raw.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&raw).into_owned();
                let length = text
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let head_len = text.find("\r\n\r\n").map_or(0, |i| i + 4);
                while raw.len() < head_len + length {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => raw.extend_from_slice(&buf[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&raw).into_owned();
                let target = request.split(' ').nth(1).unwrap_or_default().to_owned();
                log.lock().expect("log").push(request.clone());
                let body_in = request[head_len.min(request.len())..].to_owned();
                let (status, ctype, body) = match target.split('?').next().unwrap_or_default() {
                    "/v1/slow" => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        ("200 OK", "text/plain", "late".to_owned())
                    }
                    "/v1/big" => ("200 OK", "text/plain", "x".repeat(10_000)),
                    "/v1/missing" => (
                        "404 Not Found",
                        "application/json",
                        format!("{{\"error\": \"no such thing\", \"you_sent\": \"Bearer {SECRET}\"}}"),
                    ),
                    "/v1/moved" => ("302 Found", "text/plain", "go elsewhere".to_owned()),
                    _ => ("200 OK", "application/json", json!({"target": target, "body": body_in}).to_string()),
                };
                let extra = if status.starts_with("302") { "Location: http://example.invalid/\r\n" } else { "" };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    TestServer { addr, seen }
}

/// The one tool of a config on a source at `addr`, ready to run.
fn tool(addr: &str, params: &str, http: &str) -> (Upstream, HttpCall) {
    tool_with(addr, "", params, http, super::guard::system_lookup()).expect("upstream")
}

/// Like [`tool`], with more source settings and names resolved by `lookup`.
fn tool_with(
    addr: &str,
    source_extra: &str,
    params: &str,
    http: &str,
    lookup: super::guard::Lookup,
) -> Result<(Upstream, HttpCall), String> {
    let text = format!(
        "sources:\n  api:\n    kind: http\n    base_url: http://{addr}/v1\n    headers: {{Authorization: \"Bearer {SECRET}\"}}\n    max_response_bytes: 1000\n{source_extra}\
         tools:\n  t:\n    description: d\n    source: api\n    params: {params}\n    http: {http}\n"
    );
    let config = Config::parse(&text, std::path::Path::new("/nonexistent/x.yaml"), &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let source = config.sources.get("api").expect("source");
    let upstream = Upstream::with_lookup("api", source, lookup).map_err(|e| e.to_string())?;
    let t = config.tools.get("t").expect("tool");
    let Ok(ToolKind::Http(spec)) = t.kind() else { panic!("an http tool") };
    let call = HttpCall::new("t", t, spec, &upstream).expect("call");
    Ok((upstream, call))
}

async fn call(t: &(Upstream, HttpCall), a: Value) -> Result<Value, String> {
    match run(&t.0, &t.1, args(a)).await {
        Ok(r) => Ok(r.structured_content.unwrap_or(Value::Null)),
        Err(e) => Err(e.message()),
    }
}

#[tokio::test]
async fn calls_reach_the_source_with_its_headers_and_map_every_failure() {
    let srv = server().await;
    let addr = srv.addr.to_string();
    let host = format!("127.0.0.1:{}", srv.addr.port());

    let get = tool(&addr, "{id: {type: string}}", "{path: \"/orders/{id}\", query: {q: \"{id}\"}}");
    let r = call(&get, json!({"id": "../../admin"})).await.expect("ok");
    assert_eq!(r["target"], "/v1/orders/..%2F..%2Fadmin?q=..%2F..%2Fadmin");
    let seen = srv.seen.lock().expect("log").last().cloned().unwrap_or_default();
    assert!(seen.contains(&format!("authorization: Bearer {SECRET}")), "{seen}");

    let post = tool(
        &addr,
        "{n: {type: integer}, tags: {type: string, required: false}}",
        "{method: POST, path: /orders, body: {n: \"{n}\", label: \"n={n}\", tags: \"{tags}\"}}",
    );
    let r = call(&post, json!({"n": 3})).await.expect("ok");
    assert_eq!(
        serde_json::from_str::<Value>(r["body"].as_str().unwrap_or_default()).ok(),
        Some(json!({"n": 3, "label": "n=3"}))
    );

    let missing = tool(&addr, "{}", "{path: /missing}");
    let e = call(&missing, json!({})).await.expect_err("404");
    assert!(e.starts_with(&format!("{host} answered 404 Not Found: {{\"error\"")), "{e}");
    assert!(e.contains(r#""you_sent": "***""#) && !e.contains(SECRET), "the echoed secret is redacted: {e}");

    let moved = tool(&addr, "{}", "{path: /moved}");
    assert!(
        call(&moved, json!({})).await.expect_err("302").contains("answered 302 Found"),
        "redirects are not followed"
    );

    let big = tool(&addr, "{}", "{path: /big}");
    let e = call(&big, json!({})).await.expect_err("too big");
    assert_eq!(e, format!("the response from {host} is larger than 1000 bytes (max_response_bytes)"));

    let slow = tool(&addr, "{}", "{path: /slow, timeout_ms: 200}");
    let started = std::time::Instant::now();
    let e = call(&slow, json!({})).await.expect_err("timeout");
    assert_eq!(e, format!("no complete answer from {host} within 200 ms (timed out)"));
    assert!(started.elapsed() < Duration::from_secs(3));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let refused = tool(&dead, "{}", "{path: /x}");
    let e = call(&refused, json!({})).await.expect_err("refused");
    assert!(e.starts_with(&format!("connecting to {dead} failed:")) && !e.contains(SECRET), "{e}");
}

/// Names always resolve to `to`: a stand-in for DNS (tests never send packets off loopback).
fn resolving_to(to: &'static str) -> super::guard::Lookup {
    Arc::new(move |_host: String| Box::pin(async move { Ok(vec![to.parse().expect("an address")]) }))
}

#[tokio::test]
async fn the_ssrf_guard_refuses_internal_addresses_unless_the_source_allows_them() {
    let srv = server().await;
    let port = srv.addr.port();
    let sent = || srv.seen.lock().expect("log").len();

    // A name that resolves to the metadata endpoint: refused at resolution, no connection made.
    let rebound = tool_with(&format!("api.example:{port}"), "", "{}", "{path: /x}", resolving_to("169.254.169.254"))
        .expect("set up");
    let e = call(&rebound, json!({})).await.expect_err("refused");
    assert!(e.contains("169.254.169.254") && e.contains("cloud metadata") && e.contains("allow_networks"), "{e}");

    // A name resolving to loopback is refused too when the base URL did not name loopback...
    let before = sent();
    let sneaky =
        tool_with(&format!("api.example:{port}"), "", "{}", "{path: /x}", resolving_to("127.0.0.1")).expect("set up");
    let e = call(&sneaky, json!({})).await.expect_err("refused");
    assert!(e.contains("a loopback address"), "{e}");
    assert_eq!(sent(), before, "nothing reached the server");

    // ...and reaches it when the source lists the network.
    let allowed = tool_with(
        &format!("api.example:{port}"),
        "    allow_networks: [127.0.0.0/8]\n",
        "{}",
        "{path: /x}",
        resolving_to("127.0.0.1"),
    )
    .expect("set up");
    let r = call(&allowed, json!({})).await.expect("allowed");
    assert_eq!(r["target"], "/v1/x");
    assert_eq!(sent(), before + 1);

    // An IP literal never meets a resolver: it is checked when the source is set up.
    for literal in ["169.254.169.254", "10.0.0.1", "[fd00:ec2::254]"] {
        let e = tool_with(literal, "", "{}", "{path: /x}", resolving_to("127.0.0.1")).expect_err("refused");
        assert!(e.contains("allow_networks"), "{literal}: {e}");
    }
    assert!(tool_with("10.0.0.1", "    allow_networks: [10.0.0.1]\n", "{}", "{path: /x}", resolving_to("127.0.0.1"))
        .is_ok());
}
