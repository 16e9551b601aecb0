//! Reading a gateway config file: the binary reads the text and the process environment, and the
//! gateway parses them (it does no I/O of its own while parsing) and checks the command
//! allow-list against this machine.

use std::path::{Path, PathBuf};

use switchboard_gateway::{Config, ConfigError, Env};

/// Reads, interpolates (from this process's environment) and checks the config at `path`, with
/// the servers of the `mcpServers` file its `upstreams_from:` names.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let mut config = switchboard_gateway::check(&read(path)?, path, &environment())?;
    if let Some(file) = config.upstreams_from.clone() {
        let file = config.resolve(&file);
        config.add_upstreams_from(&read(&file)?, &file)?;
    }
    Ok(config)
}

/// The data directory: `flag` if given, else the config's `server.data_dir` (default `data`,
/// relative to the config file).
pub fn data_dir(config: &Config, flag: Option<&Path>) -> PathBuf {
    match flag {
        Some(dir) => dir.to_owned(),
        None => config.resolve(config.server.data_dir.as_deref().unwrap_or(Path::new("data"))),
    }
}

/// Reads an `mcpServers` JSON file as a config that serves those servers and nothing else.
pub fn load_mcp_servers(path: &Path) -> Result<Config, ConfigError> {
    Config::from_mcp_servers(&read(path)?, path)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })
}

/// The environment variables whose names and values are UTF-8 (no others can be named by
/// `${NAME}`).
fn environment() -> Env {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}
