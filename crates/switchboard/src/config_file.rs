//! Reading a gateway config file: the binary reads the text and the process environment, and the
//! gateway parses them (it does no I/O of its own while parsing) and checks the command
//! allow-list against this machine.

use std::path::Path;

use switchboard_gateway::{Config, ConfigError, Env};

/// Reads, interpolates (from this process's environment) and checks the config at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    switchboard_gateway::check(&text, path, &environment())
}

/// The environment variables whose names and values are UTF-8 (no others can be named by
/// `${NAME}`).
fn environment() -> Env {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}
