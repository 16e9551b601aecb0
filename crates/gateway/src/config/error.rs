//! Why a config could not be used: [`ConfigError`], located at the file, line and column, and
//! `Problem`, a check's failure at a key path (located in the text afterwards).

use std::path::{Path, PathBuf};

use super::locate::locate;
use super::Secret;

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or does not match the expected shape. The message never holds a
    /// value that came from the environment.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What was expected.
        message: String,
    },
    /// `${NAME}` names an unset environment variable.
    #[error("{path}:{line}: {at}: environment variable {name} is not set")]
    MissingEnv {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// The key path of the value that names it.
        at: String,
        /// The variable.
        name: String,
    },
    /// The config parses but does not make sense (a tool names an unknown source, ...). The
    /// message never holds a value that came from the environment.
    #[error("{path}{}: {message}", at(.line, .column))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key (0 when unknown).
        line: usize,
        /// 1-based column of the offending key (0 when unknown).
        column: usize,
        /// What is wrong, starting with the key path (`tools.get_order.http.path: ...`).
        message: String,
    },
}

fn at(line: &usize, column: &usize) -> String {
    if *line == 0 {
        String::new()
    } else {
        format!(":{line}:{column}")
    }
}

/// A validation failure: the key path it is about and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) at: Vec<String>,
    pub(crate) message: String,
}

impl Problem {
    /// A problem at the key path `at` (`["tools", name, "http", "path"]`).
    pub(crate) fn new(at: &[&str], message: String) -> Self {
        Self { at: at.iter().map(|s| (*s).to_owned()).collect(), message }
    }

    /// The same problem, with its key path below `prefix`.
    pub(crate) fn under(mut self, prefix: &[&str]) -> Self {
        self.at.splice(0..0, prefix.iter().map(|s| (*s).to_owned()));
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at.join("."), self.message)
    }
}

impl ConfigError {
    /// `problem`, located in `text` (the file as written, whose lines are the ones people see),
    /// with every value that came from the environment (`substituted`) replaced by `***`.
    pub(crate) fn invalid(text: &str, path: &Path, substituted: &[Secret], problem: &Problem) -> Self {
        let (line, column) = locate(text, &problem.at).unwrap_or((0, 0));
        ConfigError::Invalid { path: path.to_owned(), line, column, message: redact(problem.to_string(), substituted) }
    }
}

/// `message` with every non-empty value of `substituted` replaced by `***`: as written, and as
/// quoted by `{:?}` (ours and serde's messages) or JSON, whose escapes (quotes, backslashes, line
/// breaks) would otherwise let a value through.
pub(crate) fn redact(mut message: String, substituted: &[Secret]) -> String {
    for secret in substituted {
        let value = secret.expose();
        if value.is_empty() {
            continue;
        }
        let debug = format!("{value:?}");
        let json = serde_json::to_string(value).unwrap_or_default();
        let unquoted = |q: &str| q.get(1..q.len().saturating_sub(1)).unwrap_or_default().to_owned();
        for form in [unquoted(&debug), unquoted(&json), value.to_owned()] {
            if !form.is_empty() && message.contains(&form) {
                message = message.replace(&form, "***");
            }
        }
    }
    message
}
