//! Building a command's argv from its templates: one template, one argument (never split, never
//! given to a shell), option injection refused, `path` arguments confined to the working
//! directory.

use std::path::Path;

use serde_json::{Map, Value};

use crate::config::Scalar;
use crate::syntax::template::{Part, Template};

/// One argument template.
#[derive(Debug, Clone)]
pub(super) struct Arg {
    template: Template,
    /// Whether a literal `--` came before it: from there on, values may start with `-`.
    after_separator: bool,
}

/// Why an argument could not be built; the text is for the model.
#[derive(Debug, thiserror::Error)]
pub(super) enum ArgError {
    #[error("argument {param}: {value:?} starts with '-' and would be read as an option")]
    LooksLikeOption { param: String, value: String },
    #[error("argument {0} contains a NUL byte")]
    Nul(String),
    #[error("argument {param}: {path:?} {reason}")]
    Path { param: String, path: String, reason: String },
}

/// Parses the argument templates.
pub(super) fn compile(args: &[Scalar]) -> Vec<Arg> {
    let mut separated = false;
    args.iter()
        .map(|a| {
            let arg = Arg { template: Template::parse(&a.0), after_separator: separated };
            separated |= a.0 == "--";
            arg
        })
        .collect()
}

/// The argv (without the program): each template filled, or left out when a param it names was
/// not given. A value at the start of an argument before any `--` may not start with `-`.
pub(super) fn render(templates: &[Arg], args: &Map<String, Value>) -> Result<Vec<String>, ArgError> {
    let mut argv = Vec::with_capacity(templates.len());
    for arg in templates {
        let Some(text) = arg.template.render(args) else { continue };
        let leading = match arg.template.parts().first() {
            Some(Part::Param(name)) => Some(name),
            _ => None,
        };
        if let Some(param) = leading {
            if text.starts_with('-') && !arg.after_separator {
                return Err(ArgError::LooksLikeOption { param: param.clone(), value: text });
            }
        }
        if text.contains('\0') {
            let param = arg.template.params().next().unwrap_or("?").to_owned();
            return Err(ArgError::Nul(param));
        }
        argv.push(text);
    }
    Ok(argv)
}

/// Resolves a `path` argument inside `cwd` (canonical): `..`, absolute paths and symlinks may
/// not lead out. A path that does not exist yet (an output file) needs its parent inside `cwd`.
/// The result is relative to `cwd` (`.` for `cwd` itself), prefixed with `./` if it would start
/// with `-`.
pub(super) fn confine(param: &str, cwd: &Path, value: &str) -> Result<String, ArgError> {
    let fail = |reason: String| ArgError::Path { param: param.to_owned(), path: value.to_owned(), reason };
    if value.is_empty() {
        return Err(fail("is empty".into()));
    }
    if value.contains('\0') {
        return Err(ArgError::Nul(param.to_owned()));
    }
    let joined = cwd.join(value);
    let canonical = match std::fs::canonicalize(&joined) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling symlink would be followed by whoever writes to it.
            if std::fs::symlink_metadata(&joined).is_ok() {
                return Err(fail("is a symbolic link to nothing".into()));
            }
            let (Some(parent), Some(name)) = (joined.parent(), joined.file_name()) else {
                return Err(fail("does not name a file".into()));
            };
            let parent = std::fs::canonicalize(parent).map_err(|e| fail(format!("cannot be resolved: {e}")))?;
            parent.join(name)
        }
        Err(e) => return Err(fail(format!("cannot be resolved: {e}"))),
    };
    let relative = canonical.strip_prefix(cwd).map_err(|_| fail("is outside the tool's working directory".into()))?;
    let text = relative.to_str().ok_or_else(|| fail("is not UTF-8".into()))?;
    Ok(match text {
        "" => ".".to_owned(),
        t if t.starts_with('-') => format!("./{t}"),
        t => t.to_owned(),
    })
}
