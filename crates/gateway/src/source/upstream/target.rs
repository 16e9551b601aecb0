//! From an upstream's config to the SDK client's [`Target`].

use std::path::Path;

use std::sync::Arc;

use switchboard_mcp::client::{HttpAuth, HttpTarget, StdioTarget, Target, WsTarget};

use crate::config::{UpstreamKind, UpstreamSpec};

/// How `spec` is reached; `name` labels its logs and errors, relative `cwd`s are resolved
/// against `base_dir` (the config file's directory); `auth` supplies OAuth credentials to a
/// Streamable HTTP server.
pub fn target(name: &str, spec: &UpstreamSpec, base_dir: &Path, auth: Option<Arc<dyn HttpAuth>>) -> Target {
    let secrets = |map: &std::collections::BTreeMap<String, crate::config::Secret>| -> Vec<(String, String)> {
        map.iter().map(|(k, v)| (k.clone(), v.expose().to_owned())).collect()
    };
    match (&spec.command, &spec.url) {
        (Some(command), _) => {
            let cwd = spec.cwd.as_ref().map(|c| base_dir.join(c));
            // A relative program path (`.venv/bin/python`) means the same as in the editors'
            // files: relative to the server's working directory.
            let program = match &cwd {
                Some(dir) if command.contains('/') && Path::new(command).is_relative() => {
                    dir.join(command).to_string_lossy().into_owned()
                }
                _ => command.clone(),
            };
            let mut target = StdioTarget::new(program, spec.args.iter().cloned());
            target.env = secrets(&spec.env);
            target.cwd = cwd;
            target.name = Some(name.to_owned());
            Target::Stdio(target)
        }
        (None, url) => {
            let url = url.clone().unwrap_or_default();
            let ws = spec.kind == Some(UpstreamKind::Ws) || url.starts_with("ws://") || url.starts_with("wss://");
            if ws {
                let mut target = WsTarget::new(url);
                target.headers = secrets(&spec.headers);
                Target::WebSocket(target)
            } else {
                let mut target = HttpTarget::new(url);
                target.headers = secrets(&spec.headers);
                target.name = Some(name.to_owned());
                target.auth = auth;
                target.sse = spec.kind == Some(UpstreamKind::Sse);
                Target::Http(target)
            }
        }
    }
}
