//! The gateway in front of servers we did not write: `server-everything` (npm, stdio), a Python
//! SDK server over Streamable HTTP, and a Switchboard shop over HTTP, aggregated under
//! namespaces, with the Python SDK and the Inspector as downstream clients in both eras; a
//! SIGKILLed stdio upstream; upstreams added and removed by editing the config.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_testkit::http::HttpPeer;
use switchboard_testkit::process::ServerProcess;
use switchboard_testkit::repo_root;

use crate::interop::{free_port, peers, run, scratch};
use crate::serve_config;

fn everything_js() -> String {
    peers().join("node/node_modules/@modelcontextprotocol/server-everything/dist/index.js").display().to_string()
}

/// The Python SDK test server over Streamable HTTP, killed on drop.
struct PythonServer {
    child: Child,
    url: String,
}

impl PythonServer {
    fn start() -> Self {
        let port = free_port();
        let child = Command::new(peers().join("py2/bin/python"))
            .arg(repo_root().join("tests/interop/python_server.py"))
            .args(["http", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the Python SDK server");
        crate::wait_for_listener(port, "the Python SDK server", Duration::from_secs(30));
        Self { child, url: format!("http://127.0.0.1:{port}/mcp") }
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python SDK client (2.x) against `url` in `era`, with extra flags.
fn py(url: &str, era: &str, extra: &[&str]) -> Value {
    let mut cmd = Command::new(peers().join("py2/bin/python"));
    cmd.arg(repo_root().join("tests/interop/py_client.py")).args(["--http", url, "--era", era, "--timeout", "60"]);
    cmd.args(extra);
    run(cmd, &format!("the Python SDK client ({era}) {extra:?}"))
}

/// The Python SDK client's error (what it prints on stderr) for a call that must fail.
fn py_error(url: &str, era: &str, extra: &[&str]) -> Value {
    let out = Command::new(peers().join("py2/bin/python"))
        .arg(repo_root().join("tests/interop/py_client.py"))
        .args(["--http", url, "--era", era, "--timeout", "60"])
        .args(extra)
        .output()
        .expect("running the Python SDK client");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected a failure: {}", String::from_utf8_lossy(&out.stdout));
    let line =
        stderr.lines().rev().find(|l| l.starts_with("{\"error\"")).unwrap_or_else(|| panic!("no error line: {stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn text(call: &Value) -> String {
    call["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

/// An `upstreams:` entry: the demonstration server over stdio, with `flags` after its own and
/// `settings` (indented YAML lines) below.
fn demo_upstream(name: &str, flags: &[&str], settings: &str) -> String {
    let mut args = vec!["serve".to_owned(), "--stdio".into(), "--demo".into(), "--log-level".into(), "warn".into()];
    args.extend(flags.iter().map(|f| (*f).to_owned()));
    format!(
        "  {name}:\n    command: {}\n    args: [{}]\n{settings}",
        crate::switchboard_bin().display(),
        args.join(", ")
    )
}

fn write_config(dir: &Path, yaml: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("config dir");
    let path = dir.join("gateway.yaml");
    std::fs::write(&path, yaml).expect("writing the config");
    path
}

#[test]
fn the_gateway_aggregates_peers_for_the_python_sdk_and_the_inspector_in_both_eras() {
    let dir = scratch("gateway-peers");
    let shop_data = dir.join("shop-data");
    let mut shop = serve_config(
        &repo_root().join("examples/shop/shop.yaml"),
        &shop_data,
        &[("SHOP_ADMIN_KEY", "admin-key-for-the-gateway")],
    );
    let python = PythonServer::start();
    let config = write_config(
        &dir,
        &format!(
            r#"
upstreams:
  everything:
    command: node
    args: ["{everything}", "stdio"]
  python:
    url: {python}
    # The Python SDK asks for elicitation only in a legacy session.
    era: legacy
  shop:
    url: {shop}
    headers: {{X-API-Key: admin-key-for-the-gateway}}
    include: ["get_*", "search_products"]
    exclude: ["get_customer*"]
    tools:
      search_products:
        name: find_products
        description: Search the shop's catalog.
        fixed: {{in_stock: true}}
"#,
            everything = everything_js(),
            python = python.url,
            shop = shop.mcp_url()
        ),
    );
    let mut gateway = serve_config(&config, &dir.join("data"), &[]);
    let url = gateway.mcp_url();

    // Both eras list the merged catalog and call through each upstream.
    for era in ["auto", "legacy"] {
        let out = py(&url, era, &["--call", "python_add", "--args", r#"{"a": 2, "b": 3}"#]);
        assert_eq!(out["era"], if era == "auto" { "modern" } else { "legacy" }, "{out}");
        let tools: Vec<&str> = out["tools"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        for expected in
            ["everything_echo", "everything_get-sum", "python_add", "shop_get_order_status", "find_products"]
        {
            assert!(tools.contains(&expected), "{era}: {expected} missing from {tools:?}");
        }
        for hidden in ["shop_create_order", "shop_get_customer", "shop_search_products", "search_products"] {
            assert!(!tools.contains(&hidden), "{era}: {hidden} must not be served: {tools:?}");
        }
        assert_eq!(text(&out["call"]), "5", "{out}");
        let out = py(&url, era, &["--call", "everything_get-sum", "--args", r#"{"a": 40, "b": 2}"#]);
        assert!(text(&out["call"]).contains("42"), "{out}");
        let out = py(&url, era, &["--call", "find_products", "--args", r#"{"query": "headphones"}"#]);
        assert_eq!(out["call"]["isError"], false, "{out}");

        // Progress from a Python upstream reaches the Python client.
        let out = py(&url, era, &["--call", "python_countdown", "--args", r#"{"steps": 3}"#, "--progress"]);
        assert_eq!(text(&out["call"]), "counted 3 steps", "{out}");
        let progress: Vec<f64> =
            out["progress"].as_array().into_iter().flatten().filter_map(|p| p["progress"].as_f64()).collect();
        assert_eq!(progress, [1.0, 2.0, 3.0], "{era}: {out}");

        // Elicitation (legacy upstream → either era downstream) and sampling round-trip.
        let out = py(
            &url,
            era,
            &[
                "--call",
                "python_confirm",
                "--args",
                r#"{"question": "Ship it?"}"#,
                "--elicit",
                r#"{"confirmed": true, "note": "yes"}"#,
            ],
        );
        assert_eq!(text(&out["call"]), "confirmed=True note=yes", "{era}: {out}");
        assert_eq!(out["elicited"], json!(["Ship it?"]), "{out}");
        let out = py(
            &url,
            era,
            &[
                "--call",
                "everything_trigger-sampling-request",
                "--args",
                r#"{"prompt": "hello"}"#,
                "--sample",
                "a scripted reply",
            ],
        );
        assert!(text(&out["call"]).contains("a scripted reply"), "{era}: {out}");
        assert_eq!(out["sampled"].as_array().map(Vec::len), Some(1), "{out}");

        // Resources are read back through their rewritten URI.
        let out = py(&url, era, &["--read", "upstream://python/info://about"]);
        assert_eq!(out["read"][0]["text"], "a Python SDK server for interop tests", "{out}");
        assert_eq!(out["read"][0]["uri"], "upstream://python/info://about", "{out}");
    }

    // The Inspector CLI, both eras.
    for era in ["legacy", "modern"] {
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("tests/interop/inspector.sh")).args(["--era", era, "--http", &url]);
        cmd.args(["--method", "tools/call", "--tool-name", "everything_echo", "--tool-arg", "message=through"]);
        cmd.env("INSPECTOR_HOME", scratch("inspector-home"));
        let out = run(cmd, &format!("the Inspector CLI ({era})"));
        assert_eq!(out["result"]["content"][0]["text"], "Echo: through", "{era}: {out}");
    }

    // Two calls eliciting at once through the same legacy upstream: each question reaches the
    // client whose call asked it (the upstream sends it on that call's own stream).
    // `python_confirm` called in `era`, answering its elicitation with `answer` after `delay` s.
    let confirm = |url: &str, era: &str, question: &str, answer: &str, delay: &str| {
        let args = json!({ "question": question }).to_string();
        py(url, era, &["--call", "python_confirm", "--args", &args, "--elicit", answer, "--elicit-delay", delay])
    };
    let slow = std::thread::scope(|scope| {
        let slow = scope.spawn(|| confirm(&url, "legacy", "Slow?", r#"{"confirmed": true, "note": "slow"}"#, "3"));
        std::thread::sleep(Duration::from_millis(1500));
        let fast = confirm(&url, "auto", "Fast?", r#"{"confirmed": false, "note": "fast"}"#, "0");
        assert_eq!(text(&fast["call"]), "confirmed=False note=fast", "{fast}");
        assert_eq!(fast["elicited"], json!(["Fast?"]), "{fast}");
        slow.join().expect("the slow client")
    });
    assert_eq!(text(&slow["call"]), "confirmed=True note=slow", "{slow}");
    assert_eq!(slow["elicited"], json!(["Slow?"]), "{slow}");

    // A call to an upstream that went away fails fast, naming it; the others keep serving;
    // /readyz reports each upstream.
    shop.terminate(Duration::from_secs(10));
    let started = Instant::now();
    let out = py(&url, "auto", &["--call", "shop_get_order_status", "--args", r#"{"order_id": "ORD-1001"}"#]);
    assert_eq!(out["call"]["isError"], true, "{out}");
    assert!(text(&out["call"]).contains("upstream shop"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(20), "a down upstream must fail fast");
    let out = py(&url, "auto", &["--call", "python_add", "--args", r#"{"a": 1, "b": 1}"#]);
    assert_eq!(text(&out["call"]), "2", "{out}");
    let ready = ureq_get(&format!("{}/readyz", gateway.base));
    assert_eq!(ready["components"]["upstream:everything"], "up", "{ready}");
    assert_eq!(ready["components"]["upstream:shop"], "down", "{ready}");
    assert_eq!(ready["status"], "ready", "one upstream down does not make the gateway unready: {ready}");
    gateway.terminate(Duration::from_secs(10));
}

fn ureq_get(url: &str) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let body = crate::http_client().get(url).send().await.expect("GET").text().await.expect("a body");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url} answered {body}: {e}"))
    })
}

/// The pids of `parent`'s children, with their state letter (`Z` for a zombie).
fn children(parent: u32) -> Vec<(u32, char)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // "pid (comm) S ppid ...": comm may hold spaces, so read after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if fields.next().and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
            found.push((pid, state));
        }
    }
    found
}

#[test]
fn a_killed_stdio_upstream_fails_its_call_clearly_and_is_restarted_without_zombies() {
    let dir = scratch("gateway-kill");
    let config = write_config(
        &dir,
        // No retries: the guardrail would otherwise run this read-only call again once the
        // upstream is back, and the point here is the error the caller sees.
        &format!(
            "guardrails: {{retry: {{attempts: 1}}}}\nupstreams:\n  everything:\n    command: node\n    args: [\"{}\", \"stdio\"]\n",
            everything_js()
        ),
    );
    let mut gateway = serve_config(&config, &dir.join("data"), &[]);
    let url = gateway.mcp_url();
    let first = py(&url, "auto", &["--call", "everything_echo", "--args", r#"{"message": "before"}"#]);
    assert_eq!(text(&first["call"]), "Echo: before", "{first}");
    let node = children(gateway.pid());
    assert_eq!(node.len(), 1, "one stdio upstream process: {node:?}");
    let node = node[0].0;

    // A long call in flight when the upstream is SIGKILLed.
    let long_url = url.clone();
    let long = std::thread::spawn(move || {
        py(
            &long_url,
            "auto",
            &["--call", "everything_trigger-long-running-operation", "--args", r#"{"duration": 20, "steps": 20}"#],
        )
    });
    std::thread::sleep(Duration::from_secs(3));
    assert!(Command::new("kill").args(["-KILL", &node.to_string()]).status().expect("kill").success());
    let out = long.join().expect("the long call's thread");
    assert_eq!(out["call"]["isError"], true, "{out}");
    let message = text(&out["call"]);
    assert!(message.contains("upstream everything") && message.contains("unavailable"), "{message}");

    // It is restarted; the next call succeeds.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = py(&url, "auto", &["--call", "everything_echo", "--args", r#"{"message": "after"}"#]);
        if text(&out["call"]) == "Echo: after" {
            break;
        }
        assert!(Instant::now() < deadline, "the upstream was not restarted: {out}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let now = children(gateway.pid());
    assert!(now.iter().all(|(pid, state)| *pid != node && *state != 'Z'), "no zombie, a new process: {now:?}");
    assert_eq!(now.len(), 1, "{now:?}");
    gateway.terminate(Duration::from_secs(10));
    let left = Path::new("/proc").join(now[0].0.to_string());
    let deadline = Instant::now() + Duration::from_secs(5);
    while left.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!left.exists(), "the upstream process must end with the gateway");
}

#[test]
fn upstreams_are_added_and_removed_by_editing_the_config_while_a_client_stays_connected() {
    let dir = scratch("gateway-reload");
    let demo = format!(
        "  demo:\n    command: {}\n    args: [serve, --stdio, --demo, --log-level, warn]\n",
        crate::switchboard_bin().display()
    );
    let everything = format!("  everything:\n    command: node\n    args: [\"{}\", \"stdio\"]\n", everything_js());
    let config = write_config(&dir, &format!("upstreams:\n{demo}"));
    let mut gateway: ServerProcess = serve_config(&config, &dir.join("data"), &[]);
    let url = gateway.mcp_url();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut client = HttpPeer::new(url.clone());
        client.initialize(switchboard_mcp::protocol::ProtocolVersion::LATEST_LEGACY, json!({})).await;
        client.legacy_notify("notifications/initialized", json!({})).await;
        let mut stream = client.get(None, None).await;
        let names = |reply: &Value| -> Vec<String> {
            reply["result"]["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        };
        let listed = client.legacy("tools/list", json!({})).await;
        assert!(names(listed.last()).contains(&"demo_echo".to_owned()), "{}", listed.last());
        let demo_pid = children(gateway.pid())[0].0;

        // An upstream's own list change reaches this client.
        let reply =
            client.legacy("tools/call", json!({"name": "demo_test_trigger_tool_change", "arguments": {}})).await;
        assert_eq!(reply.last()["result"]["content"][0]["text"], "tool list change announced", "{}", reply.last());
        wait_for_list_changed(&mut stream).await;

        // Adding an upstream: announced, listed, the running one untouched.
        std::fs::write(&config, format!("upstreams:\n{demo}{everything}")).expect("editing the config");
        wait_for_list_changed(&mut stream).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = names(client.legacy("tools/list", json!({})).await.last());
            if now.contains(&"everything_echo".to_owned()) && now.contains(&"demo_echo".to_owned()) {
                break;
            }
            assert!(Instant::now() < deadline, "everything was not added: {now:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(children(gateway.pid()).iter().any(|(pid, _)| *pid == demo_pid), "an unchanged upstream keeps running");

        // Removing one: announced, gone from the list, its process stopped.
        std::fs::write(&config, format!("upstreams:\n{everything}")).expect("editing the config");
        wait_for_list_changed(&mut stream).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = names(client.legacy("tools/list", json!({})).await.last());
            if !now.iter().any(|n| n.starts_with("demo_")) && now.contains(&"everything_echo".to_owned()) {
                break;
            }
            assert!(Instant::now() < deadline, "demo was not removed: {now:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while children(gateway.pid()).iter().any(|(pid, _)| *pid == demo_pid) {
            assert!(Instant::now() < deadline, "the removed upstream's process was not stopped");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let reply = client
            .legacy("tools/call", json!({"name": "everything_echo", "arguments": {"message": "still here"}}))
            .await;
        assert_eq!(
            reply.last()["result"]["content"][0]["text"],
            "Echo: still here",
            "the session survived: {}",
            reply.last()
        );
    });
    gateway.terminate(Duration::from_secs(10));
}

async fn wait_for_list_changed(stream: &mut switchboard_testkit::http::SseReader) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(event) = stream.next(left).await else { panic!("no notifications/tools/list_changed within 30 s") };
        let message: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
        if message["method"] == "notifications/tools/list_changed" {
            return;
        }
    }
}

#[test]
fn toolsets_find_tools_and_upstream_roles_narrow_what_each_caller_sees() {
    let dir = scratch("gateway-toolsets");
    let demo = |prefix: &str, roles: &str| demo_upstream(prefix, &["--demo-basic"], roles);
    let config = write_config(
        &dir,
        &format!(
            "auth:\n  api_keys:\n    - {{id: ops, key: ops-key-0123456789, roles: [ops]}}\n    - {{id: viewer, key: viewer-key-0123456789, roles: [viewer]}}\n\
             find_tools: true\ntoolsets:\n  math: [\"demo_add\", \"find_tools\"]\nupstreams:\n{}{}",
            demo("demo", ""),
            demo("ops", "    roles: [ops]\n")
        ),
    );
    let mut gateway = serve_config(&config, &dir.join("data"), &[]);
    let url = gateway.mcp_url();
    let tools = |url: &str, key: &str, era: &str, extra: &[&str]| -> Value {
        let header = format!("X-API-Key: {key}");
        let mut args = vec!["--header", header.as_str()];
        args.extend_from_slice(extra);
        py(url, era, &args)
    };
    let names = |out: &Value| -> Vec<String> {
        let mut n: Vec<String> =
            out["tools"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)).collect();
        n.sort();
        n
    };
    for era in ["auto", "legacy"] {
        let viewer = tools(&url, "viewer-key-0123456789", era, &[]);
        assert_eq!(names(&viewer), ["demo_add", "demo_echo", "find_tools"], "{era}: roles hide ops_*: {viewer}");
        let ops = tools(&url, "ops-key-0123456789", era, &[]);
        assert_eq!(names(&ops), ["demo_add", "demo_echo", "find_tools", "ops_add", "ops_echo"], "{era}: {ops}");
        let math = tools(&format!("{url}/math"), "ops-key-0123456789", era, &[]);
        assert_eq!(names(&math), ["demo_add", "find_tools"], "{era}: /mcp/math: {math}");
        // Outside its toolset a tool is unknown, even to a caller whose roles allow it.
        let refused = py_error(
            &format!("{url}/math"),
            era,
            &["--header", "X-API-Key: ops-key-0123456789", "--call", "demo_echo", "--args", r#"{"message": "x"}"#],
        );
        assert_eq!(refused["error"]["code"], -32602, "{era}: {refused}");
        assert!(refused["error"]["message"].as_str().unwrap_or_default().contains("unknown tool"), "{refused}");
    }

    // find_tools answers with what the caller may call, best first.
    let found = |key: &str, url: &str| -> Vec<String> {
        let out = tools(url, key, "auto", &["--call", "find_tools", "--args", r#"{"query": "add two numbers"}"#]);
        out["call"]["structuredContent"]["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    };
    let viewer = found("viewer-key-0123456789", &url);
    assert_eq!(viewer.first().map(String::as_str), Some("demo_add"), "{viewer:?}");
    assert!(!viewer.iter().any(|n| n.starts_with("ops_")), "never a tool the caller may not call: {viewer:?}");
    assert!(found("ops-key-0123456789", &url).contains(&"ops_add".to_owned()));
    assert_eq!(found("ops-key-0123456789", &format!("{url}/math")), ["demo_add"], "the toolset narrows the search too");

    // An unknown toolset is a 404 that names the real ones.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (status, body) = rt.block_on(async {
        let response = crate::http_client()
            .post(format!("{url}/nope"))
            .header("X-API-Key", "ops-key-0123456789")
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#)
            .send()
            .await
            .expect("POST");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    });
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no toolset named \\\"nope\\\"") && body.contains("math"), "{body}");
    gateway.terminate(Duration::from_secs(10));
}

#[test]
fn websocket_and_http_sse_upstreams_and_lazy_idle_stdio_upstreams() {
    let dir = scratch("gateway-transports");
    let mut upstream = ServerProcess::spawn(
        &crate::switchboard_bin(),
        &["serve", "--demo", "--demo-basic", "--listen", "127.0.0.1:0"],
    );
    let config = write_config(
        &dir,
        &format!(
            "upstreams:\n  ws:\n    url: ws://{addr}/ws\n  sse:\n    type: sse\n    url: http://{addr}/sse\n  \
             lazy:\n    command: {bin}\n    args: [serve, --stdio, --demo, --demo-basic, --log-level, warn]\n    \
             start: lazy\n    idle_timeout_ms: 1000\n",
            addr = upstream.addr,
            bin = crate::switchboard_bin().display()
        ),
    );
    let mut gateway = serve_config(&config, &dir.join("data"), &[]);
    let url = gateway.mcp_url();
    for (tool, era) in [("ws_echo", "auto"), ("sse_echo", "legacy"), ("ws_add", "legacy"), ("sse_add", "auto")] {
        let args = if tool.ends_with("echo") { r#"{"message": "over"}"# } else { r#"{"a": 1, "b": 2}"# };
        let out = py(&url, era, &["--call", tool, "--args", args]);
        assert_eq!(out["call"]["isError"], false, "{tool}: {out}");
        assert!(!text(&out["call"]).is_empty(), "{tool}: {out}");
    }

    // A lazy stdio upstream: listed at boot, then not running until a call needs it, and
    // stopped again once idle.
    let wait_for = |want: usize, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while children(gateway.pid()).len() != want {
            assert!(Instant::now() < deadline, "{what}: children {:?}", children(gateway.pid()));
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for(0, "a lazy upstream is stopped once listed");
    let out = py(&url, "auto", &["--call", "lazy_echo", "--args", r#"{"message": "wake up"}"#]);
    assert_eq!(out["call"]["isError"], false, "{out}");
    assert!(text(&out["call"]).contains("wake up"), "{out}");
    assert_eq!(children(gateway.pid()).len(), 1, "started by the call");
    wait_for(0, "stopped after idle_timeout_ms");
    let ready = ureq_get(&format!("{}/readyz", gateway.base));
    assert_eq!(ready["components"]["upstream:lazy"], "stopped", "{ready}");
    assert_eq!(ready["components"]["upstream:ws"], "up", "{ready}");
    gateway.terminate(Duration::from_secs(10));
    upstream.terminate(Duration::from_secs(10));
}

/// `config check --upstreams` lists the upstreams as `serve` would: two servers offering the same
/// name without namespaces are an error naming both; a plain `config check` does not start them.
#[test]
fn config_check_with_upstreams_names_both_sides_of_a_clash() {
    let dir = scratch("gateway-check");
    let _ = std::fs::create_dir_all(&dir);
    let config = dir.join("clash.yaml");
    std::fs::write(
        &config,
        format!(
            "namespacing: {{mode: never}}\n\
             upstreams:\n  first: {{command: node, args: [{js}, stdio]}}\n  second: {{command: node, args: [{js}, stdio]}}\n\
             server: {{data_dir: {data}}}\n",
            js = everything_js(),
            data = dir.join("data").display()
        ),
    )
    .expect("config");
    let check = |extra: &[&str]| {
        let out = Command::new(crate::switchboard_bin())
            .args(["config", "check"])
            .args(extra)
            .arg(&config)
            .output()
            .expect("switchboard config check");
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, said) = check(&[]);
    assert!(ok, "without --upstreams nothing is started: {said}");
    let (ok, said) = check(&["--upstreams"]);
    assert!(!ok, "a clash must fail the check: {said}");
    assert!(said.contains("upstream first") && said.contains("upstream second"), "both sides named: {said}");
}

/// A gateway in front of server-everything (stdio) alone, and its MCP URL.
fn everything_gateway(name: &str) -> (ServerProcess, String) {
    let dir = scratch(name);
    let yaml =
        format!("upstreams:\n  everything:\n    command: node\n    args: [\"{}\", \"stdio\"]\n", everything_js());
    let gateway = serve_config(&write_config(&dir, &yaml), &dir.join("data"), &[]);
    let url = gateway.mcp_url();
    (gateway, url)
}

/// A client subscribing to an upstream's resource through the gateway gets the upstream's
/// updates, in both eras: the gateway subscribes at the upstream (server-everything sends updates
/// for the URIs its session subscribed to once `toggle-subscriber-updates` is called, then every
/// 5 s).
#[test]
fn resource_subscriptions_reach_the_upstream_in_both_eras() {
    use std::io::BufRead as _;
    let (_gateway, url) = everything_gateway("gateway-subscribe");
    let uri = "upstream://everything/demo://resource/static/document/architecture.md";
    let (found, seen) = std::sync::mpsc::channel();
    let mut listeners = Vec::new();
    for era in ["legacy", "modern"] {
        let mut child = Command::new(crate::switchboard_bin())
            .args(["client", "--url", &url, "--era", era, "listen", "--tools", "--resource", uri])
            .args(["--duration", "60", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("switchboard client listen");
        let stdout = child.stdout.take().expect("stdout");
        let found = found.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("notifications/resources/updated") {
                    let _ = found.send((era, line));
                    return;
                }
            }
        });
        listeners.push(child);
    }
    // Both listeners have subscribed (through us, at the upstream) before the updates start.
    std::thread::sleep(Duration::from_secs(3));
    let out = py(&url, "auto", &["--call", "everything_toggle-subscriber-updates", "--args", "{}"]);
    assert_eq!(out["call"]["isError"], false, "{out}");
    let mut eras = Vec::new();
    for _ in 0..2 {
        let (era, line) = seen.recv_timeout(Duration::from_secs(30)).expect("an update within 30 s");
        let update: Value = serde_json::from_str(&line).expect("a JSON line");
        assert_eq!(update["params"]["uri"], uri, "{era}: {update}");
        eras.push(era);
    }
    eras.sort_unstable();
    assert_eq!(eras, ["legacy", "modern"]);
    for mut child in listeners {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Completions of an upstream's prompt arguments are the upstream's own (server-everything's
/// `completable-prompt`: departments, then the members of the chosen department).
#[test]
fn completions_of_upstream_prompts_are_forwarded() {
    let (_gateway, url) = everything_gateway("gateway-complete");
    for era in ["legacy", "modern"] {
        let out = Command::new(crate::switchboard_bin())
            .args(["client", "--url", &url, "--era", era, "complete", "--prompt", "everything_completable-prompt"])
            .args(["--argument", "department", "--value", "Sa"])
            .output()
            .expect("switchboard client complete");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{era}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout.trim(), "Sales", "{era}");
    }
    // The upstream's own count comes along with its values.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let reply = rt.block_on(async {
        let mut peer = HttpPeer::new(url.clone());
        let params = json!({"ref": {"type": "ref/prompt", "name": "everything_completable-prompt"},
            "argument": {"name": "department", "value": "Sa"}});
        peer.modern("completion/complete", params, json!({})).await.last().clone()
    });
    assert_eq!(reply["result"]["completion"], json!({"values": ["Sales"], "total": 1, "hasMore": false}), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstreams_roles_cover_its_prompts_and_resources_too() {
    let dir = scratch("gateway-upstream-roles");
    let config = write_config(
        &dir,
        &format!(
            "auth:\n  api_keys:\n    - {{id: ops, key: ops-key-0123456789, roles: [ops]}}\n    - {{id: viewer, key: viewer-key-0123456789, roles: [viewer]}}\n\
             upstreams:\n  ops:\n    command: {}\n    args: [serve, --stdio, --demo, --log-level, warn]\n    roles: [ops]\n",
            crate::switchboard_bin().display()
        ),
    );
    let gateway = serve_config(&config, &dir.join("data"), &[]);
    let mut ops = HttpPeer::new(gateway.mcp_url()).with_api_key("ops-key-0123456789");
    let mut viewer = HttpPeer::new(gateway.mcp_url()).with_api_key("viewer-key-0123456789");
    let listed = |reply: &Value, key: &str, field: &str| -> Vec<String> {
        reply["result"][key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[field].as_str().map(str::to_owned))
            .collect()
    };
    let prompts = ops.modern("prompts/list", json!({}), json!({})).await;
    let prompt = listed(prompts.last(), "prompts", "name").first().cloned().expect("the upstream's prompts, for ops");
    let resources = ops.modern("resources/list", json!({}), json!({})).await;
    let uri = listed(resources.last(), "resources", "uri").first().cloned().expect("the upstream's resources, for ops");
    let templates = ops.modern("resources/templates/list", json!({}), json!({})).await;
    assert!(!listed(templates.last(), "resourceTemplates", "uriTemplate").is_empty(), "{:?}", templates.messages);
    let read = ops.modern("resources/read", json!({"uri": uri}), json!({})).await;
    assert!(read.last().get("result").is_some(), "ops reads {uri}: {:?}", read.messages);

    // The viewer sees none of it, and asking by name is answered as for something that is not there.
    for (method, key) in [
        ("prompts/list", "prompts"),
        ("resources/list", "resources"),
        ("resources/templates/list", "resourceTemplates"),
    ] {
        let seen = viewer.modern(method, json!({}), json!({})).await;
        assert_eq!(seen.last()["result"][key], json!([]), "{method}: {:?}", seen.messages);
    }
    let read = viewer.modern("resources/read", json!({"uri": uri}), json!({})).await;
    assert!(
        read.last().pointer("/error/message").and_then(Value::as_str).is_some_and(|m| m.contains("resource not found")),
        "{:?}",
        read.messages
    );
    let got = viewer.modern("prompts/get", json!({"name": prompt, "arguments": {}}), json!({})).await;
    assert!(got.last().get("error").is_some(), "{:?}", got.messages);
}

/// Waits up to 5 s for `check` to hold on the text of `path`.
fn wait_for_log(path: &Path, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if check(&text) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_is_unsubscribed_when_the_last_client_subscription_ends() {
    let dir = scratch("gateway-unsubscribe");
    std::fs::create_dir_all(&dir).expect("scratch");
    let upstream = |name: &str, era: &str| {
        let log = dir.join(format!("{name}.jsonl"));
        let log = log.display().to_string();
        demo_upstream(name, &["--wire-log", &log], &format!("    era: {era}\n    start: eager\n"))
    };
    let config = write_config(&dir, &format!("upstreams:\n{}{}", upstream("old", "legacy"), upstream("new", "modern")));
    let gateway = serve_config(&config, &dir.join("data"), &[]);
    let mut lister = HttpPeer::new(gateway.mcp_url());
    let listed = lister.modern("resources/list", json!({}), json!({})).await;
    let uris: Vec<String> = listed.last()["result"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uri"].as_str().map(str::to_owned))
        .collect();
    let served = |name: &str| {
        uris.iter()
            .find(|u| u.starts_with(&format!("upstream://{name}/")))
            .cloned()
            .expect("a resource of each upstream")
    };
    let (old_uri, new_uri) = (served("old"), served("new"));
    // The upstream's own URI, as its wire log shows it.
    let old_original = old_uri.trim_start_matches("upstream://old/").to_owned();
    let new_original = new_uri.trim_start_matches("upstream://new/").to_owned();

    // Two sessions subscribe to both resources: each upstream is subscribed once.
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let mut peer = HttpPeer::new(gateway.mcp_url());
        peer.initialize(switchboard_protocol::ProtocolVersion::V2025_11_25, json!({})).await;
        for uri in [&old_uri, &new_uri] {
            let ok = peer.legacy("resources/subscribe", json!({"uri": uri})).await;
            assert!(ok.last().get("result").is_some(), "{:?}", ok.messages);
        }
        sessions.push(peer);
    }
    let subscribes = |text: &str| {
        text.lines().filter(|l| l.contains("\"resources/subscribe\"") && l.contains(old_original.as_str())).count()
    };
    let old_log = wait_for_log(&dir.join("old.jsonl"), |t| subscribes(t) >= 1);
    assert_eq!(subscribes(&old_log), 1, "the legacy upstream is subscribed once for both sessions");
    let listens_with = |text: &str| {
        text.lines()
            .filter(|l| l.contains("\"subscriptions/listen\"") && l.contains("\"method\""))
            .map(|l| l.contains(new_original.as_str()))
            .collect::<Vec<bool>>()
    };
    let new_log = wait_for_log(&dir.join("new.jsonl"), |t| listens_with(t).last() == Some(&true));
    assert_eq!(listens_with(&new_log).last(), Some(&true), "the modern upstream listens for it: {new_log}");

    // One session unsubscribes: the other still watches, so the upstreams stay subscribed.
    let mut first = sessions.remove(0);
    for uri in [&old_uri, &new_uri] {
        let ok = first.legacy("resources/unsubscribe", json!({"uri": uri})).await;
        assert!(ok.last().get("result").is_some(), "{:?}", ok.messages);
    }
    std::thread::sleep(Duration::from_millis(500));
    let old_log = std::fs::read_to_string(dir.join("old.jsonl")).unwrap_or_default();
    assert!(!old_log.contains("\"resources/unsubscribe\""), "still watched by the second session");
    assert_eq!(listens_with(&std::fs::read_to_string(dir.join("new.jsonl")).unwrap_or_default()).last(), Some(&true));

    // The second session ends: nobody watches any more, and both upstreams hear so.
    assert_eq!(sessions[0].delete().await, 200);
    let unsubscribed =
        |t: &str| t.lines().any(|l| l.contains("\"resources/unsubscribe\"") && l.contains(old_original.as_str()));
    assert!(unsubscribed(&wait_for_log(&dir.join("old.jsonl"), unsubscribed)), "the legacy upstream is unsubscribed");
    let new_log = wait_for_log(&dir.join("new.jsonl"), |t| listens_with(t).last() == Some(&false));
    assert_eq!(
        listens_with(&new_log).last(),
        Some(&false),
        "the modern upstream's listen no longer names it: {new_log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_that_runs_only_as_a_task_upstream_is_called_through_the_gateway_in_both_eras() {
    let dir = scratch("gateway-tasks");
    std::fs::create_dir_all(&dir).expect("scratch");
    let upstream = |name: &str, era: &str| demo_upstream(name, &[], &format!("    era: {era}\n"));
    let config = write_config(&dir, &format!("upstreams:\n{}{}", upstream("old", "legacy"), upstream("new", "modern")));
    let gateway = serve_config(&config, &dir.join("data"), &[]);
    let mut client = HttpPeer::new(gateway.mcp_url());
    // 2025-11-25 lists execution.taskSupport (2026-07-28 does not).
    let mut legacy = HttpPeer::new(gateway.mcp_url());
    legacy.initialize(switchboard_protocol::ProtocolVersion::V2025_11_25, json!({})).await;
    let listed = legacy.legacy("tools/list", json!({})).await;
    for name in ["old_failing_job", "new_failing_job"] {
        let tool = listed.last()["result"]["tools"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["name"] == name).cloned())
            .unwrap_or_else(|| panic!("{name} listed: {:?}", listed.messages));
        if name == "old_failing_job" {
            // The legacy upstream lists it as task-only; the gateway waits for the task itself.
            // (A 2026-07-28 listing carries no taskSupport: the upstream's refusal tells.)
            assert_eq!(tool.pointer("/execution/taskSupport"), Some(&json!("optional")), "{tool}");
        }
        // A client that does not follow tasks gets the task's result.
        let called = client.modern("tools/call", json!({"name": name, "arguments": {}}), json!({})).await;
        let result = called.last();
        assert_eq!(result.pointer("/result/isError"), Some(&json!(true)), "{name}: {result}");
        assert!(
            result
                .pointer("/result/content/0/text")
                .and_then(Value::as_str)
                .is_some_and(|t| t.contains("the input was rejected")),
            "{name}: {result}"
        );
    }
    // A client that follows tasks gets a task of the gateway's for a tool the upstream lists as
    // able to run as one (the call to the upstream runs inside it).
    let caps = json!({"extensions": {"io.modelcontextprotocol/tasks": {}}});
    let created = client
        .modern(
            "tools/call",
            json!({"name": "old_slow_compute", "arguments": {"seconds": 0.2, "label": "g"}}),
            caps.clone(),
        )
        .await;
    assert_eq!(created.last().pointer("/result/resultType"), Some(&json!("task")), "{:?}", created.messages);
    let id = created.last().pointer("/result/taskId").and_then(Value::as_str).expect("a task id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = Value::Null;
    while Instant::now() < deadline {
        status = client.modern("tasks/get", json!({"taskId": id}), caps.clone()).await.last().clone();
        if status.pointer("/result/status") == Some(&json!("completed")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status.pointer("/result/result/content/0/text"), Some(&json!("computed g in 0.2 s")), "{status}");

    // A task-only upstream tool that asks for approval while it runs: the question reaches the
    // Python SDK client in either era (a legacy client as a server→client request, a modern one
    // as input the call needs), and its answer goes back to the running upstream task.
    for (upstream, era) in [("new", "legacy"), ("new", "auto"), ("old", "legacy"), ("old", "auto")] {
        let tool = format!("{upstream}_approval_job");
        let out = py(&gateway.mcp_url(), era, &["--call", &tool, "--elicit", r#"{"approve": true}"#]);
        assert_eq!(text(&out["call"]), "the job ran", "{tool} ({era}): {out}");
        assert_eq!(out["elicited"], json!(["Approve the job?"]), "{tool} ({era}): {out}");
        let out = py(&gateway.mcp_url(), era, &["--call", &tool, "--elicit", r#"{"approve": false}"#]);
        assert_eq!(text(&out["call"]), "the job was not approved", "{tool} ({era}): {out}");
    }
}

/// A stdio server cannot say which call a question of its belongs to: with
/// `max_concurrent_calls: 1` the gateway sends it one call at a time, so each caller gets its
/// own question; without, a question asked while two calls are in flight is refused with an
/// error that names the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrent_calls_one_routes_each_stdio_question_to_its_caller() {
    let dir = scratch("gateway-turns");
    let upstream = |name: &str, extra: &str| demo_upstream(name, &[], &format!("    era: legacy\n{extra}"));
    let config = write_config(
        &dir,
        &format!("upstreams:\n{}{}", upstream("one", "    max_concurrent_calls: 1\n"), upstream("many", "")),
    );
    let gateway = serve_config(&config, &dir.join("data"), &[]);
    let session = || async {
        let mut peer = HttpPeer::new(gateway.mcp_url());
        peer.initialize(switchboard_protocol::ProtocolVersion::V2025_11_25, json!({"elicitation": {}})).await;
        peer
    };
    let (mut a, b) = (session().await, session().await);
    let ask = |tool: &str, message: &str| json!({"name": tool, "arguments": {"message": message}});
    // The question an SSE stream carries next (after the priming event).
    async fn question(stream: &mut switchboard_testkit::http::SseReader) -> Value {
        loop {
            let event = stream.next(Duration::from_secs(10)).await.expect("an event");
            if !event.data.is_empty() {
                return serde_json::from_str(&event.data).expect("json");
            }
        }
    }
    let answer = |peer: &HttpPeer, request: &Value, name: &str| {
        let reply = json!({"jsonrpc": "2.0", "id": request["id"],
            "result": {"action": "accept", "content": {"name": name}}});
        let peer = peer.clone();
        async move { assert_eq!(peer.legacy_raw(&reply).await.status, 202) }
    };

    // One at a time: B's call waits for A's, then gets its own question.
    let mut a_stream = a.legacy_stream("tools/call", ask("one_test_elicitation", "for A")).await;
    let a_question = question(&mut a_stream).await;
    assert_eq!(a_question.pointer("/params/message"), Some(&json!("for A")), "{a_question}");
    let mut b_peer = b.clone();
    let b_call = tokio::spawn(async move {
        let mut stream = b_peer.legacy_stream("tools/call", ask("one_test_elicitation", "for B")).await;
        let q = question(&mut stream).await;
        (stream, q)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!b_call.is_finished(), "B's call waits for its turn while A's is running");
    answer(&a, &a_question, "Ada").await;
    let a_result = question(&mut a_stream).await;
    assert!(text(&a_result["result"]).contains("Ada"), "{a_result}");
    let (mut b_stream, b_question) = b_call.await.expect("B's call");
    assert_eq!(b_question.pointer("/params/message"), Some(&json!("for B")), "{b_question}");
    answer(&b, &b_question, "Bob").await;
    let b_result = question(&mut b_stream).await;
    assert!(text(&b_result["result"]).contains("Bob"), "{b_result}");

    // No limit: a question asked while two calls are in flight cannot be routed.
    let mut a_stream = a.legacy_stream("tools/call", ask("many_test_elicitation", "for A")).await;
    let a_question = question(&mut a_stream).await;
    let refused = b.clone().legacy("tools/call", ask("many_test_elicitation", "for B")).await;
    let message = refused.last().to_string();
    assert!(message.contains("max_concurrent_calls: 1 on upstream many"), "{message}");
    answer(&a, &a_question, "Ada").await;
    let a_result = question(&mut a_stream).await;
    assert!(text(&a_result["result"]).contains("Ada"), "{a_result}");
}
