//! Command tools in the config: the `commands:` allow-list (which programs may run, under which
//! directories) and each tool's `command:` section (program, argv template, cwd, env, limits).
//!
//! Allow-list semantics: `commands.allow` lists programs by path (absolute, or relative to the
//! config file), each checked to be an executable file when the config loads. A tool's `program`
//! is one of those paths, or the file name of exactly one of them (`git` for `/usr/bin/git`).
//! Nothing is ever looked up in `PATH`, and a program not on the list fails the config check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Config, Problem, Scalar, Secret, Tool};
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

/// A command tool's program and working directory, resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedCommand {
    /// The allow-listed program (absolute).
    pub(crate) program: PathBuf,
    /// The working directory (canonical).
    pub(crate) cwd: PathBuf,
}

impl Config {
    /// The config file's directory, usable as a path even when the file was given bare.
    fn dir(&self) -> &Path {
        if self.base_dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &self.base_dir
        }
    }

    /// The allow-list, as absolute paths, each checked to be an executable file.
    fn allowed_programs(&self) -> Result<Vec<PathBuf>, Problem> {
        let mut out = Vec::new();
        for entry in &self.commands.allow {
            let at = |message: String| Problem::new(&["commands", "allow"], message);
            let path =
                std::path::absolute(self.dir().join(entry)).map_err(|e| at(format!("{}: {e}", entry.display())))?;
            let meta = std::fs::metadata(&path).map_err(|e| at(format!("{}: {e}", path.display())))?;
            if !meta.is_file() || !is_executable(&meta) {
                return Err(at(format!("{} is not an executable file", path.display())));
            }
            out.push(path);
        }
        Ok(out)
    }

    /// The directories a cwd may be in, canonical.
    fn allowed_roots(&self) -> Result<Vec<PathBuf>, Problem> {
        let roots: Vec<PathBuf> = if self.commands.allowed_roots.is_empty() {
            vec![self.dir().to_owned()]
        } else {
            self.commands.allowed_roots.iter().map(|r| self.dir().join(r)).collect()
        };
        roots
            .iter()
            .map(|r| {
                std::fs::canonicalize(r)
                    .map_err(|e| Problem::new(&["commands", "allowed_roots"], format!("{}: {e}", r.display())))
            })
            .collect()
    }

    /// Finds a command tool's program in the allow-list and confines its cwd.
    pub(crate) fn resolve_command(&self, name: &str, command: &CommandTool) -> Result<ResolvedCommand, Problem> {
        let at = |key: &str, message: String| Problem::new(&["tools", name, "command", key], message);
        let allowed = self.allowed_programs()?;
        let listed = || {
            let names: Vec<String> = allowed.iter().map(|p| p.display().to_string()).collect();
            if names.is_empty() {
                "commands.allow is empty".to_owned()
            } else {
                format!("allowed: {}", names.join(", "))
            }
        };
        let wanted = &command.program;
        let program = if wanted.contains('/') {
            let path = std::path::absolute(self.dir().join(wanted)).map_err(|e| at("program", e.to_string()))?;
            allowed.iter().find(|p| **p == path).cloned()
        } else {
            let mut matches = allowed.iter().filter(|p| p.file_name().is_some_and(|n| n == wanted.as_str()));
            match (matches.next(), matches.next()) {
                (Some(_), Some(_)) => {
                    return Err(at(
                        "program",
                        format!("{wanted:?} names several commands.allow entries; give the path"),
                    ))
                }
                (one, None) => one.cloned(),
                (None, Some(_)) => None,
            }
        };
        let Some(program) = program else {
            return Err(at("program", format!("{wanted:?} is not in commands.allow ({})", listed())));
        };
        let roots = self.allowed_roots()?;
        let given = command.cwd.as_deref().unwrap_or(Path::new("."));
        let cwd = std::fs::canonicalize(self.dir().join(given))
            .map_err(|e| at("cwd", format!("{}: {e}", given.display())))?;
        if !cwd.is_dir() {
            return Err(at("cwd", format!("{} is not a directory", cwd.display())));
        }
        if !roots.iter().any(|r| cwd.starts_with(r)) {
            let roots: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
            return Err(at(
                "cwd",
                format!(
                    "{} is outside the allowed roots ({}); see commands.allowed_roots",
                    cwd.display(),
                    roots.join(", ")
                ),
            ));
        }
        Ok(ResolvedCommand { program, cwd })
    }
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    true
}

/// Checks the `commands:` section.
pub(super) fn check_section(config: &Config) -> Result<(), Problem> {
    config.allowed_programs()?;
    if !config.commands.allowed_roots.is_empty() {
        config.allowed_roots()?;
    }
    Ok(())
}

/// Checks a command tool: no source, a listed program, a confined cwd, declared params.
pub(super) fn check_tool(config: &Config, name: &str, tool: &Tool, command: &CommandTool) -> Result<(), Problem> {
    let at = |key: &str, message: String| Problem::new(&["tools", name, "command", key], message);
    if tool.source.is_some() {
        return Err(Problem::new(&["tools", name, "source"], "a command tool takes no source".into()));
    }
    config.resolve_command(name, command)?;
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
