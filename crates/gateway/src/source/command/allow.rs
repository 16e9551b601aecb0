//! The command allow-list, checked against this machine: each `commands.allow` entry must be an
//! executable file, each tool's `program` one of them (by path or file name, never through
//! `PATH`), and each tool's `cwd` an existing directory inside `commands.allowed_roots`.

use std::path::{Path, PathBuf};

use crate::config::{CommandTool, Config, Problem, ToolKind};

/// A command tool's program and working directory, resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedCommand {
    /// The allow-listed program (absolute).
    pub(crate) program: PathBuf,
    /// The working directory (canonical).
    pub(crate) cwd: PathBuf,
}

/// The config file's directory, usable as a path even when the file was given bare.
fn dir(config: &Config) -> &Path {
    if config.base_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &config.base_dir
    }
}

/// The allow-list, as absolute paths, each checked to be an executable file.
fn allowed_programs(config: &Config) -> Result<Vec<PathBuf>, Problem> {
    let mut out = Vec::new();
    for entry in &config.commands.allow {
        let at = |message: String| Problem::new(&["commands", "allow"], message);
        let path = std::path::absolute(dir(config).join(entry)).map_err(|e| at(format!("{}: {e}", entry.display())))?;
        let meta = std::fs::metadata(&path).map_err(|e| at(format!("{}: {e}", path.display())))?;
        if !meta.is_file() || !is_executable(&meta) {
            return Err(at(format!("{} is not an executable file", path.display())));
        }
        out.push(path);
    }
    Ok(out)
}

/// The directories a cwd may be in, canonical.
fn allowed_roots(config: &Config) -> Result<Vec<PathBuf>, Problem> {
    let roots: Vec<PathBuf> = if config.commands.allowed_roots.is_empty() {
        vec![dir(config).to_owned()]
    } else {
        config.commands.allowed_roots.iter().map(|r| dir(config).join(r)).collect()
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
pub(crate) fn resolve(config: &Config, name: &str, command: &CommandTool) -> Result<ResolvedCommand, Problem> {
    let at = |key: &str, message: String| Problem::new(&["tools", name, "command", key], message);
    let allowed = allowed_programs(config)?;
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
        let path = std::path::absolute(dir(config).join(wanted)).map_err(|e| at("program", e.to_string()))?;
        allowed.iter().find(|p| **p == path).cloned()
    } else {
        let mut matches = allowed.iter().filter(|p| p.file_name().is_some_and(|n| n == wanted.as_str()));
        match (matches.next(), matches.next()) {
            (Some(_), Some(_)) => {
                return Err(at("program", format!("{wanted:?} names several commands.allow entries; give the path")))
            }
            (one, None) => one.cloned(),
            (None, Some(_)) => None,
        }
    };
    let Some(program) = program else {
        return Err(at("program", format!("{wanted:?} is not in commands.allow ({})", listed())));
    };
    let roots = allowed_roots(config)?;
    let given = command.cwd.as_deref().unwrap_or(Path::new("."));
    let cwd =
        std::fs::canonicalize(dir(config).join(given)).map_err(|e| at("cwd", format!("{}: {e}", given.display())))?;
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

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    true
}

/// Checks the `commands:` section and every command tool's program and cwd against this
/// machine.
pub(crate) fn check(config: &Config) -> Result<(), Problem> {
    allowed_programs(config)?;
    if !config.commands.allowed_roots.is_empty() {
        allowed_roots(config)?;
    }
    for (name, tool) in config.tools.iter() {
        if let Ok(ToolKind::Command(command)) = tool.kind() {
            resolve(config, name, command)?;
        }
    }
    Ok(())
}
