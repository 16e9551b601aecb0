//! Integration tests: they start the real binaries and check every message on the wire against
//! the official schemas (through `switchboard_testkit`).
mod agent;
mod bad_input;
mod bench;
mod chaos;
mod client;
mod client_transports;
mod cluster;
mod command_tools;
mod conformance;
mod gateway;
mod guardrails;
mod http;
mod http_tools;
mod interop;
mod interop_http;
mod legacy;
mod modern;
mod oauth;
mod observability;
mod readme;
mod scale;
mod shop;
mod sql_limits;
mod tasks;
mod tidy;

use std::path::PathBuf;

use switchboard_testkit::peer::StdioPeer;

/// A plain reqwest client. reqwest is built without a TLS provider of its own, so one is
/// installed first (every test runs alone under nextest: none may count on another's).
pub fn http_client() -> reqwest::Client {
    switchboard_testkit::http::install_tls_provider();
    reqwest::Client::new()
}

/// A reqwest client builder, the TLS provider installed (see [`http_client`]).
pub fn http_client_builder() -> reqwest::ClientBuilder {
    switchboard_testkit::http::install_tls_provider();
    reqwest::Client::builder()
}

/// Waits until something listens on loopback `port` (a peer this test started), failing with
/// `what` after `within`.
pub fn wait_for_listener(port: u16, what: &str, within: std::time::Duration) {
    let deadline = std::time::Instant::now() + within;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The `switchboard` binary under test.
pub fn switchboard_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_switchboard"))
}

/// `switchboard serve --config CONFIG --data-dir DATA` on a loopback port, with `env`.
pub fn serve_config(
    config: &std::path::Path,
    data: &std::path::Path,
    env: &[(&str, &str)],
) -> switchboard_testkit::process::ServerProcess {
    let (config, data) = (config.to_string_lossy(), data.to_string_lossy());
    switchboard_testkit::process::ServerProcess::spawn_with_env(
        &switchboard_bin(),
        &["serve", "--config", &config, "--data-dir", &data, "--listen", "127.0.0.1:0"],
        env,
    )
}

/// `switchboard serve --stdio --config CONFIG --data-dir DATA`, logging warnings only.
pub fn stdio_config(config: &std::path::Path, data: &std::path::Path) -> StdioPeer {
    let (config, data) = (config.to_string_lossy(), data.to_string_lossy());
    StdioPeer::spawn(
        &switchboard_bin(),
        &["serve", "--stdio", "--config", &config, "--data-dir", &data, "--log-level", "warn"],
    )
}

/// The demonstration server over stdio, with extra flags.
pub fn demo(extra: &[&str]) -> StdioPeer {
    let mut args = vec!["serve", "--stdio", "--demo", "--log-level", "warn"];
    args.extend_from_slice(extra);
    StdioPeer::spawn(&switchboard_bin(), &args)
}
