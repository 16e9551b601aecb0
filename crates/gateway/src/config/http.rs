//! HTTP API sources and tools in the config: a source is a base URL with headers (secrets from
//! `${ENV}`), a timeout and a response cap; a tool is one request template on it.

use std::collections::BTreeMap;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Url;
use schemars::JsonSchema;
use serde::Deserialize;

use indexmap::IndexMap;

use super::{ParamType, Problem, Scalar, Secret, Source, SourceKind, Tool};
use crate::syntax::template::{json_params, Template};

/// How long a request may take when neither the tool nor its source says (30 s).
pub const DEFAULT_HTTP_TIMEOUT_MS: u64 = 30_000;
/// The largest response body read when neither the tool nor its source says (1 MiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// The method of an HTTP tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET (the default): read-only.
    #[default]
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// HEAD: read-only, no body either way.
    Head,
}

impl HttpMethod {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
        }
    }

    /// GET and HEAD change nothing.
    pub fn is_read_only(self) -> bool {
        matches!(self, Self::Get | Self::Head)
    }

    /// Repeating the request has no further effect (GET, HEAD, PUT, DELETE).
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Self::Post | Self::Patch)
    }
}

/// The `http:` section of a tool: one request to its source's `base_url`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpTool {
    /// The method. Default GET.
    #[serde(default)]
    pub method: HttpMethod,
    /// The path after the source's `base_url`, e.g. `/orders/{order_id}`. Each `{param}` is
    /// percent-encoded, so a value cannot add segments (`/`) or climb (`..`); its param must be
    /// required or have a default.
    pub path: String,
    /// Query parameters: name → value (`"{param}"`, literal text, or both). A pair whose param
    /// was not given is left out.
    #[serde(default)]
    pub query: IndexMap<String, Scalar>,
    /// Headers of this request (after the source's), name → value; `{param}` placeholders are
    /// filled. Values are treated as secrets.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// The JSON body (sent as `application/json`). A string that is exactly `"{param}"` becomes
    /// the argument with its JSON type; other strings are filled as text; members whose param
    /// was not given are left out.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Milliseconds the request may take, overriding the source's `timeout_ms`.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The largest response body accepted, in bytes, overriding the source's
    /// `max_response_bytes`.
    #[serde(default)]
    pub max_response_bytes: Option<u64>,
}

/// Parses an HTTP source's `base_url`: `http://` or `https://` (TLS with the system's roots), no
/// query or fragment.
pub(crate) fn parse_base_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(format!("{text:?}: the scheme must be http or https, not {other}")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{text:?}: put query parameters in each tool's `query`, not in base_url"));
    }
    Ok(url)
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("{name:?} is not a valid header name"))
}

/// Checks an HTTP source. Header values are never quoted: they are secrets.
pub(super) fn check_source(name: &str, source: &Source) -> Result<(), Problem> {
    let at = |key: &str, message: String| Problem::new(&["sources", name, key], message);
    if source.path.is_some() || !source.init.is_empty() || source.max_connections.is_some() {
        return Err(Problem::new(
            &["sources", name],
            "`path`, `init` and `max_connections` are for database sources, not http".into(),
        ));
    }
    if source.url.as_deref().is_some_and(|u| !u.is_empty()) {
        return Err(at("url", "an http source takes `base_url`, not `url`".into()));
    }
    let Some(base) = source.base_url.as_deref() else {
        return Err(Problem::new(
            &["sources", name],
            "an http source needs `base_url` (http://host:port/prefix)".into(),
        ));
    };
    parse_base_url(base).map_err(|m| at("base_url", m))?;
    let mut seen = BTreeMap::new();
    for (header, value) in &source.headers {
        let parsed = header_name(header).map_err(|m| Problem::new(&["sources", name, "headers", header], m))?;
        if let Some(first) = seen.insert(parsed.as_str().to_owned(), header) {
            return Err(at("headers", format!("{first:?} and {header:?} are the same header")));
        }
        if HeaderValue::from_str(value.expose()).is_err() {
            return Err(Problem::new(
                &["sources", name, "headers", header],
                "the value is not a valid header value (control characters or non-ASCII text)".into(),
            ));
        }
    }
    for (i, network) in source.allow_networks.iter().enumerate() {
        crate::syntax::parse_network(network)
            .map_err(|m| Problem::new(&["sources", name, "allow_networks", &i.to_string()], m))?;
    }
    check_limits(&["sources", name], source.timeout_ms, source.max_response_bytes)
}

fn check_limits(at: &[&str], timeout_ms: Option<u64>, max_bytes: Option<u64>) -> Result<(), Problem> {
    for (key, value) in [("timeout_ms", timeout_ms), ("max_response_bytes", max_bytes)] {
        if value == Some(0) {
            return Err(Problem::new(&[at, &[key]].concat(), "must be at least 1".into()));
        }
    }
    Ok(())
}

/// Checks an HTTP tool against its params and source.
pub(super) fn check_tool(
    name: &str,
    tool: &Tool,
    http: &HttpTool,
    sources: &BTreeMap<String, Source>,
) -> Result<(), Problem> {
    let at = |keys: &[&str], message: String| Problem::new(&[&["tools", name, "http"], keys].concat(), message);
    match tool.source.as_deref().map(|s| (s, sources.get(s))) {
        None => {
            return Err(Problem::new(&["tools", name], "an http tool needs `source`, naming an http source".into()))
        }
        Some((s, None)) => return Err(Problem::new(&["tools", name, "source"], format!("unknown source {s:?}"))),
        Some((s, Some(src))) if src.kind != SourceKind::Http => {
            return Err(Problem::new(
                &["tools", name, "source"],
                format!("{s:?} is a {} source; an http tool needs an http source", src.kind.as_str()),
            ))
        }
        Some(_) => {}
    }
    let declared = |param: &str, keys: &[&str]| match tool.params.get(param) {
        None => Err(at(keys, format!("uses {{{param}}}, which is not a declared param"))),
        Some(p) if p.kind == ParamType::Path => {
            Err(at(keys, format!("{{{param}}} has type path, which only command tools take")))
        }
        Some(_) => Ok(()),
    };
    // The path.
    if !http.path.starts_with('/') {
        return Err(at(&["path"], format!("{:?} must start with /", http.path)));
    }
    if http.path.contains(['?', '#']) {
        return Err(at(&["path"], "put query parameters in `query`; the path has no ? or #".into()));
    }
    if http.path.split('/').any(|segment| segment == "." || segment == "..") {
        return Err(at(&["path"], format!("{:?} has a . or .. segment", http.path)));
    }
    let path = Template::parse(&http.path);
    for param in path.params() {
        declared(param, &["path"])?;
        let p = tool.params.get(param);
        if p.is_some_and(|p| p.default.is_none() && p.required == Some(false)) {
            return Err(at(&["path"], format!("uses {{{param}}}, which must be required or have a default")));
        }
    }
    if path.parts().iter().any(|p| matches!(p, crate::syntax::template::Part::Text(t) if t.contains(['{', '}']))) {
        return Err(at(&["path"], format!("{:?}: a brace that is not a {{param}} placeholder", http.path)));
    }
    // Query, headers, body.
    for (key, value) in http.query.iter() {
        for param in Template::parse(&value.0).params() {
            declared(param, &["query", key])?;
        }
    }
    for (header, value) in &http.headers {
        header_name(header).map_err(|m| at(&["headers", header], m))?;
        let template = Template::parse(value.expose());
        for param in template.params() {
            declared(param, &["headers", header])?;
        }
        let literal: String = template
            .parts()
            .iter()
            .filter_map(|p| match p {
                crate::syntax::template::Part::Text(t) => Some(t.as_str()),
                crate::syntax::template::Part::Param(_) => None,
            })
            .collect();
        if HeaderValue::from_str(&literal).is_err() {
            return Err(at(&["headers", header], "the value is not a valid header value".into()));
        }
    }
    if let Some(body) = &http.body {
        if http.method.is_read_only() {
            return Err(at(&["body"], format!("a {} request has no body", http.method.as_str())));
        }
        for param in json_params(body) {
            declared(&param, &["body"])?;
        }
    }
    check_limits(&["tools", name, "http"], http.timeout_ms, http.max_response_bytes)
}
