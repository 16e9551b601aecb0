//! Entry points for the fuzz targets in `fuzz/` (not a stable API): the crate-private small
//! languages of [`crate::syntax`] — SQL `:name` placeholders, `LIKE` escaping and `{param}`
//! templates — behind plain public functions.

use std::ops::Range;

use crate::syntax::{like, placeholders, template};

/// Every `:name` placeholder of `sql` outside quotes and comments, with its byte range.
pub fn sql_placeholders(sql: &str) -> Vec<(String, Range<usize>)> {
    placeholders::scan(sql)
}

/// The distinct placeholder names of `sql`, in order of first use.
pub fn sql_placeholder_names(sql: &str) -> Vec<String> {
    placeholders::placeholders(sql)
}

/// `value` escaped to match itself inside a `LIKE` pattern (escape character `!`).
pub fn like_escape(value: &str) -> String {
    like::escape(value)
}

/// `sql` with ` ESCAPE '!'` after each `LIKE` operand that uses a placeholder `is_like` accepts.
pub fn add_like_escape_clauses(sql: &str, is_like: impl Fn(&str) -> bool) -> String {
    like::add_escape_clauses(sql, is_like)
}

/// The parameters a `{param}` template names, in order (with repeats).
pub fn template_params(text: &str) -> Vec<String> {
    template::Template::parse(text).params().map(str::to_owned).collect()
}

/// A `{param}` template rendered with `args` (`None` when an argument is absent or null).
pub fn template_render(text: &str, args: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    template::Template::parse(text).render(args)
}
