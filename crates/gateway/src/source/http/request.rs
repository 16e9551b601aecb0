//! Filling an HTTP tool's request from validated arguments: the URL (path values
//! percent-encoded as one segment piece each, query pairs form-encoded), headers and the JSON body.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::Url;
use serde_json::{Map, Value};

use super::CallError;
use crate::syntax::template::{present, render_json, text_of, Part, Template};

/// What a path value keeps as is: RFC 3986 unreserved characters. Everything else (`/`, `?`, `#`,
/// `%`, `\`, spaces, non-ASCII) is percent-encoded, so a value stays inside its segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The request URL: `base`'s path, then the filled path template, then the query pairs whose
/// params were given.
pub(super) fn url(
    base: &Url,
    path: &Template,
    query: &[(String, Template)],
    args: &Map<String, Value>,
) -> Result<Url, CallError> {
    let mut rendered = base.path().trim_end_matches('/').to_owned();
    for part in path.parts() {
        match part {
            Part::Text(text) => rendered.push_str(text),
            Part::Param(name) => {
                let bad = |reason: &str| CallError::Argument { param: name.clone(), reason: reason.to_owned() };
                let value = present(args, name).map(text_of).ok_or_else(|| bad("is needed for the URL path"))?;
                if value.is_empty() {
                    return Err(bad("cannot be empty: it is part of the URL path"));
                }
                if value == "." || value == ".." {
                    return Err(bad("cannot be . or .. (it is part of the URL path)"));
                }
                rendered.extend(utf8_percent_encode(&value, SEGMENT));
            }
        }
    }
    let mut url = base.clone();
    url.set_path(&rendered);
    // Encoding keeps values inside their segment; this catches anything the URL parser would
    // still normalize (a dot segment), so no value can move the request elsewhere.
    if url.path() != rendered {
        return Err(CallError::Argument {
            param: "path".into(),
            reason: "the arguments would change the URL path's structure".into(),
        });
    }
    let pairs: Vec<(&str, String)> = query.iter().filter_map(|(k, t)| Some((k.as_str(), t.render(args)?))).collect();
    if !pairs.is_empty() {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    Ok(url)
}

/// The request's own headers: `Content-Type: application/json` when there is a body, then the
/// tool's headers (sensitive: hidden from `Debug`), leaving out those whose params were not
/// given.
pub(super) fn headers(
    templates: &[(HeaderName, Template)],
    has_body: bool,
    args: &Map<String, Value>,
) -> Result<HeaderMap, CallError> {
    let mut map = HeaderMap::new();
    if has_body {
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    for (name, template) in templates {
        let Some(text) = template.render(args) else { continue };
        let mut value = HeaderValue::from_str(&text).map_err(|_| CallError::Header(name.to_string()))?;
        value.set_sensitive(true);
        map.insert(name.clone(), value);
    }
    Ok(map)
}

/// The JSON body text, if the tool has a body and it is not left out entirely.
pub(super) fn body(template: Option<&Value>, args: &Map<String, Value>) -> Option<String> {
    template.and_then(|t| render_json(t, args)).map(|v| v.to_string())
}
