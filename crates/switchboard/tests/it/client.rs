//! The client runtime, the `switchboard client` CLI and `conformance-client` against software we
//! did not write: the official conformance suite (client mode), `server-everything` (npm) and
//! Python SDK servers (2.x modern, 1.x FastMCP legacy) over stdio and Streamable HTTP, plus a
//! stdio server that crashes mid-call.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{json, Map, Value};
use switchboard_mcp::client::{
    full_capabilities, Client, ClientError, ClientHandler, ClientOptions, HttpTarget, RequestOptions, RestartPolicy,
    StdioTarget, Target,
};
use switchboard_mcp::protocol::client::{
    CreateMessageParams, CreateMessageResult, ElicitAction, ElicitParams, ElicitResult, ListRootsResult, Root,
    SamplingContent,
};
use switchboard_mcp::protocol::content::{ContentBlock, Role};
use switchboard_mcp::protocol::lifecycle::ClientCapabilities;
use switchboard_mcp::protocol::ErrorObject;
use switchboard_testkit::repo_root;

use crate::interop::{free_port, peers, scratch};
use crate::switchboard_bin;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

// ------------------------------------------------------------------ conformance (client mode)

/// Runs one client scenario of the official suite against `conformance-client`; `None` when it
/// passed, else the report. `version` `None` forces an extension scenario (not on the spec
/// timeline).
fn conformance_scenario(version: Option<&str>, scenario: &str) -> Option<String> {
    let node = peers().join("node22/bin/node");
    let suite = peers().join("node/node_modules/@modelcontextprotocol/conformance/dist/index.js");
    let client = PathBuf::from(env!("CARGO_BIN_EXE_conformance-client"));
    let mut command = Command::new(&node);
    command.arg(&suite).args(["client", "--command", &client.display().to_string(), "--scenario", scenario]);
    match version {
        Some(version) => command.args(["--spec-version", version]),
        None => command.arg("--force"),
    };
    let out = command.current_dir(peers().join("node")).output().expect("running the conformance suite");
    // The suite prints its report on both streams, depending on the line.
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let passed = out.status.success() && report.contains("OVERALL: PASSED") && !report.contains("OVERALL: FAILED");
    let label = format!("{} {scenario}", version.unwrap_or("extension"));
    eprintln!("{label}: {}", report.lines().find(|l| l.contains("Passed:")).unwrap_or("?"));
    (!passed).then(|| format!("{label}:\n{report}"))
}

/// Runs scenarios three at a time (each is a node process and a client process, mostly
/// waiting on each other) and collects the failures.
fn conformance_runs(runs: &[(Option<&'static str>, &[&'static str])]) -> Vec<String> {
    let jobs: Vec<(Option<&str>, &str)> =
        runs.iter().flat_map(|(v, scenarios)| scenarios.iter().map(move |s| (*v, *s))).collect();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                while let Some((version, scenario)) = jobs.get(next.fetch_add(1, Ordering::SeqCst)) {
                    if let Some(failure) = conformance_scenario(*version, scenario) {
                        failures.lock().unwrap_or_else(|p| p.into_inner()).push(failure);
                    }
                }
            });
        }
    });
    failures.into_inner().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn conformance_client_passes_every_non_auth_client_scenario() {
    let failures = conformance_runs(&[
        (
            Some("2026-07-28"),
            &[
                "tools_call",
                "request-metadata",
                "sep-2322-client-request-state",
                "http-standard-headers",
                "http-custom-headers",
                "http-invalid-tool-headers",
                "json-schema-ref-no-deref",
                "json-schema-2020-12-preservation",
            ],
        ),
        (
            Some("2025-11-25"),
            &[
                "initialize",
                "tools_call",
                "elicitation-sep1034-client-defaults",
                "sse-retry",
                "json-schema-2020-12-preservation",
            ],
        ),
        (Some("2025-06-18"), &["initialize", "tools_call"]),
    ]);
    assert!(failures.is_empty(), "client conformance failures:\n{}", failures.join("\n"));
}

/// Every `auth/*` client scenario of the suite, in every revision it applies to, and the
/// authorization extensions (machine grants, enterprise-managed authorization, DPoP).
#[test]
fn conformance_client_passes_every_auth_scenario() {
    const CORE: &[&str] = &[
        "auth/metadata-default",
        "auth/metadata-var1",
        "auth/metadata-var2",
        "auth/metadata-var3",
        "auth/basic-cimd",
        "auth/scope-from-www-authenticate",
        "auth/scope-from-scopes-supported",
        "auth/scope-omitted-when-undefined",
        "auth/scope-step-up",
        "auth/scope-retry-limit",
        "auth/token-endpoint-auth-basic",
        "auth/token-endpoint-auth-post",
        "auth/token-endpoint-auth-none",
        "auth/pre-registration",
    ];
    const MODERN_ONLY: &[&str] = &[
        "auth/resource-mismatch",
        "auth/offline-access-scope",
        "auth/offline-access-not-supported",
        "auth/authorization-server-migration",
        "auth/iss-supported",
        "auth/iss-not-advertised",
        "auth/iss-supported-missing",
        "auth/iss-wrong-issuer",
        "auth/iss-unexpected",
        "auth/iss-normalized",
        "auth/metadata-issuer-mismatch",
    ];
    let failures = conformance_runs(&[
        (Some("2026-07-28"), CORE),
        (Some("2026-07-28"), MODERN_ONLY),
        (Some("2025-11-25"), CORE),
        (
            Some("2025-06-18"),
            &["auth/token-endpoint-auth-basic", "auth/token-endpoint-auth-post", "auth/token-endpoint-auth-none"],
        ),
        (Some("2025-03-26"), &["auth/2025-03-26-oauth-metadata-backcompat", "auth/2025-03-26-oauth-endpoint-fallback"]),
        (
            None,
            &[
                "auth/client-credentials-jwt",
                "auth/client-credentials-basic",
                "auth/enterprise-managed-authorization",
                "auth/wif-jwt-bearer",
                "auth/dpop",
                "auth/dpop-nonce",
            ],
        ),
    ]);
    assert!(failures.is_empty(), "client conformance failures:\n{}", failures.join("\n"));
}

// ------------------------------------------------------------------ the CLI

fn everything_stdio() -> String {
    let js = peers().join("node/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    format!("node {} stdio", js.display())
}

fn python_server(venv: &str) -> String {
    format!("{} {} stdio", peers().join(venv).join("bin/python").display(), script().display())
}

fn script() -> PathBuf {
    repo_root().join("tests/interop/python_server.py")
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(switchboard_bin()).arg("client").args(args).output().expect("running switchboard client");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_calls_tools_prints_text_or_json_and_exits_by_outcome() {
    let everything = everything_stdio();
    let (code, stdout, stderr) = cli(&["--stdio", &everything, "tools", "call", "echo", "--arg", "message=hi"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "Echo: hi");

    let (code, stdout, stderr) =
        cli(&["--stdio", &everything, "tools", "call", "echo", "--arg", "message=hi", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let raw: Value = serde_json::from_str(&stdout).expect("--json prints JSON");
    assert_eq!(raw["content"][0]["text"], "Echo: hi", "{raw}");

    let (code, stdout, _) =
        cli(&["--stdio", &everything, "tools", "call", "get-sum", "--json", r#"{"a": 2, "b": 40}"#]);
    assert_eq!(code, 0);
    assert!(stdout.contains("42"), "{stdout}");

    let (code, stdout, _) = cli(&["--stdio", &everything, "tools", "list"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("NAME") && stdout.contains("get-sum"), "{stdout}");

    // Usage errors: 2; unreachable servers: 3; tool errors (isError): 5.
    let (code, _, stderr) =
        cli(&["--stdio", &everything, "tools", "call", "get-sum", "--arg", "a=two", "--arg", "b=1"]);
    assert_eq!(code, 2, "a non-number for a number parameter: {stderr}");
    assert!(stderr.contains("a=two"), "{stderr}");
    let closed = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr");
    let url = format!("http://{closed}/mcp");
    let (code, _, stderr) = cli(&["--url", &url, "tools", "list"]);
    assert_eq!(code, 3, "{stderr}");
    let (code, _, stderr) = cli(&["--stdio", "/nonexistent/server", "tools", "list"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("/nonexistent/server"), "{stderr}");
    let py = python_server("py1");
    let (code, stdout, _) = cli(&["--stdio", &py, "tools", "call", "add", "--json", r#"{"a": 1, "b": "x"}"#]);
    assert_eq!(code, 5, "a tool that reports isError: {stdout}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).ok().map(|v| v["isError"].clone()),
        Some(json!(true)),
        "{stdout}"
    );
    let (code, stdout, _) = cli(&["--stdio", &py, "tools", "call", "add", "--arg", "a=1", "--arg", "b=x"]);
    assert_eq!(code, 2, "the schema says b is an integer: {stdout}");
}

#[test]
fn cli_help_documents_every_flag() {
    let out = Command::new(switchboard_bin()).args(["client", "--help"]).output().expect("help");
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--stdio",
        "--url",
        "--ws",
        "--config",
        "--server",
        "--header",
        "--env",
        "--era",
        "--protocol-version",
        "--timeout",
        "--restart",
        "--root",
        "--accept-elicitation",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    for command in ["discover", "tools", "resources", "prompts", "complete", "listen", "ping"] {
        assert!(help.contains(command), "--help lacks {command}");
    }
    assert!(help.contains("Exit codes"), "{help}");
    let out = Command::new(switchboard_bin()).args(["client", "tools", "call", "--help"]).output().expect("help");
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--arg", "--json", "--progress"] {
        assert!(help.contains(flag), "tools call --help lacks {flag}:\n{help}");
    }
}

#[test]
fn cli_reads_mcp_servers_files() {
    let file = scratch("mcp.json");
    let js = peers().join("node/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let config = json!({"mcpServers": {"everything": {"command": "node", "args": [js, "stdio"]}}});
    std::fs::write(&file, config.to_string()).expect("write mcp.json");
    let (code, stdout, stderr) =
        cli(&["--config", &file.display().to_string(), "--server", "everything", "prompts", "list"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("simple-prompt") || stdout.contains("NAME"), "{stdout}");
    let (code, _, stderr) = cli(&["--config", &file.display().to_string(), "--server", "nope", "tools", "list"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("everything"), "the error lists the servers: {stderr}");
}

// ------------------------------------------------------------------ the library against real servers

/// Answers everything and counts what it was asked.
#[derive(Clone, Default)]
pub(crate) struct Recorder {
    pub(crate) sampling: Arc<AtomicUsize>,
    pub(crate) elicitation: Arc<AtomicUsize>,
    pub(crate) roots: Arc<AtomicUsize>,
    pub(crate) notifications: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for Recorder {
    fn capabilities(&self) -> ClientCapabilities {
        full_capabilities()
    }

    fn create_message(&self, _: CreateMessageParams) -> BoxFuture<'static, Result<CreateMessageResult, ErrorObject>> {
        self.sampling.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {
            Ok(CreateMessageResult {
                role: Role::Assistant,
                content: SamplingContent::One(Box::new(ContentBlock::text("sampled"))),
                model: "test-model".into(),
                stop_reason: Some("endTurn".into()),
                meta: None,
            })
        })
    }

    fn elicit(&self, params: ElicitParams) -> BoxFuture<'static, Result<ElicitResult, ErrorObject>> {
        self.elicitation.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let mut content = Map::new();
            let props = params.requested_schema.as_ref().and_then(|s| s.get("properties")).and_then(Value::as_object);
            for (name, prop) in props.into_iter().flatten() {
                let v = match prop.get("type").and_then(Value::as_str) {
                    Some("boolean") => json!(true),
                    Some("integer" | "number") => json!(7),
                    Some("array") => json!([]),
                    _ => match prop.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
                        Some(first) => first.clone(),
                        None => json!("value"),
                    },
                };
                content.insert(name.clone(), v);
            }
            Ok(ElicitResult { action: ElicitAction::Accept, content: Some(content), meta: None })
        })
    }

    fn list_roots(&self) -> BoxFuture<'static, Result<ListRootsResult, ErrorObject>> {
        self.roots.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {
            Ok(ListRootsResult {
                roots: vec![Root { uri: "file:///tmp/x".into(), name: Some("x".into()), meta: None }],
                meta: None,
            })
        })
    }

    fn notification(&self, method: &str, _: &Value) {
        self.notifications.lock().unwrap_or_else(|p| p.into_inner()).push(method.to_owned());
    }
}

fn args_for(schema: &Map<String, Value>) -> Value {
    let mut args = Map::new();
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    for (name, prop) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
        if !required.contains(&name.as_str()) && prop.get("default").is_some() {
            continue;
        }
        let v = match prop.get("type").and_then(Value::as_str) {
            Some("number" | "integer") => json!(2),
            Some("boolean") => json!(true),
            Some("array") => json!([]),
            Some("object") => json!({}),
            _ => match prop.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
                Some(first) => first.clone(),
                None => json!("hello"),
            },
        };
        args.insert(name.clone(), v);
    }
    Value::Object(args)
}

/// Lists and calls every tool (except `skip`), collecting progress, then reads every resource
/// and gets every prompt. Returns the names of the tools called and how many progress
/// notifications arrived.
async fn exercise(client: &Client, skip: &[&str], overrides: &[(&str, Value)]) -> (Vec<String>, usize) {
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(!tools.is_empty(), "{} lists no tools", client.server_name());
    let progress = Arc::new(AtomicUsize::new(0));
    let mut called = Vec::new();
    for tool in &tools {
        if skip.contains(&tool.name.as_str()) {
            continue;
        }
        let args = overrides
            .iter()
            .find(|(n, _)| *n == tool.name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| args_for(&tool.input_schema));
        let seen = progress.clone();
        let opts = RequestOptions {
            timeout: Some(Duration::from_secs(60)),
            on_progress: Some(Box::new(move |_| {
                seen.fetch_add(1, Ordering::SeqCst);
            })),
        };
        let result = client.call_tool_with(&tool.name, args.clone(), opts).await;
        let result =
            result.unwrap_or_else(|e| panic!("{}: calling {} with {args}: {e}", client.server_name(), tool.name));
        assert!(!result.content.is_empty() || result.structured_content.is_some(), "{}: empty result", tool.name);
        called.push(tool.name.clone());
    }
    if client.capabilities().resources.is_some() {
        let resources = client.list_all_resources().await.expect("resources/list");
        for resource in resources.iter().take(5) {
            let read = client.read_resource(&resource.uri).await.expect("resources/read");
            assert!(!read.contents.is_empty(), "{} has no contents", resource.uri);
        }
    }
    if client.capabilities().prompts.is_some() {
        for prompt in client.list_all_prompts().await.expect("prompts/list") {
            // Required arguments get the server's first completion when it offers completions.
            let mut args = Map::new();
            for arg in prompt.arguments.iter().flatten().filter(|a| a.required == Some(true)) {
                let mut value = json!("1");
                if client.capabilities().completions.is_some() {
                    let reference = json!({"type": "ref/prompt", "name": prompt.name});
                    if let Ok(done) = client.complete(reference, &arg.name, "", None).await {
                        if let Some(first) = done.completion.values.first() {
                            value = json!(first);
                        }
                    }
                }
                args.insert(arg.name.clone(), value);
            }
            let got = client.get_prompt(&prompt.name, args).await;
            let got = got.unwrap_or_else(|e| panic!("prompts/get {}: {e}", prompt.name));
            assert!(!got.messages.is_empty(), "{} has no messages", prompt.name);
        }
    }
    (called, progress.load(Ordering::SeqCst))
}

/// A peer server process that is killed when the test ends.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_http_peer(mut cmd: Command, port: u16) -> Peer {
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("starting the peer server");
    crate::wait_for_listener(port, "the peer server", Duration::from_secs(30));
    Peer(child)
}

/// Every tool is called: `gzip-file-as-resource` gets a `data:` URL (its default fetches from the
/// network, which this machine does not have); `simulate-research-query` runs as a task.
const EVERYTHING_SKIP: &[&str] = &[];

fn everything_overrides() -> Vec<(&'static str, Value)> {
    vec![
        ("trigger-long-running-operation", json!({"duration": 1, "steps": 3})),
        (
            "gzip-file-as-resource",
            json!({"name": "hello.txt.gz", "data": "data:text/plain;base64,aGVsbG8gd29ybGQ=", "outputType": "resource"}),
        ),
        ("simulate-research-query", json!({"topic": "rust", "ambiguous": true})),
    ]
}

#[test]
fn client_drives_server_everything_over_stdio_and_streamable_http() {
    let rt = runtime();
    let js = peers().join("node/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let port = free_port();
    let mut cmd = Command::new("node");
    cmd.arg(&js).arg("streamableHttp").env("PORT", port.to_string());
    let _http = start_http_peer(cmd, port);
    let targets = vec![
        Target::Stdio(StdioTarget::new("node", [js.display().to_string(), "stdio".into()])),
        Target::Http(HttpTarget::new(format!("http://127.0.0.1:{port}/mcp"))),
    ];
    for target in targets {
        rt.block_on(async {
            let handler = Recorder::default();
            let client = Client::connect(target, handler.clone(), ClientOptions::default()).await.expect("connect");
            assert!(!client.is_modern(), "server-everything speaks the legacy era");
            let (called, progress) = exercise(&client, EVERYTHING_SKIP, &everything_overrides()).await;
            for tool in [
                "echo",
                "get-sum",
                "trigger-long-running-operation",
                "trigger-sampling-request",
                "trigger-elicitation-request",
                "get-roots-list",
            ] {
                assert!(
                    called.iter().any(|c| c == tool),
                    "{}: {tool} was not listed/called: {called:?}",
                    client.server_name()
                );
            }
            assert!(progress >= 3, "{}: progress notifications: {progress}", client.server_name());
            assert!(handler.sampling.load(Ordering::SeqCst) >= 1, "sampling was not requested");
            assert!(handler.elicitation.load(Ordering::SeqCst) >= 1, "elicitation was not requested");
            assert!(handler.roots.load(Ordering::SeqCst) >= 1, "roots were not requested");
            client.close().await;
        });
    }
}

#[test]
fn client_drives_python_sdk_servers_in_both_eras_over_stdio_and_http() {
    let rt = runtime();
    for (venv, modern) in [("py2", true), ("py1", false)] {
        let python = peers().join(venv).join("bin/python");
        let port = free_port();
        let mut cmd = Command::new(&python);
        cmd.arg(script()).args(["http", &port.to_string()]);
        let _http = start_http_peer(cmd, port);
        let targets = vec![
            Target::Stdio(StdioTarget::new(
                python.display().to_string(),
                [script().display().to_string(), "stdio".into()],
            )),
            Target::Http(HttpTarget::new(format!("http://127.0.0.1:{port}/mcp"))),
        ];
        for target in targets {
            rt.block_on(async {
                let handler = Recorder::default();
                let client = Client::connect(target, handler.clone(), ClientOptions::default()).await.expect("connect");
                assert_eq!(client.is_modern(), modern, "{venv}: era of {}", client.server_name());
                // mcp 2.x servers cannot elicit in the modern era (no back-channel); 1.x can.
                let skip: &[&str] = if modern { &["confirm"] } else { &[] };
                let overrides = [("countdown", json!({"steps": 3})), ("confirm", json!({"question": "ok?"}))];
                let (called, progress) = exercise(&client, skip, &overrides).await;
                assert!(called.contains(&"echo".to_owned()) && called.contains(&"add".to_owned()), "{called:?}");
                assert!(progress >= 3, "{venv} {}: progress {progress}", client.server_name());
                let sum = client.call_tool("add", json!({"a": 20, "b": 22})).await.expect("add");
                let text = serde_json::to_string(&sum.content).unwrap_or_default();
                assert!(text.contains("42"), "{text}");
                if !modern {
                    assert_eq!(handler.elicitation.load(Ordering::SeqCst), 1, "the confirm tool elicits once");
                }
                client.close().await;
            });
        }
    }
}

// ------------------------------------------------------------------ a server that crashes

const CRASHY: &str = r#"
import json, os, sys
open(sys.argv[1], "a").write(f"{os.getpid()}\n")
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    method, rid = msg["method"], msg["id"]
    if method == "initialize":
        result = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}}, "serverInfo": {"name": "crashy", "version": "1"}}
    elif method == "tools/list":
        result = {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in ("ok", "crash")]}
    elif method == "tools/call" and msg["params"]["name"] == "crash":
        sys.stderr.write("crashy: dying on purpose\n"); sys.stderr.flush()
        os._exit(3)
    elif method == "tools/call":
        result = {"content": [{"type": "text", "text": "fine"}]}
    else:
        print(json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "unknown method"}}), flush=True)
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}), flush=True)
"#;

fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim().chars().next()
}

#[test]
fn a_crashing_stdio_server_is_reported_reaped_and_restarted() {
    let rt = runtime();
    let dir = scratch("crashy");
    std::fs::create_dir_all(&dir).expect("dir");
    let script = dir.join("crashy.py");
    std::fs::write(&script, CRASHY).expect("write script");
    let pids = dir.join("pids");
    let target = |restart: bool| {
        let mut t = StdioTarget::new("python3", [script.display().to_string(), pids.display().to_string()]);
        t.name = Some("crashy".into());
        t.restart =
            restart.then(|| RestartPolicy { initial_backoff: Duration::from_millis(10), ..RestartPolicy::default() });
        Target::Stdio(t)
    };
    let options = || ClientOptions { probe_timeout: Duration::from_secs(2), ..ClientOptions::default() };
    rt.block_on(async {
        // Without restart: the call fails naming the server and its exit status; no zombie.
        let client = Client::connect(target(false), Recorder::default(), options()).await.expect("connect");
        assert_eq!(client.call_tool("ok", json!({})).await.expect("ok").content.len(), 1);
        let err = client.call_tool("crash", json!({})).await.expect_err("the server died");
        let text = err.to_string();
        assert!(matches!(err, ClientError::Disconnected { .. }), "{text}");
        assert!(text.contains("crashy") && text.contains("exit status 3"), "{text}");
        assert!(text.contains("dying on purpose"), "the last stderr line explains it: {text}");
        let first: u32 =
            std::fs::read_to_string(&pids).expect("pids").lines().next().and_then(|l| l.parse().ok()).expect("pid");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(process_state(first), None, "pid {first} is still in the process table (zombie?)");
        let again = client.call_tool("ok", json!({})).await.expect_err("still dead without restart");
        assert!(again.to_string().contains("exit status 3"), "{again}");
        client.close().await;

        // With restart: the crashing call still fails (it crashes again when re-issued once),
        // and the next call succeeds on a fresh process.
        std::fs::write(&pids, "").expect("reset pids");
        let client = Client::connect(target(true), Recorder::default(), options()).await.expect("connect");
        let err = client.call_tool("crash", json!({})).await.expect_err("crashes every time");
        assert!(err.to_string().contains("exit status 3"), "{err}");
        let ok = client.call_tool("ok", json!({})).await.expect("the restarted server answers");
        assert_eq!(serde_json::to_value(&ok.content).unwrap_or_default()[0]["text"], "fine");
        let started: Vec<u32> =
            std::fs::read_to_string(&pids).expect("pids").lines().filter_map(|l| l.parse().ok()).collect();
        assert!(started.len() >= 3, "the server was restarted: {started:?}");
        client.close().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        for pid in started {
            assert_eq!(process_state(pid), None, "pid {pid} outlived the client");
        }
    });
}
