//! HTTP API tools through the real binary: a config whose http source points at a small
//! HTTP/1.1 server this test runs on loopback. Covers results (JSON → structuredContent, arrays
//! wrapped, bodies keeping JSON types), path and query injection, non-2xx and timeouts as
//! `isError`, and the source's secret header never appearing in results or logs (at trace level).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_testkit::peer::StdioPeer;

use crate::interop::scratch;
use crate::switchboard_bin;

const SECRET: &str = "tok-7f3a9c1e5b2d4a6f8e0c";

/// The API the tools call: answers by path and records every request (head and body).
struct Api {
    addr: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Api {
    fn start() -> Api {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let log = log.clone();
                std::thread::spawn(move || answer(stream, &log));
            }
        });
        Api { addr, seen }
    }

    /// The last request whose first line contains `needle`.
    fn request(&self, needle: &str) -> String {
        let seen = self.seen.lock().expect("log");
        seen.iter().rev().find(|r| r.lines().next().is_some_and(|l| l.contains(needle))).cloned().unwrap_or_default()
    }
}

fn answer(mut stream: TcpStream, log: &Mutex<Vec<String>>) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while raw.len() < head_end + length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let body = String::from_utf8_lossy(&raw[head_end..]).into_owned();
    log.lock().expect("log").push(format!("{head}{body}"));
    let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
    let path = target.split('?').next().unwrap_or_default();
    let (status, content_type, reply) = match path {
        "/api/orders" if head.starts_with("GET") => {
            ("200 OK", "application/json", json!([{"id": "A-1"}, {"id": "A-2"}]).to_string())
        }
        "/api/orders" => ("201 Created", "application/json", json!({"received": body}).to_string()),
        "/api/broken" => (
            "503 Service Unavailable",
            "application/json",
            // A careless API that echoes the credentials it got.
            json!({"error": "maintenance", "your_auth": format!("Bearer {SECRET}")}).to_string(),
        ),
        "/api/slow" => {
            std::thread::sleep(Duration::from_secs(5));
            ("200 OK", "text/plain", "late".to_owned())
        }
        "/api/readme" => ("200 OK", "text/plain; charset=utf-8", "plain text, not JSON".to_owned()),
        p if p.starts_with("/api/orders/") => ("200 OK", "application/json", json!({"target": target}).to_string()),
        _ => ("404 Not Found", "text/plain", format!("nothing at {path}")),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

fn write_config(dir: &Path, api: &str) -> PathBuf {
    let config = format!(
        r#"
sources:
  orders_api:
    kind: http
    base_url: http://{api}/api
    headers:
      Authorization: "Bearer ${{ORDERS_API_TOKEN}}"
    timeout_ms: 5000
tools:
  get_order:
    description: One order by ID.
    source: orders_api
    params:
      order_id: {{type: string}}
      expand: {{type: string, required: false}}
    http: {{path: "/orders/{{order_id}}", query: {{expand: "{{expand}}"}}}}
  list_orders:
    description: All orders.
    source: orders_api
    http: {{path: /orders}}
  create_order:
    description: Creates an order.
    source: orders_api
    params:
      sku: {{type: string}}
      quantity: {{type: integer, minimum: 1}}
      gift: {{type: boolean, default: false}}
      note: {{type: string, required: false}}
    http:
      method: POST
      path: /orders
      body: {{sku: "{{sku}}", quantity: "{{quantity}}", gift: "{{gift}}", note: "{{note}}", label: "{{quantity}} x {{sku}}"}}
  broken:
    description: An endpoint that is down.
    source: orders_api
    http: {{path: /broken}}
  missing:
    description: An endpoint that does not exist.
    source: orders_api
    http: {{path: /nowhere}}
  slow:
    description: An endpoint that answers too late.
    source: orders_api
    http: {{path: /slow, timeout_ms: 300}}
  readme:
    description: Plain text.
    source: orders_api
    http: {{path: /readme}}
"#
    );
    let file = dir.join("http-tools.yaml");
    std::fs::write(&file, config).expect("write config");
    file
}

/// The binary serving the config over stdio, its logs (at trace level) going to a file.
fn serve(api: &Api) -> (StdioPeer, PathBuf) {
    let dir = scratch("http-tools");
    std::fs::create_dir_all(&dir).expect("dir");
    let config = write_config(&dir, &api.addr);
    let log = dir.join("server.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let peer = StdioPeer::spawn_with_stderr(
        &switchboard_bin(),
        &[
            "serve",
            "--stdio",
            "--config",
            &config.to_string_lossy(),
            "--data-dir",
            &dir.join("data").to_string_lossy(),
            "--log-level",
            "trace",
        ],
        &[("ORDERS_API_TOKEN", SECRET)],
        log_file,
    );
    (peer, log)
}

fn call(peer: &mut StdioPeer, tool: &str, args: Value) -> Value {
    let r = peer.modern("tools/call", json!({"name": tool, "arguments": args}), json!({}));
    let result = r.get("result").cloned().unwrap_or_else(|| panic!("{tool}: protocol error {r}"));
    assert!(!result.to_string().contains(SECRET), "{tool} leaked the secret: {result}");
    result
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

#[test]
fn http_tools_call_the_api_with_its_secret_and_map_results() {
    let api = Api::start();
    let (mut peer, log) = serve(&api);

    let r = call(&mut peer, "get_order", json!({"order_id": "A-1", "expand": "lines & more"}));
    assert_eq!(r["isError"], Value::Null, "{r}");
    assert_eq!(r["structuredContent"]["target"], "/api/orders/A-1?expand=lines+%26+more");
    let request = api.request("/api/orders/A-1");
    assert!(request.contains(&format!("authorization: Bearer {SECRET}")), "the source header is sent: {request}");

    let r = call(&mut peer, "list_orders", json!({}));
    assert_eq!(r["structuredContent"], json!({"items": [{"id": "A-1"}, {"id": "A-2"}]}), "arrays are wrapped");
    assert_eq!(text(&r), r#"[{"id":"A-1"},{"id":"A-2"}]"#, "the text block is the body");

    let r = call(&mut peer, "create_order", json!({"sku": "BOK-1", "quantity": 2}));
    let sent: Value =
        serde_json::from_str(r["structuredContent"]["received"].as_str().unwrap_or_default()).expect("json");
    assert_eq!(
        sent,
        json!({"sku": "BOK-1", "quantity": 2, "gift": false, "label": "2 x BOK-1"}),
        "types kept, absent note left out"
    );
    assert!(api.request("POST /api/orders").contains("content-type: application/json"));

    let r = call(&mut peer, "readme", json!({}));
    assert_eq!((text(&r), r.get("structuredContent")), ("plain text, not JSON", None));

    let r = call(&mut peer, "broken", json!({}));
    assert_eq!(r["isError"], true, "{r}");
    let host = &api.addr;
    assert!(
        text(&r).starts_with(&format!("{host} answered 503 Service Unavailable: {{\"error\":\"maintenance\"")),
        "{r}"
    );
    assert!(text(&r).contains(r#""your_auth":"***""#), "the echoed secret is redacted: {r}");

    let r = call(&mut peer, "missing", json!({}));
    assert_eq!(
        (r["isError"].clone(), text(&r)),
        (json!(true), format!("{host} answered 404 Not Found: nothing at /api/nowhere").as_str())
    );

    let r = call(&mut peer, "slow", json!({}));
    assert_eq!(
        (r["isError"].clone(), text(&r)),
        (json!(true), format!("no complete answer from {host} within 300 ms (timed out)").as_str())
    );

    let r = call(&mut peer, "create_order", json!({"sku": "BOK-1", "quantity": 0}));
    assert_eq!(r["isError"], true, "params are validated before any request: {r}");

    drop(peer);
    let logs = std::fs::read_to_string(&log).expect("server log");
    assert!(logs.contains("http tool call"), "the calls were logged at trace level: {logs}");
    assert!(!logs.contains(SECRET), "the secret reached the log:\n{logs}");
}

#[test]
fn path_parameters_cannot_traverse_or_inject() {
    let api = Api::start();
    let (mut peer, _) = serve(&api);
    let cases = [
        ("../../admin", "/api/orders/..%2F..%2Fadmin"),
        ("A-1/../../secret", "/api/orders/A-1%2F..%2F..%2Fsecret"),
        ("A-1?admin=true#frag", "/api/orders/A-1%3Fadmin%3Dtrue%23frag"),
        ("%2e%2e%2fadmin", "/api/orders/%252e%252e%252fadmin"),
        ("..\\admin", "/api/orders/..%5Cadmin"),
        ("A 1\r\nX-Injected: yes", "/api/orders/A%201%0D%0AX-Injected%3A%20yes"),
    ];
    for (id, want) in cases {
        let r = call(&mut peer, "get_order", json!({"order_id": id}));
        assert_eq!(r["structuredContent"]["target"], want, "{id:?}: {r}");
    }
    assert!(api.seen.lock().expect("log").iter().all(|r| !r.contains("X-Injected: yes\r\n")));
    for id in ["..", ".", ""] {
        let r = call(&mut peer, "get_order", json!({"order_id": id}));
        assert_eq!(r["isError"], true, "{id:?}: {r}");
        assert!(text(&r).starts_with("argument order_id cannot be"), "{r}");
    }
}

#[test]
fn config_check_refuses_bad_http_definitions_with_their_location() {
    let dir = scratch("bad-http");
    std::fs::create_dir_all(&dir).expect("dir");
    let source = "sources:\n  api: {kind: http, base_url: \"http://127.0.0.1:9\"}\n";
    let tool = |http: &str| {
        format!("{source}tools:\n  t:\n    description: d\n    source: api\n    params: {{id: {{type: string}}}}\n    http: {http}\n")
    };
    let cases = [
        (
            "sources:\n  api: {kind: http, base_url: \"ftp://api.example.com\"}\n".to_owned(),
            "2:",
            "the scheme must be http or https",
        ),
        (tool("{path: \"/orders/../{id}\"}"), "8:", "tools.t.http.path: \"/orders/../{id}\" has a . or .. segment"),
        (tool("{path: \"/orders/{order}\"}"), "8:", "uses {order}, which is not a declared param"),
        (tool("{path: /orders, body: {id: \"{id}\"}}"), "8:", "a GET request has no body"),
        (tool("{path: /orders, headers: {\"Bad Header\": x}}"), "8:", "\"Bad Header\" is not a valid header name"),
    ];
    for (i, (text, line, mentions)) in cases.iter().enumerate() {
        let file = dir.join(format!("bad-{i}.yaml"));
        std::fs::write(&file, text).expect("write");
        let out = Command::new(switchboard_bin()).args(["config", "check"]).arg(&file).output().expect("config check");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "case {i} should fail");
        assert!(err.contains(&format!("bad-{i}.yaml:{line}")) && err.contains(mentions), "case {i}: {err}");
    }
}
