//! Turns the target flags (or an `mcpServers` file entry) into a client [`Target`].

use std::path::Path;

use switchboard_gateway::config::UpstreamSpec;
use switchboard_mcp::client::{HttpTarget, RestartPolicy, StdioTarget, Target, WsTarget};

use super::args::TargetArgs;
use super::CliError;

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

fn load_entry(path: &Path, server: Option<&str>) -> Result<(String, UpstreamSpec), CliError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let mut servers =
        switchboard_gateway::config::parse_mcp_servers(&text, path).map_err(|e| CliError::Usage(e.to_string()))?;
    let names = servers.keys().cloned().collect::<Vec<_>>().join(", ");
    match server {
        Some(name) => match servers.shift_remove(name) {
            Some(entry) => Ok((name.to_owned(), entry)),
            None => Err(CliError::Usage(format!("{} has no server {name:?}; it has: {names}", path.display()))),
        },
        None if servers.len() == 1 => servers.pop().ok_or_else(|| CliError::Usage("empty".into())),
        None => {
            Err(CliError::Usage(format!("{} has several servers; pick one with --server ({names})", path.display())))
        }
    }
}

/// The entry's target (the gateway's reading of it: one meaning for both), with the flags'
/// headers, environment and restart policy added.
fn entry_target(
    name: &str,
    entry: UpstreamSpec,
    headers: Vec<(String, String)>,
    env: Vec<(String, String)>,
    restart: Option<RestartPolicy>,
    file: &Path,
) -> Result<Target, CliError> {
    let base = file.parent().unwrap_or(Path::new("."));
    Ok(match switchboard_gateway::source::upstream::target(name, &entry, base) {
        Target::Stdio(mut t) => {
            t.env.extend(env);
            t.restart = restart;
            Target::Stdio(t)
        }
        Target::Http(mut t) => {
            t.headers.extend(headers);
            Target::Http(t)
        }
        Target::WebSocket(mut t) => {
            t.headers.extend(headers);
            Target::WebSocket(t)
        }
        other => other,
    })
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
