//! The client runtime against Switchboard's own server on every transport and era: Streamable
//! HTTP (modern; legacy 2025-11-25, 2025-06-18, 2025-03-26), the 2024-11-05 HTTP+SSE fallback,
//! WebSocket and stdio; and the response cache with listen streams across a hot reload.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use switchboard_mcp::client::{Client, ClientOptions, EraChoice, HttpTarget, NoHandler, StdioTarget, Target, WsTarget};
use switchboard_mcp::protocol::subscriptions::SubscriptionFilter;
use switchboard_mcp::protocol::ProtocolVersion;
use switchboard_testkit::process::ServerProcess;

use crate::interop::scratch;
use crate::switchboard_bin;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn options(era: EraChoice) -> ClientOptions {
    ClientOptions { era, ..ClientOptions::default() }
}

#[test]
fn every_transport_and_era_reaches_switchboard() {
    let server = ServerProcess::spawn(
        &switchboard_bin(),
        &["serve", "--demo", "--listen", "127.0.0.1:0", "--log-level", "info"],
    );
    let base = server.mcp_url().trim_end_matches("/mcp").to_owned();
    let ws = base.replacen("http://", "ws://", 1);
    let bin = switchboard_bin().display().to_string();
    let stdio = || StdioTarget::new(bin.clone(), ["serve", "--stdio", "--demo", "--log-level", "warn"]);
    let v = |s: &str| s.parse::<ProtocolVersion>().expect("version");
    let cases: Vec<(&str, Target, EraChoice, ProtocolVersion)> = vec![
        ("http auto", Target::Http(HttpTarget::new(server.mcp_url())), EraChoice::Auto, v("2026-07-28")),
        (
            "http 2025-11-25",
            Target::Http(HttpTarget::new(server.mcp_url())),
            EraChoice::Legacy(v("2025-11-25")),
            v("2025-11-25"),
        ),
        (
            "http 2025-06-18",
            Target::Http(HttpTarget::new(server.mcp_url())),
            EraChoice::Legacy(v("2025-06-18")),
            v("2025-06-18"),
        ),
        (
            "http 2025-03-26",
            Target::Http(HttpTarget::new(server.mcp_url())),
            EraChoice::Legacy(v("2025-03-26")),
            v("2025-03-26"),
        ),
        ("http+sse fallback", Target::Http(HttpTarget::new(format!("{base}/sse"))), EraChoice::Auto, v("2025-11-25")),
        ("ws auto", Target::WebSocket(WsTarget::new(format!("{ws}/ws"))), EraChoice::Auto, v("2026-07-28")),
        (
            "ws legacy",
            Target::WebSocket(WsTarget::new(format!("{ws}/ws"))),
            EraChoice::Legacy(v("2025-11-25")),
            v("2025-11-25"),
        ),
        ("stdio auto", Target::Stdio(stdio()), EraChoice::Auto, v("2026-07-28")),
        ("stdio legacy", Target::Stdio(stdio()), EraChoice::Legacy(v("2025-06-18")), v("2025-06-18")),
    ];
    let rt = runtime();
    for (name, target, era, expected) in cases {
        rt.block_on(async {
            let client =
                Client::connect(target, NoHandler, options(era)).await.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(client.protocol_version(), expected, "{name}");
            assert_eq!(client.server_info().map(|i| i.name).as_deref(), Some("switchboard-demo"), "{name}");
            let tools = client.list_all_tools().await.unwrap_or_else(|e| panic!("{name}: tools/list: {e}"));
            assert!(tools.iter().any(|t| t.name == "echo"), "{name}");
            let echoed =
                client.call_tool("echo", json!({"message": "hi"})).await.unwrap_or_else(|e| panic!("{name}: {e}"));
            let text = serde_json::to_string(&echoed.content).unwrap_or_default();
            assert!(text.contains("hi"), "{name}: {text}");
            let resources = client.list_all_resources().await.unwrap_or_else(|e| panic!("{name}: {e}"));
            let first = resources.first().unwrap_or_else(|| panic!("{name}: no resources"));
            client.read_resource(&first.uri).await.unwrap_or_else(|e| panic!("{name}: read {}: {e}", first.uri));
            client.ping().await.unwrap_or_else(|e| panic!("{name}: ping: {e}"));
            client.close().await;
        });
    }
}

const CONFIG: &str = "\
server: {name: reload-test, version: 1.0.0}
commands: {allow: [/bin/echo]}
tools:
  say:
    description: Says hi.
    command: {program: /bin/echo, args: [hi]}
";

const ADDED: &str = "  shout:
    description: Says HI.
    command: {program: /bin/echo, args: [HI]}
";

/// Lists are cached for their ttlMs; the list-changed notification of a hot reload arrives on
/// the listen stream and invalidates the cache, so the next listing shows the new tool.
#[test]
fn listen_streams_deliver_list_changes_that_invalidate_the_cache() {
    let config: PathBuf = scratch("reload.yaml");
    std::fs::write(&config, CONFIG).expect("config");
    let path = config.display().to_string();
    let server = ServerProcess::spawn(
        &switchboard_bin(),
        &["serve", "--config", &path, "--listen", "127.0.0.1:0", "--log-level", "info"],
    );
    let rt = runtime();
    rt.block_on(async {
        for era in [EraChoice::Auto, EraChoice::Legacy(ProtocolVersion::V2025_11_25)] {
            std::fs::write(&config, CONFIG).expect("config");
            tokio::time::sleep(Duration::from_millis(1200)).await; // Let a reload of the reset settle.
            let client = Client::connect(Target::Http(HttpTarget::new(server.mcp_url())), NoHandler, options(era))
                .await
                .expect("connect");
            let names = |tools: Vec<switchboard_mcp::protocol::tools::Tool>| {
                tools.into_iter().map(|t| t.name).collect::<Vec<_>>()
            };
            assert_eq!(names(client.list_all_tools().await.expect("list")), ["say"]);
            let mut listener = client
                .listen(SubscriptionFilter { tools_list_changed: Some(true), ..Default::default() })
                .await
                .expect("listen");
            tokio::time::sleep(Duration::from_millis(300)).await;
            std::fs::write(&config, format!("{CONFIG}{ADDED}")).expect("edit config");
            let changed = tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    match listener.next().await {
                        Some(n) if n.method == "notifications/tools/list_changed" => return true,
                        Some(_) => continue,
                        None => return false,
                    }
                }
            })
            .await;
            assert_eq!(changed, Ok(true), "{era:?}: no tools/list_changed after the edit");
            let mut after = names(client.list_all_tools().await.expect("list"));
            after.sort();
            assert_eq!(after, ["say", "shout"], "{era:?}: the cached list was invalidated");
            let shout = client.call_tool("shout", json!({})).await.expect("the new tool is callable");
            assert!(serde_json::to_string(&shout.content).unwrap_or_default().contains("HI"));
            drop(listener);
            client.close().await;
        }
    });
}

/// Modern servers ask for input with `InputRequiredResult`; the client answers through its
/// handler and retries, round after round, over stdio and HTTP alike.
#[test]
fn multi_round_trip_requests_are_driven_through_the_handler() {
    use std::sync::atomic::Ordering;

    let server = ServerProcess::spawn(
        &switchboard_bin(),
        &["serve", "--demo", "--listen", "127.0.0.1:0", "--log-level", "info"],
    );
    let bin = switchboard_bin().display().to_string();
    let rt = runtime();
    let targets = vec![
        Target::Http(HttpTarget::new(server.mcp_url())),
        Target::Stdio(StdioTarget::new(bin, ["serve", "--stdio", "--demo", "--log-level", "warn"])),
    ];
    for target in targets {
        rt.block_on(async {
            let handler = crate::client::Recorder::default();
            let client = Client::connect(target, handler.clone(), ClientOptions::default()).await.expect("connect");
            assert!(client.is_modern());
            for tool in [
                "test_input_required_result_elicitation",
                "test_input_required_result_sampling",
                "test_input_required_result_list_roots",
                "test_input_required_result_request_state",
                "test_input_required_result_multiple_inputs",
                "test_input_required_result_multi_round",
            ] {
                let result = client.call_tool(tool, json!({})).await.unwrap_or_else(|e| panic!("{tool}: {e}"));
                assert_ne!(result.is_error, Some(true), "{tool}: {result:?}");
            }
            assert!(handler.elicitation.load(Ordering::SeqCst) >= 3, "elicitations answered");
            assert!(handler.sampling.load(Ordering::SeqCst) >= 1, "sampling answered");
            assert!(handler.roots.load(Ordering::SeqCst) >= 1, "roots answered");
            client.close().await;
        });
    }
}

/// A request that outlives its timeout fails with a timeout naming the method, is cancelled at
/// the server, and the connection keeps working.
#[test]
fn timed_out_requests_are_cancelled_and_the_connection_survives() {
    use switchboard_mcp::client::{ClientError, RequestOptions};

    let bin = switchboard_bin().display().to_string();
    let rt = runtime();
    rt.block_on(async {
        for era in [EraChoice::Auto, EraChoice::Legacy(ProtocolVersion::V2025_11_25)] {
            let target =
                Target::Stdio(StdioTarget::new(bin.clone(), ["serve", "--stdio", "--demo", "--log-level", "warn"]));
            let client = Client::connect(target, NoHandler, options(era)).await.expect("connect");
            let started = std::time::Instant::now();
            let opts = RequestOptions { timeout: Some(Duration::from_millis(300)), on_progress: None };
            let err = client.call_tool_with("slow", json!({"ms": 20000}), opts).await.expect_err("times out");
            assert!(matches!(err, ClientError::Timeout { .. }), "{era:?}: {err}");
            assert!(err.to_string().contains("tools/call"), "{err}");
            assert!(started.elapsed() < Duration::from_secs(5), "the timeout was honoured");
            let echoed = client.call_tool("echo", json!({"message": "still here"})).await.expect("alive");
            assert!(serde_json::to_string(&echoed.content).unwrap_or_default().contains("still here"));
            client.close().await;
        }
    });
}

/// A server that answers with a body that never ends: the client gives up once the answer
/// passes its message limit, instead of buffering without end.
#[test]
fn an_endless_answer_is_cut_off_at_the_message_limit() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let url = format!("http://{}/mcp", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = [0u8; 8192];
                    let _ = socket.read(&mut head).await;
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
                        )
                        .await;
                    let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
                    while socket.write_all(chunk.as_bytes()).await.is_ok() {}
                });
            }
        });
        let mut target = HttpTarget::new(url);
        target.max_message_bytes = 1024 * 1024;
        let connected = tokio::time::timeout(
            Duration::from_secs(30),
            Client::connect(Target::Http(target), NoHandler, options(EraChoice::Auto)),
        )
        .await
        .expect("the client gives up instead of reading forever");
        let error = connected.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("larger than 1048576 bytes"), "{error}");
    });
}
