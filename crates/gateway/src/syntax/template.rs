//! `{param}` templates, shared by HTTP tools (path, query, headers, body) and command tools
//! (arguments). A placeholder is `{` + an identifier + `}`; every other brace is literal text, so
//! JSON inside a string stays as written.
//!
//! One rule for absent values: a template that names a parameter the call did not give (and that
//! has no default) renders to nothing, and whatever holds it (a query pair, a header, a body
//! member, an argument) is left out.

use serde_json::{Map, Value};

/// A string with `{param}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

/// A piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Literal text.
    Text(String),
    /// The value of a parameter.
    Param(String),
}

impl Template {
    /// Parses `text`; anything that is not `{identifier}` is literal.
    pub(crate) fn parse(text: &str) -> Self {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            match after.find('}').map(|close| &after[..close]).filter(|name| is_identifier(name)) {
                Some(name) => {
                    literal.push_str(&rest[..open]);
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Param(name.to_owned()));
                    rest = &after[name.len() + 1..];
                }
                None => {
                    literal.push_str(&rest[..=open]);
                    rest = after;
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Self { parts }
    }

    /// The pieces, in order.
    pub(crate) fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The parameters it names, in order (with repeats).
    pub(crate) fn params(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Param(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The parameter, when the template is exactly one placeholder (`"{count}"`).
    pub(crate) fn whole_param(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Param(name)] => Some(name),
            _ => None,
        }
    }

    /// The text with every placeholder filled (see [`text_of`]), or `None` when an argument is
    /// absent or null.
    pub(crate) fn render(&self, args: &Map<String, Value>) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Param(name) => out.push_str(&text_of(present(args, name)?)),
            }
        }
        Some(out)
    }
}

/// The argument `name`, unless absent or null.
pub(crate) fn present<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    args.get(name).filter(|v| !v.is_null())
}

/// A value as text: strings as they are, everything else as JSON (`3`, `true`).
pub(crate) fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The parameters a JSON body template names (in strings, at any depth).
pub(crate) fn json_params(template: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk_strings(template, &mut |s| out.extend(Template::parse(s).params().map(str::to_owned)));
    out
}

fn walk_strings(v: &Value, f: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|i| walk_strings(i, f)),
        Value::Object(map) => map.values().for_each(|i| walk_strings(i, f)),
        _ => {}
    }
}

/// Renders a JSON body template. A string that is exactly `"{param}"` becomes the argument with
/// its JSON type (a number stays a number, an object stays an object); other strings are filled
/// as text. Members and items whose placeholders have no value are left out; `None` means the
/// whole body is.
pub(crate) fn render_json(template: &Value, args: &Map<String, Value>) -> Option<Value> {
    match template {
        Value::String(s) => {
            let t = Template::parse(s);
            match t.whole_param() {
                Some(name) => present(args, name).cloned(),
                None => t.render(args).map(Value::String),
            }
        }
        Value::Array(items) => Some(Value::Array(items.iter().filter_map(|i| render_json(i, args)).collect())),
        Value::Object(map) => {
            Some(Value::Object(map.iter().filter_map(|(k, v)| Some((k.clone(), render_json(v, args)?))).collect()))
        }
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn placeholders_are_identifiers_in_braces_and_everything_else_is_literal() {
        let t = Template::parse("/a/{id}/{x y}/{}/{{n}}/{_b2}.json");
        assert_eq!(t.params().collect::<Vec<_>>(), vec!["id", "n", "_b2"]);
        let a = args(json!({"id": 7, "n": "N", "_b2": true}));
        assert_eq!(t.render(&a).as_deref(), Some("/a/7/{x y}/{}/{N}/true.json"));
        assert_eq!(Template::parse("{count}").whole_param(), Some("count"));
        assert_eq!(Template::parse("-n{count}").whole_param(), None);
        assert_eq!(Template::parse(r#"{"a": 1}"#).params().count(), 0);
    }

    #[test]
    fn absent_or_null_values_render_to_nothing() {
        let t = Template::parse("x={v}");
        assert_eq!(t.render(&args(json!({}))), None);
        assert_eq!(t.render(&args(json!({"v": null}))), None);
        assert_eq!(t.render(&args(json!({"v": ""}))).as_deref(), Some("x="));
    }

    #[test]
    fn json_bodies_keep_types_and_leave_out_absent_members() {
        let body = json!({"id": "{id}", "qty": "{qty}", "note": "for {who}", "tags": ["{tag}", "fixed"], "n": 1});
        let a = args(json!({"id": "A-1", "qty": 3, "tag": {"k": [1]}}));
        assert_eq!(render_json(&body, &a), Some(json!({"id": "A-1", "qty": 3, "tags": [{"k": [1]}, "fixed"], "n": 1})));
        assert_eq!(render_json(&json!("{all}"), &args(json!({}))), None);
        let mut params = json_params(&body);
        params.sort();
        assert_eq!(params, vec!["id", "qty", "tag", "who"]);
    }
}
