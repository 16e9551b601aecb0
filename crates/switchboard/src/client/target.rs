//! Turns the target flags (or an `mcpServers` file entry) into a client [`Target`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchboard_gateway::config::{OAuthGrant, UpstreamOAuth, UpstreamSpec};
use switchboard_gateway::source::upstream::auth;
use switchboard_mcp::client::{HttpAuth, HttpTarget, RestartPolicy, StdioTarget, Target, WsTarget};

use super::args::{OAuthArgs, TargetArgs};
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
        if args.oauth.any() {
            target.auth = Some(oauth(url, None, &args.oauth, Path::new("."))?);
        }
        return Ok(Target::Http(target));
    }
    if let Some(url) = &args.ws {
        let mut target = WsTarget::new(url.clone());
        target.headers = headers;
        return Ok(Target::WebSocket(target));
    }
    if let Some(path) = &args.config {
        let (name, entry) = load_entry(path, args.server.as_deref())?;
        let base = path.parent().unwrap_or(Path::new("."));
        let auth = match (&entry.url, entry.oauth.is_some() || args.oauth.any()) {
            (Some(url), true) => Some(oauth(url, entry.oauth.as_ref(), &args.oauth, base)?),
            _ => None,
        };
        return entry_target(&name, entry, headers, env, restart, path, auth);
    }
    Err(CliError::Usage(
        "say which server: --stdio \"COMMAND\", --url URL, --ws URL or --config FILE --server NAME".into(),
    ))
}

/// The OAuth client for `url`: the entry's `oauth:` settings with the flags over them; the
/// browser is this terminal's.
fn oauth(
    url: &str,
    entry: Option<&UpstreamOAuth>,
    flags: &OAuthArgs,
    base: &Path,
) -> Result<Arc<dyn HttpAuth>, CliError> {
    let mut settings = entry.cloned().unwrap_or_default();
    if let Some(id) = &flags.oauth_client_id {
        settings.client_id = Some(id.clone());
    }
    if let Some(secret) = &flags.oauth_client_secret {
        settings.client_secret = Some(secret.as_str().into());
    }
    if let Some(grant) = &flags.oauth_grant {
        settings.grant =
            if grant == "client_credentials" { OAuthGrant::ClientCredentials } else { OAuthGrant::AuthorizationCode };
    }
    settings.scopes.extend(flags.oauth_scopes.iter().cloned());
    if let Some(port) = flags.oauth_port {
        settings.callback_port = Some(port);
    }
    if settings.grant == OAuthGrant::ClientCredentials && settings.client_id.is_none() {
        return Err(CliError::Usage("--oauth-grant client_credentials needs --oauth-client-id and a secret".into()));
    }
    let path = match &flags.oauth_credentials {
        Some(file) => file.clone(),
        None => auth::credentials_path(&settings, base, &user_data_dir()),
    };
    let store = auth::CredentialFiles::default().open(&path).map_err(|e| CliError::Usage(e.to_string()))?;
    let browser = Arc::new(auth::browser(&settings, !flags.no_browser));
    let oauth = auth::oauth(url, &settings, store, browser).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(Arc::new(oauth))
}

/// `$XDG_DATA_HOME/switchboard`, else `~/.local/share/switchboard`.
fn user_data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")).join(".local/share")
    });
    base.join("switchboard")
}

fn load_entry(path: &Path, server: Option<&str>) -> Result<(String, UpstreamSpec), CliError> {
    let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    let mut servers = if yaml {
        crate::config_file::load(path).map_err(|e| CliError::Usage(e.to_string()))?.upstreams
    } else {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
        switchboard_gateway::config::parse_mcp_servers(&text, path).map_err(|e| CliError::Usage(e.to_string()))?
    };
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
    auth: Option<Arc<dyn HttpAuth>>,
) -> Result<Target, CliError> {
    let base = file.parent().unwrap_or(Path::new("."));
    Ok(match switchboard_gateway::source::upstream::target(name, &entry, base, auth) {
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
        match entry_target(&name, entry, vec![], vec![], None, &file, None).map_err(|e| e.to_string())? {
            Target::Stdio(t) => {
                assert_eq!(t.command, "npx");
                assert_eq!(t.args, ["-y", "server-everything"]);
                assert_eq!(t.env, [("A".to_owned(), "1".to_owned())]);
            }
            other => panic!("expected stdio, got {other:?}"),
        }
        let (name, entry) = load_entry(&file, Some("remote")).map_err(|e| e.to_string())?;
        assert!(matches!(entry_target(&name, entry, vec![], vec![], None, &file, None), Ok(Target::Http(_))));
        let err = load_entry(&file, None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("everything, remote"), "{err}");
        Ok(())
    }
}
