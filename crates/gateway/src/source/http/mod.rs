//! HTTP API tools: a tool is a request template (method, path and query with `{param}`
//! placeholders, headers, a JSON body) on an http source (base URL, secret headers, timeout,
//! response cap).
//!
//! **Invariant:** a request only ever goes to its source's scheme, host and port, under its base
//! path: path values are percent-encoded (no `/`, `..` or `?` injection), redirects are not
//! followed, and no proxy is consulted. The address it connects to passed the SSRF guard
//! ([`guard`]): public, loopback named by the base URL itself, or in the source's
//! `allow_networks` — never a metadata, link-local or private address by default.
//! **Invariant:** header values configured on a source or tool never reach a log or an error
//! message: they are marked sensitive, and error text is redacted before anyone sees it.
//!
//! Mapping: 2xx → a result (`structuredContent` for JSON, the body as text); anything else, a
//! timeout or a connection failure → `isError` naming the host (never the full URL, whose query
//! may hold a key) and what happened.

pub mod guard;
mod request;
mod response;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::{Map, Value};
use switchboard_mcp::protocol::tools::{CallToolResult, Tool, ToolAnnotations};
use switchboard_mcp::server::{HandlerError, Router};

use self::response::Redactor;
use crate::config::{self, HttpTool, DEFAULT_HTTP_TIMEOUT_MS, DEFAULT_MAX_RESPONSE_BYTES};
use crate::syntax::template::Template;

/// An http source, ready to send: its base URL, a connection pool that adds its headers, and its
/// limits.
#[derive(Clone)]
pub struct Upstream {
    name: String,
    base: Url,
    host: String,
    client: reqwest::Client,
    timeout: Option<u64>,
    max_response_bytes: Option<u64>,
    secrets: Redactor,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("name", &self.name).field("host", &self.host).finish_non_exhaustive()
    }
}

/// Why an http source or tool could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The source's `base_url` is not usable.
    #[error("sources.{name}.base_url: {message}")]
    BaseUrl {
        /// The source.
        name: String,
        /// Why.
        message: String,
    },
    /// A header name or value is not valid (the value is never shown).
    #[error("{at}: not a valid header name and value")]
    Header {
        /// Where: `sources.<name>.headers.<header>` or `tools.<name>.http.headers.<header>`.
        at: String,
    },
    /// The HTTP client could not be built.
    #[error("sources.{name}: cannot build the HTTP client")]
    Client {
        /// The source.
        name: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
}

impl Upstream {
    /// Prepares the http source `name`: its client (connection pool) with the source's headers.
    pub fn new(name: &str, source: &config::Source) -> Result<Self, SetupError> {
        Self::with_lookup(name, source, guard::system_lookup())
    }

    /// Like [`Upstream::new`], resolving names with `lookup` (tests stand in for DNS).
    pub fn with_lookup(name: &str, source: &config::Source, lookup: guard::Lookup) -> Result<Self, SetupError> {
        let base_text = source.base_url.as_deref().unwrap_or_default();
        let base = config::parse_base_url(base_text)
            .map_err(|message| SetupError::BaseUrl { name: name.to_owned(), message })?;
        let policy = address_policy(name, source, &base)?;
        let mut headers = HeaderMap::new();
        let mut secrets = Redactor::default();
        for (header, value) in &source.headers {
            let bad = || SetupError::Header { at: format!("sources.{name}.headers.{header}") };
            let header_name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| bad())?;
            let mut header_value = HeaderValue::from_str(value.expose()).map_err(|_| bad())?;
            header_value.set_sensitive(true);
            headers.insert(header_name, header_value);
            secrets.add(value.expose());
        }
        // rustls needs a crypto provider; installing ring is idempotent process-wide.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(guard::GuardedResolver::new(Arc::new(policy), lookup)))
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| SetupError::Client { name: name.to_owned(), source })?;
        let host = match (base.host_str(), base.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => name.to_owned(),
        };
        Ok(Self {
            name: name.to_owned(),
            base,
            host,
            client,
            timeout: source.timeout_ms,
            max_response_bytes: source.max_response_bytes,
            secrets,
        })
    }

    /// `host:port` of the API: the only part of its URL that messages and logs show.
    pub fn host(&self) -> &str {
        &self.host
    }
}

/// An HTTP tool, compiled: templates parsed, limits and secrets resolved.
#[derive(Debug)]
struct HttpCall {
    tool: String,
    method: Method,
    path: Template,
    query: Vec<(String, Template)>,
    headers: Vec<(HeaderName, Template)>,
    body: Option<Value>,
    timeout: Duration,
    max_response_bytes: u64,
    defaults: Map<String, Value>,
    secrets: Redactor,
}

/// Why one call failed; the text is what the model reads (after redaction).
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("argument {param} {reason}")]
    Argument { param: String, reason: String },
    #[error("the value of header {0} is not a valid header value")]
    Header(String),
    #[error("no complete answer from {host} within {ms} ms (timed out)")]
    Timeout { host: String, ms: u128 },
    #[error("{what} {host} failed: {cause}")]
    Transport { what: &'static str, host: String, cause: String },
    #[error("the response from {host} is larger than {cap} bytes (max_response_bytes)")]
    TooLarge { host: String, cap: u64 },
    #[error("{host} answered {status}: {excerpt}")]
    Status { host: String, status: reqwest::StatusCode, excerpt: String },
}

impl CallError {
    /// A transport failure, described by its innermost cause: reqwest's own text names the URL,
    /// whose query may hold a key, so it is never used.
    fn transport(what: &'static str, host: &str, e: &reqwest::Error) -> Self {
        let what = if e.is_connect() { "connecting to" } else { what };
        let mut cause = None;
        let mut next = std::error::Error::source(e);
        while let Some(err) = next {
            cause = Some(err.to_string());
            next = err.source();
        }
        let cause =
            cause.unwrap_or_else(|| if e.is_body() { "the body was cut off".into() } else { "unknown error".into() });
        Self::Transport { what, host: host.to_owned(), cause }
    }
}

/// The source's address policy; a base URL that is an IP literal (never resolved) is checked
/// against it here.
fn address_policy(name: &str, source: &config::Source, base: &Url) -> Result<guard::AddressPolicy, SetupError> {
    let bad = |message: String| SetupError::BaseUrl { name: name.to_owned(), message };
    let allow =
        source.allow_networks.iter().map(|n| guard::parse_network(n)).collect::<Result<Vec<_>, _>>().map_err(bad)?;
    let host = base.host_str().unwrap_or_default();
    let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().ok();
    // The operator who writes http://127.0.0.1 or http://localhost means this machine.
    let loopback = literal.is_some_and(|ip| ip.is_loopback()) || host == "localhost";
    let policy = guard::AddressPolicy::new(allow, loopback);
    if let Some(ip) = literal {
        policy.check(ip).map_err(|class| {
            bad(format!("{ip} is {} address; list it in allow_networks if it is meant to be reached", class.describe()))
        })?;
    }
    Ok(policy)
}

fn method(m: config::HttpMethod) -> Method {
    match m {
        config::HttpMethod::Get => Method::GET,
        config::HttpMethod::Post => Method::POST,
        config::HttpMethod::Put => Method::PUT,
        config::HttpMethod::Patch => Method::PATCH,
        config::HttpMethod::Delete => Method::DELETE,
        config::HttpMethod::Head => Method::HEAD,
    }
}

/// Registers the http tool `name` (whose `http:` section is `spec`) on `router`, sending
/// through `upstream`.
pub fn register(
    router: Router,
    name: &str,
    tool: &config::Tool,
    spec: &HttpTool,
    upstream: &Upstream,
) -> Result<Router, SetupError> {
    let read_only = tool.read_only.unwrap_or(spec.method.is_read_only());
    let mut def = Tool::new(name, tool.description.clone(), crate::source::input_schema(&tool.params));
    def.title = tool.title.clone();
    def.annotations = Some(ToolAnnotations {
        read_only_hint: Some(read_only),
        // A POST may do anything; only the config can say it merely adds.
        destructive_hint: (!read_only).then_some(tool.destructive.unwrap_or(true)),
        idempotent_hint: Some(spec.method.is_idempotent()),
        open_world_hint: Some(true),
        ..ToolAnnotations::default()
    });
    let call = Arc::new(HttpCall::new(name, tool, spec, upstream)?);
    let upstream = upstream.clone();
    Ok(router.tool(def, move |args, _ctx| {
        let (upstream, call) = (upstream.clone(), call.clone());
        async move { run(&upstream, &call, args.into_object()).await }
    }))
}

impl HttpCall {
    fn new(name: &str, tool: &config::Tool, spec: &HttpTool, upstream: &Upstream) -> Result<Self, SetupError> {
        let mut secrets = upstream.secrets.clone();
        let mut headers = Vec::new();
        for (header, value) in &spec.headers {
            let header_name = HeaderName::from_bytes(header.as_bytes())
                .map_err(|_| SetupError::Header { at: format!("tools.{name}.http.headers.{header}") })?;
            secrets.add(value.expose());
            headers.push((header_name, Template::parse(value.expose())));
        }
        Ok(Self {
            tool: name.to_owned(),
            method: method(spec.method),
            path: Template::parse(&spec.path),
            query: spec.query.iter().map(|(k, v)| (k.clone(), Template::parse(&v.0))).collect(),
            headers,
            body: spec.body.clone(),
            timeout: Duration::from_millis(spec.timeout_ms.or(upstream.timeout).unwrap_or(DEFAULT_HTTP_TIMEOUT_MS)),
            max_response_bytes: spec
                .max_response_bytes
                .or(upstream.max_response_bytes)
                .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
            defaults: tool.params.iter().filter_map(|(k, p)| Some((k.clone(), p.default.clone()?))).collect(),
            secrets,
        })
    }
}

/// Runs one call. Cancel-safe: dropping the future drops the request.
async fn run(
    upstream: &Upstream,
    call: &HttpCall,
    mut args: Map<String, Value>,
) -> Result<CallToolResult, HandlerError> {
    for (k, v) in &call.defaults {
        args.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let started = Instant::now();
    let outcome = match tokio::time::timeout(call.timeout, exchange(upstream, call, &args)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(CallError::Timeout { host: upstream.host.clone(), ms: call.timeout.as_millis() }),
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(result) => {
            tracing::debug!(target: "switchboard::gateway::http", tool = %call.tool, host = %upstream.host, elapsed_ms, outcome = "ok", "http tool call");
            Ok(result)
        }
        Err(e) => {
            let message = call.secrets.redact(&e.to_string());
            match e {
                CallError::Timeout { .. } | CallError::Transport { .. } => {
                    tracing::warn!(target: "switchboard::gateway::http", tool = %call.tool, host = %upstream.host, elapsed_ms, error = %message, "http tool call failed")
                }
                _ => {
                    tracing::debug!(target: "switchboard::gateway::http", tool = %call.tool, host = %upstream.host, elapsed_ms, error = %message, "http tool call failed")
                }
            }
            // Unreachable or silent backends are told apart: circuit breakers count them.
            Err(match e {
                CallError::Timeout { .. } => HandlerError::timed_out(message),
                CallError::Transport { .. } => HandlerError::unavailable(message),
                _ => HandlerError::msg(message),
            })
        }
    }
}

async fn exchange(
    upstream: &Upstream,
    call: &HttpCall,
    args: &Map<String, Value>,
) -> Result<CallToolResult, CallError> {
    let url = request::url(&upstream.base, &call.path, &call.query, args)?;
    let body = request::body(call.body.as_ref(), args);
    let headers = request::headers(&call.headers, body.is_some(), args)?;
    let mut builder = upstream.client.request(call.method.clone(), url).headers(headers);
    if let Some(body) = body {
        builder = builder.body(body);
    }
    let host = upstream.host.as_str();
    let mut response = builder.send().await.map_err(|e| CallError::transport("sending the request to", host, &e))?;
    let status = response.status();
    if !status.is_success() {
        let excerpt = response::excerpt(&mut response, host).await;
        return Err(CallError::Status { host: host.to_owned(), status, excerpt });
    }
    let content_type = response::content_type(&response);
    let body = response::read_body(&mut response, call.max_response_bytes, false, host).await?;
    Ok(response::success(status, content_type.as_deref(), &body))
}
