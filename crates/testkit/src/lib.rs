//! Test support shared by every integration test:
//!
//! - [`schema::SchemaValidator`] checks a wire message against the official JSON Schema of the
//!   revision it speaks, picking the definition by method (requests, notifications) or by the
//!   method it answers (results; `InputRequiredResult` when input is required).
//! - [`peer::StdioPeer`] runs a real server process and routes every message it emits through
//!   the validator, so no integration test can see traffic that was not checked.
//! - [`http::HttpPeer`] does the same over HTTP, for JSON and SSE answers alike.
//! - [`wire_log`] validates a recorded wire log (for traffic between a server and a peer we did
//!   not write, recorded with `--wire-log`).

pub mod http;
pub mod peer;
pub mod process;
pub mod schema;
pub mod wire_log;

use std::path::PathBuf;

/// The `shared/` folder beside the checkout (or `$SWITCHBOARD_SHARED`).
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SWITCHBOARD_SHARED") {
        return PathBuf::from(dir);
    }
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("shared");
        if candidate.join("mcp-schema").is_dir() {
            return candidate;
        }
        assert!(dir.pop(), "no shared/mcp-schema above the checkout; set SWITCHBOARD_SHARED");
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.pop();
    dir.pop();
    dir
}
