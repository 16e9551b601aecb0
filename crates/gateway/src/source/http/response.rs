//! Turning an HTTP response into a tool result: the body read under a byte cap, JSON bodies as
//! `structuredContent`, failures as messages with an excerpt, secrets redacted.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use switchboard_mcp::protocol::content::ContentBlock;
use switchboard_mcp::protocol::tools::CallToolResult;

use super::CallError;

/// How much of a failed response's body is read, and how many characters of it are shown.
const EXCERPT_READ_BYTES: u64 = 4096;
const EXCERPT_CHARS: usize = 500;
/// Secret words shorter than this are not redacted (they would hit ordinary words).
const MIN_SECRET_LEN: usize = 8;

/// Reads the body, failing once it passes `cap` bytes (checked against `Content-Length` first).
/// With `truncate`, stops at `cap` instead of failing.
pub(super) async fn read_body(
    response: &mut Response,
    cap: u64,
    truncate: bool,
    host: &str,
) -> Result<Vec<u8>, CallError> {
    let too_large = || CallError::TooLarge { host: host.to_owned(), cap };
    if !truncate && response.content_length().is_some_and(|len| len > cap) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| CallError::transport("reading the response from", host, &e))?
    {
        let room = usize::try_from(cap).unwrap_or(usize::MAX).saturating_sub(body.len());
        if chunk.len() > room {
            if truncate {
                body.extend_from_slice(&chunk[..room]);
                break;
            }
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads the start of a failed response's body, for the message.
pub(super) async fn excerpt(response: &mut Response, host: &str) -> String {
    let body = read_body(response, EXCERPT_READ_BYTES, true, host).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let text = text.trim();
    let mut out: String = text.chars().take(EXCERPT_CHARS).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    if out.is_empty() {
        out.push_str("(empty body)");
    }
    out
}

/// The content type's essence (`application/json`), lowercase.
pub(super) fn content_type(response: &Response) -> Option<String> {
    let value = response.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
}

fn is_json(content_type: Option<&str>) -> bool {
    // Without a Content-Type, a body that parses as JSON is taken as JSON.
    content_type.is_none_or(|ct| ct == "application/json" || ct.ends_with("+json"))
}

/// A 2xx response as a tool result: JSON bodies become `structuredContent` (an object as is, an
/// array as `{"items": [...]}`, anything else as `{"value": ...}`); the text block always holds
/// the body (or says what it was when it is empty or not text).
pub(super) fn success(status: StatusCode, content_type: Option<&str>, body: &[u8]) -> CallToolResult {
    if body.is_empty() {
        return CallToolResult::text(format!("{status} (empty body)"));
    }
    if is_json(content_type) {
        if let Ok(value) = serde_json::from_slice::<Value>(body) {
            let structured = match value {
                Value::Object(_) => value,
                Value::Array(_) => json!({ "items": value }),
                other => json!({ "value": other }),
            };
            return CallToolResult {
                content: vec![ContentBlock::text(String::from_utf8_lossy(body).into_owned())],
                structured_content: Some(structured),
                ..CallToolResult::default()
            };
        }
    }
    match std::str::from_utf8(body) {
        Ok(text) => CallToolResult::text(text),
        Err(_) => CallToolResult::text(format!(
            "{status}: {} bytes of {} (not text)",
            body.len(),
            content_type.unwrap_or("unknown content")
        )),
    }
}

/// Removes secrets (configured header values, and their words) from text a model or a log will
/// see. Its `Debug` shows only how many secrets it holds.
#[derive(Clone, Default)]
pub(super) struct Redactor {
    needles: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.needles.len())
    }
}

impl Redactor {
    /// Adds a secret: the whole value and each of its words (`Bearer <token>` hides the token
    /// even where it appears alone).
    pub(super) fn add(&mut self, secret: &str) {
        let words = std::iter::once(secret.trim()).chain(secret.split_whitespace());
        for word in words {
            if word.len() >= MIN_SECRET_LEN && !self.needles.iter().any(|n| n == word) {
                self.needles.push(word.to_owned());
            }
        }
        // Longest first, so a value is replaced whole before its words are.
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    /// `text` with every secret replaced by `***`.
    pub(super) fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), "***");
            }
        }
        out
    }
}
