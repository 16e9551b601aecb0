//! Turns the target flags (or an `mcpServers` file entry) into a client [`Target`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use switchboard_mcp::client::{HttpTarget, RestartPolicy, StdioTarget, Target, WsTarget};

use super::args::TargetArgs;
use super::CliError;

/// One entry of an `mcpServers` file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerEntry {
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<String>,
    url: Option<String>,
    #[serde(rename = "type", alias = "transport")]
    kind: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServersFile {
    mcp_servers: BTreeMap<String, ServerEntry>,
}

/// Resolves the flags to a target.
pub(super) fn resolve(args: &TargetArgs) -> Result<Target, CliError> {
    let headers = args.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>, _>>()?;
    let env = args.env.iter().map(|e| parse_pair(e, "--env")).collect::<Result<Vec<_>, _>>()?;
    let restart = args.restart.then(RestartPolicy::default);
    if let Some(line) = &args.stdio {
        let mut target = StdioTarget::parse(line).map_err(|e| CliError::Usage(format!("--stdio: {e}")))?;
        target.env = env;
        target.restart = restart;
        return Ok(Target::Stdio(target));
    }
    if let Some(url) = &args.url {
        let mut target = HttpTarget::new(url.clone());
        target.headers = headers;
        return Ok(Target::Http(target));
    }
    if let Some(url) = &args.ws {
        let mut target = WsTarget::new(url.clone());
        target.headers = headers;
        return Ok(Target::WebSocket(target));
    }
    if let Some(path) = &args.config {
        let (name, entry) = load_entry(path, args.server.as_deref())?;
        return entry_target(&name, entry, headers, env, restart, path);
    }
    Err(CliError::Usage(
        "say which server: --stdio \"COMMAND\", --url URL, --ws URL or --config FILE --server NAME".into(),
    ))
}

fn load_entry(path: &Path, server: Option<&str>) -> Result<(String, ServerEntry), CliError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let mut file: ServersFile = serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{}: not an mcpServers file: {e}", path.display())))?;
    let names = file_names(&file);
    match server {
        Some(name) => match file.mcp_servers.remove(name) {
            Some(entry) => Ok((name.to_owned(), entry)),
            None => Err(CliError::Usage(format!("{} has no server {name:?}; it has: {names}", path.display()))),
        },
        None if file.mcp_servers.len() == 1 => {
            let (name, entry) = file.mcp_servers.into_iter().next().ok_or_else(|| CliError::Usage("empty".into()))?;
            Ok((name, entry))
        }
        None => {
            Err(CliError::Usage(format!("{} has several servers; pick one with --server ({names})", path.display())))
        }
    }
}

fn file_names(file: &ServersFile) -> String {
    file.mcp_servers.keys().cloned().collect::<Vec<_>>().join(", ")
}

fn entry_target(
    name: &str,
    entry: ServerEntry,
    mut headers: Vec<(String, String)>,
    mut env: Vec<(String, String)>,
    restart: Option<RestartPolicy>,
    file: &Path,
) -> Result<Target, CliError> {
    match (entry.command, entry.url) {
        (Some(command), None) => {
            let mut target = StdioTarget::new(command, entry.args);
            env.splice(0..0, entry.env);
            target.env = env;
            target.cwd = entry.cwd.map(|c| file.parent().unwrap_or(Path::new(".")).join(c));
            target.name = Some(name.to_owned());
            target.restart = restart;
            Ok(Target::Stdio(target))
        }
        (None, Some(url)) => {
            headers.splice(0..0, entry.headers);
            let ws = matches!(entry.kind.as_deref(), Some("ws" | "websocket")) || url.starts_with("ws");
            if ws {
                let mut target = WsTarget::new(url);
                target.headers = headers;
                Ok(Target::WebSocket(target))
            } else {
                let mut target = HttpTarget::new(url);
                target.headers = headers;
                target.name = Some(name.to_owned());
                Ok(Target::Http(target))
            }
        }
        _ => Err(CliError::Usage(format!("server {name:?} in {} needs either \"command\" or \"url\"", file.display()))),
    }
}

fn parse_header(h: &str) -> Result<(String, String), CliError> {
    let (name, value) =
        h.split_once(':').ok_or_else(|| CliError::Usage(format!("--header {h:?}: expected 'Name: value'")))?;
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

/// `KEY=VALUE`.
pub(super) fn parse_pair(s: &str, flag: &str) -> Result<(String, String), CliError> {
    let (k, v) = s.split_once('=').ok_or_else(|| CliError::Usage(format!("{flag} {s:?}: expected KEY=VALUE")))?;
    if k.is_empty() {
        return Err(CliError::Usage(format!("{flag} {s:?}: the key is empty")));
    }
    Ok((k.to_owned(), v.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcp_servers_files_resolve_to_targets() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("sb-mcpservers-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("mcp.json");
        std::fs::write(
            &file,
            r#"{"mcpServers": {
                "everything": {"command": "npx", "args": ["-y", "server-everything"], "env": {"A": "1"}},
                "remote": {"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer x"}}
            }}"#,
        )?;
        let (name, entry) = load_entry(&file, Some("everything")).map_err(|e| e.to_string())?;
        match entry_target(&name, entry, vec![], vec![], None, &file).map_err(|e| e.to_string())? {
            Target::Stdio(t) => {
                assert_eq!(t.command, "npx");
                assert_eq!(t.args, ["-y", "server-everything"]);
                assert_eq!(t.env, [("A".to_owned(), "1".to_owned())]);
            }
            other => panic!("expected stdio, got {other:?}"),
        }
        let (name, entry) = load_entry(&file, Some("remote")).map_err(|e| e.to_string())?;
        assert!(matches!(entry_target(&name, entry, vec![], vec![], None, &file), Ok(Target::Http(_))));
        let err = load_entry(&file, None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("everything, remote"), "{err}");
        Ok(())
    }
}
