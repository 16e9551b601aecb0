//! Log setup: human-readable or JSON lines on stderr (stdout belongs to the protocol on stdio).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` is a filter directive such as `info` or
/// `switchboard=debug`; `SWITCHBOARD_LOG` overrides it.
pub fn init(level: &str, json: bool) {
    let filter = EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false);
    let result = if json { builder.json().try_init() } else { builder.try_init() };
    // A second init (tests) is harmless.
    let _ = result;
}
