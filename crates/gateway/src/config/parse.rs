//! From text to a checked [`Config`], with no I/O: the YAML is parsed as written (so a value from
//! the environment can never change the document's structure), then `${NAME}` and
//! `${NAME:-default}` are replaced inside string values only, then the typed shape is read and
//! checked. A value taken from the environment is never quoted in an error message.

use std::collections::HashMap;
use std::path::Path;

use serde_norway::Value;

use super::locate::locate;
use super::{redact, Config, ConfigError, Secret};

/// The environment `${NAME}` reads from (the binary passes `std::env::vars()`).
pub type Env = HashMap<String, String>;

impl Config {
    /// Parses config text: YAML (duplicate keys refused), `${NAME}` in string values from `env`,
    /// the typed shape (unknown keys refused), then the checks. `path` names the file in messages
    /// and is the base of relative paths; nothing is read from it.
    pub fn parse(text: &str, path: &Path, env: &Env) -> Result<Self, ConfigError> {
        let syntax = |line: usize, column: usize, message: String| ConfigError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message,
        };
        let mut document: Value = serde_norway::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            syntax(line, column, e.to_string())
        })?;
        if document.is_null() {
            // An empty file is an empty config.
            document = Value::Mapping(serde_norway::Mapping::new());
        }
        let mut substituted = Vec::new();
        let mut at = Vec::new();
        interpolate(&mut document, env, &mut at, &mut substituted).map_err(|missing| {
            let line = locate(text, &missing.at).map_or(0, |(line, _)| line);
            ConfigError::MissingEnv { path: path.to_owned(), line, at: missing.at.join("."), name: missing.name }
        })?;
        let mut config: Config = serde_path_to_error::deserialize(document).map_err(|e| {
            let keys = keys_of(e.path());
            let (line, column) = locate(text, &keys).unwrap_or((0, 0));
            let message = redact(e.inner().to_string(), &substituted);
            syntax(line, column, if keys.is_empty() { message } else { format!("{}: {message}", keys.join(".")) })
        })?;
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config.substituted = substituted;
        config.validate().map_err(|problem| ConfigError::invalid(text, path, &config.substituted, &problem))?;
        Ok(config)
    }
}

/// The map keys of a path into the document, up to its first sequence index (where `locate`,
/// which follows keys, has to stop).
fn keys_of(path: &serde_path_to_error::Path) -> Vec<String> {
    use serde_path_to_error::Segment;
    let mut keys = Vec::new();
    for segment in path.iter() {
        match segment {
            Segment::Map { key } | Segment::Enum { variant: key } => keys.push(key.clone()),
            Segment::Seq { .. } | Segment::Unknown => break,
        }
    }
    keys
}

/// A `${NAME}` whose variable is unset (and has no default), and where it is written.
struct Missing {
    at: Vec<String>,
    name: String,
}

/// Replaces `${...}` in every string value of `value` (keys are names and stay as written);
/// `at` is the key path of `value`, `substituted` collects what the environment gave.
fn interpolate(
    value: &mut Value,
    env: &Env,
    at: &mut Vec<String>,
    substituted: &mut Vec<Secret>,
) -> Result<(), Missing> {
    match value {
        Value::String(text) => {
            if let Some(expanded) = expand(text, env, substituted).map_err(|name| Missing { at: at.clone(), name })? {
                *text = expanded;
            }
        }
        Value::Sequence(items) => {
            for item in items {
                interpolate(item, env, at, substituted)?;
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                at.push(match key {
                    Value::String(k) => k.clone(),
                    other => serde_norway::to_string(other).unwrap_or_default().trim_end().to_owned(),
                });
                let done = interpolate(item, env, at, substituted);
                at.pop();
                done?;
            }
        }
        Value::Tagged(tagged) => interpolate(&mut tagged.value, env, at, substituted)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// `text` with `${NAME}` (or `${NAME:-default}`, used when NAME is unset or empty) replaced by
/// the variable's value and `$${` by a literal `${`; `None` when there is nothing to replace.
/// Fails with the name of an unset variable that has no default.
fn expand(text: &str, env: &Env, substituted: &mut Vec<Secret>) -> Result<Option<String>, String> {
    if !text.contains("${") {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if rest[..start].ends_with('$') {
            out.push_str(&rest[..start - 1]);
            out.push_str("${");
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let expr = &rest[start + 2..start + end];
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr, None),
        };
        match (env.get(name).filter(|v| !v.is_empty()), default) {
            (Some(v), _) => {
                out.push_str(v);
                substituted.push(Secret::from(v.as_str()));
            }
            (None, Some(d)) => out.push_str(d),
            (None, None) => return Err(name.to_owned()),
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(Some(out))
}
