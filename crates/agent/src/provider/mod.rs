//! Model providers: each turns a [`ModelRequest`] into its wire format, streams the answer, and
//! hands back text deltas as they come and the whole [`ModelTurn`] at the end.

pub mod anthropic;
pub mod gemini;
pub mod openai;
pub mod rules;
mod sse;

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;
use switchboard_mcp::server::LocalClient;
use tokio_util::sync::CancellationToken;

use crate::message::{AssistantTurn, Message, Usage};

/// A tool offered to the model, under its provider-side name.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// The provider-side name (`[A-Za-z0-9_-]{1,64}`).
    pub name: String,
    /// What it does.
    pub description: String,
    /// The JSON Schema of its arguments, with references inlined.
    pub parameters: Value,
}

/// One model round.
#[derive(Debug, Clone, Copy)]
pub struct ModelRequest<'a> {
    /// The model name.
    pub model: &'a str,
    /// The agent's system prompt.
    pub system: &'a str,
    /// The conversation so far.
    pub messages: &'a [Message],
    /// The tools offered.
    pub tools: &'a [ToolSpec],
    /// Sampling temperature, when the caller set one.
    pub temperature: Option<f64>,
    /// The server, as the caller: only the rules provider reads from it (a policy resource).
    pub client: &'a LocalClient,
    /// Fires when the answer is no longer wanted.
    pub cancel: &'a CancellationToken,
}

/// A model's answer to one round.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelTurn {
    /// Its text and tool calls.
    pub turn: AssistantTurn,
    /// Tokens used.
    pub usage: Usage,
}

/// Where text goes while a round streams.
pub struct Deltas(Box<dyn Fn(&str) + Send + Sync>);

impl Deltas {
    /// Deltas handed to `sink` as they arrive.
    pub fn new(sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self(Box::new(sink))
    }

    /// Deltas nobody reads.
    pub fn ignored() -> Self {
        Self::new(|_| {})
    }

    /// Passes on a piece of text.
    pub fn text(&self, text: &str) {
        (self.0)(text);
    }
}

impl std::fmt::Debug for Deltas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deltas")
    }
}

/// A model provider.
pub trait Provider: std::fmt::Debug + Send + Sync + 'static {
    /// Its name in logs and metrics (`openai`, `rules`, ...).
    fn name(&self) -> &str;

    /// Runs one round, sending text to `deltas` as it arrives.
    fn complete<'a>(
        &'a self,
        request: ModelRequest<'a>,
        deltas: &'a Deltas,
    ) -> BoxFuture<'a, Result<ModelTurn, ProviderError>>;
}

/// Why a round failed. Messages never carry credentials.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// 429: try again later.
    #[error("{provider} is rate limiting us: {message}")]
    RateLimited {
        /// The provider.
        provider: String,
        /// Its `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        /// What it said.
        message: String,
    },
    /// 5xx, a broken connection or stream: worth another try.
    #[error("{provider} is unavailable: {message}")]
    Unavailable {
        /// The provider.
        provider: String,
        /// What went wrong.
        message: String,
    },
    /// The key was refused.
    #[error("{provider} refused the credentials: {message}")]
    Auth {
        /// The provider.
        provider: String,
        /// What it said.
        message: String,
    },
    /// The conversation is longer than the model's context.
    #[error("the conversation is too long for {provider}'s model: {message}")]
    ContextLength {
        /// The provider.
        provider: String,
        /// What it said.
        message: String,
    },
    /// Any other refusal of the request, or an answer we cannot read.
    #[error("{provider} failed: {message}")]
    Failed {
        /// The provider.
        provider: String,
        /// What went wrong.
        message: String,
    },
}

impl ProviderError {
    /// Whether the same request may succeed if sent again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unavailable { .. })
    }

    /// How long the provider asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Classifies an HTTP error answer: `status`, its `Retry-After`, and the body's message.
    pub(crate) fn from_status(provider: &str, status: u16, retry_after: Option<Duration>, body: &str) -> Self {
        let message = error_message(body);
        let provider = provider.to_owned();
        match status {
            429 => Self::RateLimited { provider, retry_after, message },
            401 | 403 => Self::Auth { provider, message },
            500..=599 => Self::Unavailable { provider, message },
            _ if body.contains("context_length") || message.contains("context length") => {
                Self::ContextLength { provider, message }
            }
            _ => Self::Failed { provider, message: format!("HTTP {status}: {message}") },
        }
    }
}

/// The human part of a provider's error body (`{"error":{"message":…}}` in every format we
/// speak), cut short; the raw body (shortened) when it has none.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(|e| e.get("message").and_then(Value::as_str).or_else(|| e.as_str()))
        .map(str::to_owned)
        .unwrap_or_else(|| body.trim().to_owned());
    let mut message: String = message.chars().take(500).collect();
    if message.is_empty() {
        message.push_str("no details");
    }
    message
}

/// A `Retry-After` header in seconds (the HTTP-date form is rare from APIs and ignored).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

/// How a provider takes its key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyHeader {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The key as the value of this header.
    Named(&'static str),
}

/// Where a provider is and how to reach it: base URL, key, HTTP client. The key is a secret:
/// `Debug` leaves it out, and reqwest's errors name the URL, never the headers.
#[derive(Clone)]
pub(crate) struct Endpoint {
    provider: String,
    base_url: String,
    api_key: Option<String>,
    key_header: KeyHeader,
    http: reqwest::Client,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// `provider` at `base_url`; `timeout` bounds a whole round. TLS is rustls with the ring
    /// provider (installed here if the process has none yet).
    pub(crate) fn new(
        provider: &str,
        base_url: &str,
        api_key: Option<String>,
        key_header: KeyHeader,
        timeout: std::time::Duration,
    ) -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the HTTP client for {provider}: {e}"))?;
        Ok(Self {
            provider: provider.to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.filter(|k| !k.is_empty()),
            key_header,
            http,
        })
    }

    /// POSTs the JSON `body` to `path` (under the base URL) with the key; a non-2xx answer
    /// becomes its [`ProviderError`] (with `Retry-After` on a 429).
    pub(crate) async fn post(
        &self,
        path: &str,
        headers: &[(&'static str, &'static str)],
        body: String,
    ) -> Result<reqwest::Response, ProviderError> {
        let mut post = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            post = post.header(*name, *value);
        }
        if let Some(key) = &self.api_key {
            post = match self.key_header {
                KeyHeader::Bearer => post.bearer_auth(key),
                KeyHeader::Named(name) => post.header(name, key),
            };
        }
        let response = post.send().await.map_err(|e| ProviderError::Unavailable {
            provider: self.provider.clone(),
            message: format!("the request failed: {e}"),
        })?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers());
            let body = response.text().await.unwrap_or_default();
            return Err(ProviderError::from_status(&self.provider, status.as_u16(), retry_after, &body));
        }
        Ok(response)
    }
}
