//! Authentication of HTTP requests (Streamable HTTP, HTTP+SSE and the WebSocket upgrade): an
//! [`Authenticate`] implementation turns a request's headers into a [`Principal`] or refuses
//! it. A refused request gets `401` (`403` for missing scope) with a `WWW-Authenticate`
//! challenge and never reaches MCP; an accepted one carries its principal in its extensions,
//! where every transport takes it from.
//!
//! [`ApiKeys`] is the implementation for static keys: only their SHA-256 digests are held,
//! every digest is compared in constant time, and a refused key is logged by a short digest
//! prefix, never by its text.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::{HeaderMap, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use http::StatusCode;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchboard_protocol::ErrorObject;

use crate::server::Principal;

/// What [`Authenticate::authenticate`] returns.
pub type AuthFuture<'a> = Pin<Box<dyn Future<Output = Result<Principal, AuthError>> + Send + 'a>>;

/// Decides who sent a request from its headers.
pub trait Authenticate: std::fmt::Debug + Send + Sync + 'static {
    /// The principal the request's credentials name, or why there is none.
    fn authenticate<'a>(&'a self, headers: &'a HeaderMap) -> AuthFuture<'a>;

    /// Parameters added to every `WWW-Authenticate: Bearer` challenge, e.g.
    /// `resource_metadata="https://…/.well-known/oauth-protected-resource"`.
    fn challenge_params(&self) -> Option<String> {
        None
    }
}

/// Why a request was not authenticated. The messages say what to send, never which part of a
/// credential was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials at all.
    #[error("authentication required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`")]
    Missing,
    /// Credentials that are unknown, expired, or not for this server.
    #[error("the credentials were not accepted")]
    Invalid,
    /// Valid credentials without the scope this server needs.
    #[error("the credentials lack the scope {0:?}")]
    InsufficientScope(String),
}

impl AuthError {
    fn status(&self) -> StatusCode {
        match self {
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::Missing | Self::Invalid => StatusCode::UNAUTHORIZED,
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3), with `extra` parameters appended.
    fn challenge(&self, extra: Option<&str>) -> String {
        let mut value = String::from("Bearer realm=\"mcp\"");
        match self {
            Self::Missing => {}
            Self::Invalid => value.push_str(", error=\"invalid_token\""),
            Self::InsufficientScope(scope) => {
                value.push_str(&format!(", error=\"insufficient_scope\", scope=\"{}\"", scope.replace('"', "")));
            }
        }
        if let Some(extra) = extra {
            value.push_str(", ");
            value.push_str(extra);
        }
        value
    }
}

/// The middleware: authenticates every request with `auth`, or answers for it.
pub(crate) async fn check(State(auth): State<Arc<dyn Authenticate>>, mut request: Request, next: Next) -> Response {
    match auth.authenticate(request.headers()).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(error) => refuse(&error, auth.challenge_params().as_deref()),
    }
}

fn refuse(error: &AuthError, extra: Option<&str>) -> Response {
    let mut response = super::sse::error(error.status(), None, &ErrorObject::invalid_request(error.to_string()));
    if let Ok(v) = HeaderValue::from_str(&error.challenge(extra)) {
        response.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    response
}

/// The credential a request presents: `Authorization: Bearer <token>`, else `X-API-Key`.
pub fn presented_credential(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = value.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty());
    }
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim).filter(|t| !t.is_empty())
}

/// The SHA-256 digest of an API key, as held in configuration.
pub fn key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Static API keys, each naming a principal. Holds digests only.
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Vec<([u8; 32], Principal)>,
    /// Who a request without credentials acts for; `None`: such requests are refused.
    anonymous: Option<Principal>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys").field("keys", &self.keys.len()).finish_non_exhaustive()
    }
}

impl ApiKeys {
    /// No keys: every request is refused (until keys or an anonymous principal are added).
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `key` for `principal`.
    pub fn with_key(self, key: &str, principal: Principal) -> Self {
        self.with_digest(key_digest(key), principal)
    }

    /// Accepts the key whose SHA-256 digest is `digest` for `principal`.
    pub fn with_digest(mut self, digest: [u8; 32], principal: Principal) -> Self {
        self.keys.push((digest, principal));
        self
    }

    /// Lets requests without credentials through as `principal` (presented but wrong keys are
    /// still refused).
    pub fn with_anonymous(mut self, principal: Principal) -> Self {
        self.anonymous = Some(principal);
        self
    }

    /// How many keys are accepted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is accepted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The principal `key` names, if any: compared against every digest in constant time.
    pub fn lookup(&self, key: &str) -> Option<&Principal> {
        let digest = key_digest(key);
        let mut found = None;
        for (candidate, principal) in &self.keys {
            if bool::from(candidate.ct_eq(&digest)) && found.is_none() {
                found = Some(principal);
            }
        }
        found
    }
}

impl Authenticate for ApiKeys {
    fn authenticate<'a>(&'a self, headers: &'a HeaderMap) -> AuthFuture<'a> {
        let outcome = match presented_credential(headers) {
            None => self.anonymous.clone().ok_or(AuthError::Missing),
            Some(key) => self.lookup(key).cloned().ok_or_else(|| {
                let digest = key_digest(key);
                let short: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
                tracing::warn!(target: "switchboard::auth", key_sha256_prefix = %short, "unknown API key refused");
                AuthError::Invalid
            }),
        };
        Box::pin(std::future::ready(outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap_or(AUTHORIZATION), HeaderValue::from_static(v));
        }
        h
    }

    fn run(keys: &ApiKeys, h: &HeaderMap) -> Result<Principal, AuthError> {
        futures_util::FutureExt::now_or_never(keys.authenticate(h)).unwrap_or(Err(AuthError::Missing))
    }

    #[test]
    fn keys_are_accepted_by_either_header_and_refused_otherwise() {
        let admin = Principal::new("admin", vec!["admin".into()], Default::default());
        let keys = ApiKeys::new().with_key("sk-one", admin.clone());
        assert_eq!(run(&keys, &headers(&[("authorization", "Bearer sk-one")])), Ok(admin.clone()));
        assert_eq!(run(&keys, &headers(&[("authorization", "bearer  sk-one ")])), Ok(admin.clone()));
        assert_eq!(run(&keys, &headers(&[("x-api-key", "sk-one")])), Ok(admin));
        assert_eq!(run(&keys, &headers(&[("x-api-key", "sk-two")])), Err(AuthError::Invalid));
        assert_eq!(run(&keys, &headers(&[("authorization", "Basic c2stb25l")])), Err(AuthError::Missing));
        assert_eq!(run(&keys, &HeaderMap::new()), Err(AuthError::Missing));
    }

    #[test]
    fn anonymous_access_never_excuses_a_wrong_key() {
        let keys = ApiKeys::new().with_anonymous(Principal::anonymous());
        assert_eq!(run(&keys, &HeaderMap::new()), Ok(Principal::anonymous()));
        assert_eq!(run(&keys, &headers(&[("x-api-key", "guess")])), Err(AuthError::Invalid));
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        assert_eq!(AuthError::Missing.challenge(None), "Bearer realm=\"mcp\"");
        assert_eq!(
            AuthError::Invalid.challenge(Some("resource_metadata=\"http://x/.well-known/oauth-protected-resource\"")),
            "Bearer realm=\"mcp\", error=\"invalid_token\", resource_metadata=\"http://x/.well-known/oauth-protected-resource\""
        );
        assert_eq!(AuthError::InsufficientScope("a".into()).status(), StatusCode::FORBIDDEN);
    }
}
