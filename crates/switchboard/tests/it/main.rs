//! Integration tests: they start the real binaries and check every message on the wire against
//! the official schemas (through `switchboard_testkit`).
mod bad_input;
mod bench;
mod client;
mod client_transports;
mod command_tools;
mod conformance;
mod guardrails;
mod http;
mod http_tools;
mod interop;
mod interop_http;
mod legacy;
mod modern;
mod observability;
mod readme;
mod shop;
mod sql_limits;
mod tasks;
mod tidy;

use std::path::PathBuf;

use switchboard_testkit::peer::StdioPeer;

/// The `switchboard` binary under test.
pub fn switchboard_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_switchboard"))
}

/// The demonstration server over stdio, with extra flags.
pub fn demo(extra: &[&str]) -> StdioPeer {
    let mut args = vec!["serve", "--stdio", "--demo", "--log-level", "warn"];
    args.extend_from_slice(extra);
    StdioPeer::spawn(&switchboard_bin(), &args)
}
