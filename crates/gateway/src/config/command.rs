//! Command tools in the config: the `commands:` allow-list (which programs may run, under which
//! directories) and each tool's `command:` section (program, argv template, cwd, env, limits).
//!
//! Allow-list semantics: `commands.allow` lists programs by path (absolute, or relative to the
//! config file), each checked to be an executable file when the config loads. A tool's `program`
//! is one of those paths, or the file name of exactly one of them (`git` for `/usr/bin/git`).
//! Nothing is ever looked up in `PATH`, and a program not on the list fails the config check.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Problem, Scalar, Secret, Tool};
use crate::syntax::template::Template;

/// How long a command may run when its tool does not say (30 s).
pub const DEFAULT_COMMAND_TIMEOUT_MS: u64 = 30_000;
/// Bytes kept of stdout, and of stderr, when the tool does not say (64 KiB each).
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 64 * 1024;

/// The `commands:` section: which programs command tools may run, and where.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandsSection {
    /// The programs command tools may run, by path (absolute, or relative to the config file).
    /// A tool names one by that path or by its file name (`git` for `/usr/bin/git`); `PATH` is
    /// never searched.
    #[serde(default)]
    pub allow: Vec<PathBuf>,
    /// The directories a command tool's `cwd` may be in (relative to the config file). Default:
    /// the config file's directory.
    #[serde(default)]
    pub allowed_roots: Vec<PathBuf>,
}

/// The `command:` section of a tool: one allow-listed program, run with an argument list and
/// never through a shell.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandTool {
    /// The program: an entry of `commands.allow`, by its path or its file name.
    pub program: String,
    /// The arguments. Each becomes exactly one argv element, with `{param}` placeholders filled;
    /// an argument whose param was not given is left out. A value standing alone as an
    /// argument before any `--` may not start with `-` (it would be read as an option); `path`
    /// params must resolve inside `cwd`.
    #[serde(default)]
    pub args: Vec<Scalar>,
    /// The working directory, relative to the config file (default: the config file's
    /// directory). It must exist inside `commands.allowed_roots`.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// The command's environment: only these variables and `PATH` (the server's, unless set
    /// here). Values are treated as secrets.
    #[serde(default)]
    pub env: BTreeMap<String, Secret>,
    /// Milliseconds the command may run before its whole process group is killed. Default 30000.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Bytes kept of stdout and of stderr (each); the rest is read and dropped. Default 65536.
    #[serde(default)]
    pub max_output_bytes: Option<u64>,
}

/// Checks a command tool: no source, declared params, valid env names, limits. (Whether its
/// program is on the allow-list and its cwd inside the allowed roots is a question for the
/// filesystem, which the command source asks.)
pub(super) fn check_tool(name: &str, tool: &Tool, command: &CommandTool) -> Result<(), Problem> {
    let at = |key: &str, message: String| Problem::new(&["tools", name, "command", key], message);
    if tool.source.is_some() {
        return Err(Problem::new(&["tools", name, "source"], "a command tool takes no source".into()));
    }
    for arg in &command.args {
        for param in Template::parse(&arg.0).params() {
            if tool.params.get(param).is_none() {
                return Err(at("args", format!("uses {{{param}}}, which is not a declared param")));
            }
        }
    }
    for key in command.env.keys() {
        if key.is_empty() || key.contains(['=', '\0']) {
            return Err(at("env", format!("{key:?} is not a valid variable name")));
        }
        if command.env.get(key).is_some_and(|v| v.expose().contains('\0')) {
            return Err(at("env", format!("the value of {key} contains a NUL byte")));
        }
    }
    if command.timeout_ms == Some(0) {
        return Err(at("timeout_ms", "must be at least 1".into()));
    }
    if command.max_output_bytes == Some(0) {
        return Err(at("max_output_bytes", "must be at least 1".into()));
    }
    Ok(())
}
