//! Matching URIs against RFC 6570 URI templates (the subset resource templates use): simple
//! `{var}`, reserved `{+var}`, fragment `{#var}`, path `{/var}`, label `{.var}` and query
//! `{?a,b}`/`{&a}` expressions, with percent-decoding of captured values.
//!
//! A value captured by an expression that cannot contain `/` (everything but `{+var}` and
//! `{#var}`) is one path segment: a match whose value decodes to something with a `/` or a backslash
//! in it, or to `.` or `..`, is refused, so a server that maps a template onto files cannot be
//! walked out of its directory with `%2F` or `%2E%2E`. Malformed escapes refuse the match.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Expr { op: Option<char>, vars: Vec<String> },
}

/// A parsed URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    source: String,
    parts: Vec<Part>,
}

/// Why a template did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid URI template {template:?}: {reason}")]
pub struct TemplateError {
    template: String,
    reason: &'static str,
}

impl UriTemplate {
    /// Parses a template.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let err = |reason| TemplateError { template: template.to_owned(), reason };
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest.find('}').ok_or_else(|| err("unclosed {"))?;
                    let body = &rest[1..end];
                    let (op, names) = match body.chars().next() {
                        Some(c @ ('+' | '#' | '/' | '.' | '?' | '&' | ';')) => (Some(c), &body[1..]),
                        _ => (None, body),
                    };
                    let vars: Vec<String> = names
                        .split(',')
                        .map(|v| v.trim_end_matches('*').split(':').next().unwrap_or("").to_owned())
                        .collect();
                    if vars.iter().any(|v| {
                        v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
                    }) {
                        return Err(err("bad variable name"));
                    }
                    parts.push(Part::Expr { op, vars });
                    rest = &rest[end + 1..];
                }
                Some(i) => {
                    parts.push(Part::Literal(rest[..i].to_owned()));
                    rest = &rest[i..];
                }
                None => {
                    if rest.contains('}') {
                        return Err(err("unopened }"));
                    }
                    parts.push(Part::Literal(rest.to_owned()));
                    rest = "";
                }
            }
        }
        Ok(Self { source: template.to_owned(), parts })
    }

    /// The template text.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The variable names, in order.
    pub fn variables(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Expr { vars, .. } => Some(vars.iter().map(String::as_str)),
                Part::Literal(_) => None,
            })
            .flatten()
            .collect()
    }

    /// Matches `uri`, returning the variables' values, or `None` if it does not match.
    pub fn matches(&self, uri: &str) -> Option<BTreeMap<String, String>> {
        let mut vars = BTreeMap::new();
        let mut rest = uri;
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Literal(lit) => rest = rest.strip_prefix(lit.as_str())?,
                Part::Expr { op: Some('?' | '&'), vars: names } => {
                    let query = rest.strip_prefix(if rest.starts_with('?') { '?' } else { '&' }).unwrap_or(rest);
                    let (query, tail) = query.split_once('#').map_or((query, ""), |(q, f)| (q, f));
                    for pair in query.split('&').filter(|p| !p.is_empty()) {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                        if names.iter().any(|n| n == k) {
                            vars.insert(k.to_owned(), segment(v)?);
                        }
                    }
                    rest = tail;
                }
                Part::Expr { op, vars: names } => {
                    let prefix = match op {
                        Some('#') => Some('#'),
                        Some('/') => Some('/'),
                        Some('.') => Some('.'),
                        Some(';') => Some(';'),
                        _ => None,
                    };
                    if let Some(p) = prefix {
                        rest = rest.strip_prefix(p)?;
                    }
                    let reserved = matches!(op, Some('+' | '#'));
                    let stop = next_literal(&self.parts[i + 1..]);
                    let end = span(rest, reserved, stop.as_deref());
                    let captured = &rest[..end];
                    if captured.is_empty() {
                        return None;
                    }
                    let sep = match op {
                        Some('/') => '/',
                        Some('.') => '.',
                        _ => ',',
                    };
                    let mut values = captured.split(sep);
                    for name in names {
                        let value = values.next().unwrap_or("");
                        let value = if reserved { decode(value)? } else { segment(value)? };
                        vars.insert(name.clone(), value);
                    }
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(vars)
    }
}

fn next_literal(parts: &[Part]) -> Option<String> {
    match parts.first() {
        Some(Part::Literal(l)) => Some(l.clone()),
        Some(Part::Expr { op: Some(c), .. }) => Some(c.to_string()),
        _ => None,
    }
}

/// How many bytes of `s` one expression captures.
fn span(s: &str, reserved: bool, stop: Option<&str>) -> usize {
    let limit = match stop {
        Some(lit) if !lit.is_empty() => s.find(lit).unwrap_or(s.len()),
        _ => s.len(),
    };
    if reserved {
        return limit;
    }
    s[..limit].find(['/', '?', '#']).unwrap_or(limit)
}

/// A value that must stay one path segment once decoded.
fn segment(s: &str) -> Option<String> {
    let value = decode(s)?;
    (!value.contains(['/', '\\']) && value != "." && value != "..").then_some(value)
}

/// Percent-decodes `s`; `None` for a malformed escape (`%` not followed by two hex digits) or
/// bytes that are not UTF-8.
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            // `from_str_radix` alone would take "+1".
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::UriTemplate;

    fn check(template: &str, uri: &str, want: Option<&[(&str, &str)]>) {
        let t = UriTemplate::parse(template).expect("template parses");
        let got = t.matches(uri);
        let want = want.map(|w| w.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        assert_eq!(got, want, "{template} vs {uri}");
    }

    #[test]
    fn matches_templates() {
        check("test://template/{id}/data", "test://template/123/data", Some(&[("id", "123")]));
        check("test://template/{id}/data", "test://template/1/2/data", None);
        check("file:///{+path}", "file:///a/b/c.txt", Some(&[("path", "a/b/c.txt")]));
        check("orders://{id}", "orders://ORD-1%202", Some(&[("id", "ORD-1 2")]));
        check("search://items{?q,limit}", "search://items?q=shoe&limit=5", Some(&[("limit", "5"), ("q", "shoe")]));
        check("db://{source}/schema", "db://shop/schema", Some(&[("source", "shop")]));
        check("db://{source}/schema", "db://shop/other", None);
        check("x://{a}", "x://", None);
    }

    #[test]
    fn encoded_separators_never_leave_a_segment_and_bad_escapes_refuse_the_match() {
        check("file:///docs/{name}", "file:///docs/a%2F..%2F..%2Fetc%2Fpasswd", None);
        check("file:///docs/{name}", "file:///docs/%2E%2E", None);
        check("file:///docs/{name}", "file:///docs/..", None);
        check("file:///docs/{name}", "file:///docs/a%5Cb", None);
        check("file:///docs{/name}", "file:///docs/a%2Fb", None);
        check("file:///docs/{name}", "file:///docs/%+1", None);
        check("file:///docs/{name}", "file:///docs/%4", None);
        check("file:///docs/{name}", "file:///docs/%zz", None);
        // Reserved expansion may span segments (by design), and plain names still decode.
        check("file:///{+path}", "file:///a%2Fb", Some(&[("path", "a/b")]));
        check("file:///docs/{name}", "file:///docs/read%20me.txt", Some(&[("name", "read me.txt")]));
    }

    #[test]
    fn query_values_are_one_segment_too() {
        // Found by fuzzing (fuzz/, target uri_template): `{?var}` values were only percent-decoded,
        // so `%2F..%2F` reached a handler that maps the value onto files.
        check("search://items{?q,limit}", "search://items?q=shoesearch:/", None);
        check("file:///docs{?name}", "file:///docs?name=..%2F..%2Fetc%2Fpasswd", None);
        check("file:///docs{?name}", "file:///docs?name=%2E%2E", None);
        check("file:///docs{?name}", "file:///docs?name=a%5Cb", None);
        check(
            "search://items{?q,limit}",
            "search://items?q=red%20shoe&limit=5",
            Some(&[("limit", "5"), ("q", "red shoe")]),
        );
    }
}
