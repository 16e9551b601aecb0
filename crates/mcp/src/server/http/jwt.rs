//! OAuth 2.1 resource server (the MCP authorization spec): JWT access tokens checked against the
//! authorization server's JWKS, and the RFC 9728 metadata that tells clients where to get one.
//!
//! Keys are fetched from `jwks_url` on first use and cached by `kid`; a token naming an unknown
//! `kid` refetches the set (at most once per [`REFRESH_MIN_INTERVAL`]), so a rotated-in key works
//! without a restart. The algorithms are pinned (a token's `alg` outside the list is refused, so
//! `none` and HMAC-with-the-public-key confusions never apply); `iss`, `aud` (this server's
//! resource URI), `exp` and `nbf` are checked with a small leeway. Tokens are never passed on.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use http::header::HeaderMap;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::auth::{presented_credential, AuthError, AuthFuture, Authenticate};
use crate::server::Principal;

/// A token naming an unknown key refetches the key set at most this often.
pub const REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(10);
/// The largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// How tokens are checked and turned into principals.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The issuer (`iss`) tokens must carry; also advertised as the authorization server.
    pub issuer: String,
    /// Where the issuer publishes its keys.
    pub jwks_url: String,
    /// This server's resource URI: tokens must carry it in `aud`.
    pub audience: String,
    /// The accepted signature algorithms (default RS256).
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// The claim holding the principal's id (default `sub`).
    pub id_claim: String,
    /// The claim whose space-separated scopes (or array of strings) become roles (default
    /// `scope`).
    pub roles_claim: String,
    /// Claims copied into the principal's attributes: claim name → attribute name.
    pub attributes: HashMap<String, String>,
    /// Scopes of which a token must carry at least one (empty: any); otherwise `403
    /// insufficient_scope`.
    pub required_scopes: Vec<String>,
    /// Advertised in the resource metadata.
    pub scopes_supported: Vec<String>,
}

impl JwtConfig {
    /// A signature algorithm by its JOSE name (`RS256`, `ES256`, `EdDSA`, …).
    pub fn algorithm(name: &str) -> Result<Algorithm, String> {
        name.parse().map_err(|_| format!("unknown JWT algorithm {name:?} (e.g. RS256, ES256, EdDSA)"))
    }

    /// The RFC 9728 protected-resource metadata for this server.
    pub fn resource_metadata(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("resource".into(), Value::String(self.audience.clone()));
        doc.insert("authorization_servers".into(), Value::from(vec![self.issuer.clone()]));
        doc.insert("bearer_methods_supported".into(), Value::from(vec!["header"]));
        if !self.scopes_supported.is_empty() {
            doc.insert("scopes_supported".into(), Value::from(self.scopes_supported.clone()));
        }
        Value::Object(doc)
    }

    /// Where the metadata is served: `/.well-known/oauth-protected-resource` on the resource's
    /// origin (RFC 9728 §3).
    pub fn resource_metadata_url(&self) -> String {
        let origin = match self.audience.find("://") {
            Some(i) => {
                let rest = &self.audience[i + 3..];
                let end = rest.find('/').map_or(self.audience.len(), |j| i + 3 + j);
                &self.audience[..end]
            }
            None => self.audience.as_str(),
        };
        format!("{origin}/.well-known/oauth-protected-resource")
    }
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    /// Keys without a `kid`, used when a token names none.
    anonymous: Vec<DecodingKey>,
    fetched: Option<Instant>,
}

/// Checks JWT access tokens; API keys and other credentials are left to `fallback`.
pub struct JwtAuth {
    config: JwtConfig,
    client: reqwest::Client,
    cache: RwLock<KeyCache>,
    refresh: tokio::sync::Mutex<()>,
    fallback: Option<Arc<dyn Authenticate>>,
}

impl std::fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuth").field("issuer", &self.config.issuer).finish_non_exhaustive()
    }
}

impl JwtAuth {
    /// An authenticator for `config`; credentials that are not JWTs (API keys) go to
    /// `fallback`, which also decides requests without credentials.
    pub fn new(config: JwtConfig, fallback: Option<Arc<dyn Authenticate>>) -> Self {
        // Whichever crate reaches jsonwebtoken first, the pure-Rust backend is the one used.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        // reqwest is built without a TLS provider of its own: ring, as everywhere in Switchboard.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { config, client, cache: RwLock::new(KeyCache::default()), refresh: tokio::sync::Mutex::new(()), fallback }
    }

    /// The configuration (for the metadata endpoint).
    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    fn key_for(&self, kid: Option<&str>) -> Option<DecodingKey> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        match kid {
            Some(kid) => cache.keys.get(kid).cloned(),
            None if cache.keys.len() + cache.anonymous.len() == 1 => {
                cache.keys.values().next().or(cache.anonymous.first()).cloned()
            }
            None => None,
        }
    }

    /// Refetches the key set unless that happened less than [`REFRESH_MIN_INTERVAL`] ago.
    async fn refresh(&self) {
        let _one_at_a_time = self.refresh.lock().await;
        let recent = self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .fetched
            .is_some_and(|t| t.elapsed() < REFRESH_MIN_INTERVAL);
        if recent {
            return;
        }
        match self.fetch().await {
            Ok(set) => {
                let mut fresh = KeyCache { fetched: Some(Instant::now()), ..KeyCache::default() };
                for jwk in &set.keys {
                    let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
                    match &jwk.common.key_id {
                        Some(kid) => {
                            fresh.keys.insert(kid.clone(), key);
                        }
                        None => fresh.anonymous.push(key),
                    }
                }
                tracing::info!(target: "switchboard::auth", keys = fresh.keys.len() + fresh.anonymous.len(), "JWKS fetched");
                *self.cache.write().unwrap_or_else(|p| p.into_inner()) = fresh;
            }
            Err(e) => {
                tracing::warn!(target: "switchboard::auth", error = %e, url = %self.config.jwks_url, "could not fetch the JWKS");
                self.cache.write().unwrap_or_else(|p| p.into_inner()).fetched = Some(Instant::now());
            }
        }
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let response = self.client.get(&self.config.jwks_url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!("the key set is {} bytes; the limit is {MAX_JWKS_BYTES}", body.len()));
        }
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    }

    async fn check(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
        if !self.config.algorithms.contains(&header.alg) {
            return Err(AuthError::Invalid);
        }
        let key = match self.key_for(header.kid.as_deref()) {
            Some(key) => key,
            None => {
                self.refresh().await;
                self.key_for(header.kid.as_deref()).ok_or(AuthError::Invalid)?
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.algorithms = self.config.algorithms.clone();
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.leeway = self.config.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| {
            tracing::debug!(target: "switchboard::auth", error = %e, "JWT refused");
            AuthError::Invalid
        })?;
        self.principal(&data.claims)
    }

    fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, AuthError> {
        let id = claims.get(&self.config.id_claim).and_then(Value::as_str).unwrap_or_default();
        if id.is_empty() {
            return Err(AuthError::Invalid);
        }
        let roles: Vec<String> = match claims.get(&self.config.roles_claim) {
            Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        if !self.config.required_scopes.is_empty() && !self.config.required_scopes.iter().any(|s| roles.contains(s)) {
            return Err(AuthError::InsufficientScope(self.config.required_scopes.join(" ")));
        }
        let attributes = self
            .config
            .attributes
            .iter()
            .filter_map(|(claim, attribute)| Some((attribute.clone(), claims.get(claim)?.clone())))
            .collect();
        Ok(Principal::new(id, roles, attributes))
    }
}

/// Whether a credential has the shape of a JWT (three base64url parts).
fn looks_like_jwt(credential: &str) -> bool {
    credential.split('.').count() == 3 && credential.starts_with("ey")
}

impl Authenticate for JwtAuth {
    fn authenticate<'a>(&'a self, headers: &'a HeaderMap) -> AuthFuture<'a> {
        Box::pin(async move {
            let bearer = headers
                .get(http::header::AUTHORIZATION)
                .is_some()
                .then(|| presented_credential(headers))
                .flatten()
                .filter(|c| looks_like_jwt(c));
            match (bearer, &self.fallback) {
                (Some(token), _) => self.check(token).await,
                (None, Some(fallback)) => fallback.authenticate(headers).await,
                (None, None) => {
                    Err(if presented_credential(headers).is_some() { AuthError::Invalid } else { AuthError::Missing })
                }
            }
        })
    }

    fn challenge_params(&self) -> Option<String> {
        Some(format!("resource_metadata=\"{}\"", self.config.resource_metadata_url()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(audience: &str) -> JwtConfig {
        JwtConfig {
            issuer: "http://127.0.0.1:1/".into(),
            jwks_url: "http://127.0.0.1:1/jwks".into(),
            audience: audience.into(),
            algorithms: vec![Algorithm::RS256],
            leeway: Duration::from_secs(30),
            id_claim: "sub".into(),
            roles_claim: "scope".into(),
            attributes: [("customer_id".to_owned(), "customer_id".to_owned())].into(),
            required_scopes: Vec::new(),
            scopes_supported: vec!["customer".into()],
        }
    }

    #[test]
    fn the_metadata_names_the_resource_and_its_issuer_at_the_well_known_origin_path() {
        let c = config("http://127.0.0.1:8080/mcp");
        assert_eq!(c.resource_metadata_url(), "http://127.0.0.1:8080/.well-known/oauth-protected-resource");
        let doc = c.resource_metadata();
        assert_eq!(doc["resource"], "http://127.0.0.1:8080/mcp");
        assert_eq!(doc["authorization_servers"][0], "http://127.0.0.1:1/");
        assert_eq!(doc["bearer_methods_supported"][0], "header");
    }

    #[test]
    fn claims_become_a_principal_and_scopes_its_roles() {
        let auth = JwtAuth::new(config("http://x/mcp"), None);
        let claims: Map<String, Value> =
            serde_json::json!({"sub": "u1", "scope": "customer read", "customer_id": "CUST-0001"})
                .as_object()
                .cloned()
                .unwrap_or_default();
        let p = auth.principal(&claims).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.id(), "u1");
        assert!(p.has_role("customer") && p.has_role("read"));
        assert_eq!(p.attributes()["customer_id"], "CUST-0001");
        let mut strict = config("http://x/mcp");
        strict.required_scopes = vec!["admin".into()];
        let auth = JwtAuth::new(strict, None);
        assert_eq!(auth.principal(&claims), Err(AuthError::InsufficientScope("admin".into())));
    }
}
