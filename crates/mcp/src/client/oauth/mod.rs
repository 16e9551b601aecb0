//! The MCP authorization flow, client side: what a client does when an HTTP server answers
//! `401 Unauthorized`.
//!
//! 1. **Discovery**: the protected resource metadata (RFC 9728) from the challenge's
//!    `resource_metadata` or the well-known URIs; its `resource` must cover the server (else we
//!    stop: a server must not collect tokens meant for another). Then the authorization server
//!    metadata (RFC 8414 / OpenID Connect), whose `issuer` must equal the one the resource
//!    named, character for character. A 2025-03-26 server without resource metadata is its own
//!    authorization server, with default endpoints if it publishes no metadata either.
//! 2. **Client identity**, per issuer: a pre-registered client, a client ID metadata document
//!    URL where the server supports them, a registration already stored, or dynamic client
//!    registration (RFC 7591). Credentials are never carried from one issuer to another.
//! 3. **Authorization code with PKCE (S256)** through a [`UserAgent`], with `state`, the
//!    resource indicator (RFC 8707) and the scopes: the challenge's (added to those already
//!    granted, for a step-up on `insufficient_scope`), else the resource's `scopes_supported`,
//!    plus `offline_access` where the authorization server lists it. The redirect's `iss` is
//!    checked (RFC 9207) whenever present, and required when the server advertises it.
//! 4. **Tokens** are stored per issuer and resource ([`CredentialStore`]), refreshed before they
//!    expire, and sent as `Authorization: Bearer`.
//!
//! [`OAuth`] plugs into an [`HttpTarget`](super::HttpTarget) as its [`HttpAuth`]; the transport
//! retries a refused request at most twice (an authorization and a step-up).

mod challenge;
mod discovery;
mod dpop;
mod store;
mod token;
mod user_agent;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use futures_util::future::BoxFuture;
use reqwest::Url;
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use store::{CredentialStore, Registration, Tokens};
pub use user_agent::{CallbackParams, FollowRedirect, LoopbackBrowser, UserAgent};

use super::http::{AuthRefusal, HttpAuth};
use super::ClientError;
use challenge::Challenge;
use discovery::ServerMetadata;
use dpop::DpopKey;
use token::{oauth_error_text, JWT_BEARER};

/// Tokens this close to expiry are refreshed before use.
const EXPIRY_MARGIN_SECS: u64 = 30;

/// Why authorization failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// An authorization-related HTTP request failed.
    #[error("{url}: {reason}")]
    Http {
        /// What was requested.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// A metadata document is missing or unusable.
    #[error("{url}: {reason}")]
    Metadata {
        /// Where it was looked for.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The protected resource metadata describes another resource.
    #[error("the protected resource metadata names the resource {resource}, which is not {server}; refusing to authorize for it")]
    ResourceMismatch {
        /// The `resource` in the metadata.
        resource: String,
        /// The server we connect to.
        server: String,
    },
    /// The authorization server metadata is for another issuer (RFC 8414 §3.3).
    #[error("{url} describes the issuer {found:?}, not {expected:?}; its metadata is not used")]
    IssuerMismatch {
        /// Where the metadata was.
        url: String,
        /// The issuer the resource named.
        expected: String,
        /// The issuer in the document.
        found: String,
    },
    /// The redirect's `iss` is missing or wrong (RFC 9207): possibly a mix-up attack.
    #[error("the authorization response {0}; it is rejected")]
    IssuerParameter(String),
    /// The authorization server does not support what MCP requires.
    #[error("the authorization server {issuer} {reason}")]
    Unsupported {
        /// Which server.
        issuer: String,
        /// What it lacks.
        reason: String,
    },
    /// The user or the authorization server refused (an `error` in the redirect).
    #[error("authorization was refused: {0}")]
    Denied(String),
    /// The token endpoint refused the request.
    #[error("the token endpoint {url} refused: {reason}")]
    TokenEndpoint {
        /// The token endpoint.
        url: String,
        /// The OAuth error and its description.
        reason: String,
    },
    /// Reaching the user or receiving the redirect failed.
    #[error("{0}")]
    Interaction(String),
    /// The credentials file could not be read or written.
    #[error("credentials file {path}: {reason}")]
    Store {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// How a client identifies itself and asks for tokens.
#[derive(Debug, Clone)]
pub struct OAuthOptions {
    /// Shown to the user by the authorization server (`client_name` in registration).
    pub client_name: String,
    /// A client registered beforehand (skips registration); used with every issuer.
    pub client_id: Option<String>,
    /// The pre-registered client's secret.
    pub client_secret: Option<String>,
    /// This client's metadata document URL, used as `client_id` where the authorization server
    /// supports client ID metadata documents.
    pub client_metadata_url: Option<String>,
    /// Scopes asked for beyond those the server names.
    pub scopes: Vec<String>,
    /// Ask for refresh tokens (`offline_access` where listed, the `refresh_token` grant type).
    pub offline_access: bool,
    /// Per-request timeout for the authorization server.
    pub timeout: Duration,
    /// How tokens are obtained. Default: the user authorizes (authorization code).
    pub grant: Grant,
    /// A private key the client authenticates with at the token endpoint (`private_key_jwt`,
    /// RFC 7523 §2.2) instead of a secret.
    pub private_key: Option<SigningKey>,
}

/// How the client obtains tokens.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Grant {
    /// A person authorizes in a browser: authorization code with PKCE.
    #[default]
    AuthorizationCode,
    /// The client acts for itself with its own credentials (`client_credentials`; SEP-1046):
    /// needs a pre-registered `client_id` with a secret or a [`SigningKey`].
    ClientCredentials,
    /// A JWT from the workload's identity provider is the grant (RFC 7523 `jwt-bearer`;
    /// workload identity federation).
    JwtBearer {
        /// The workload's JWT, whose audience is the authorization server.
        assertion: String,
    },
    /// Enterprise-managed authorization (SEP-990): the user's ID token is exchanged at the
    /// enterprise identity provider (RFC 8693) for an identity assertion grant, which the
    /// authorization server takes as a `jwt-bearer` grant.
    IdentityAssertion {
        /// The identity provider's token endpoint.
        idp_token_endpoint: String,
        /// This client's ID at the identity provider.
        idp_client_id: String,
        /// Its secret there, if it has one.
        idp_client_secret: Option<String>,
        /// The user's ID token from the identity provider.
        id_token: String,
    },
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Grant::AuthorizationCode => "AuthorizationCode",
            Grant::ClientCredentials => "ClientCredentials",
            Grant::JwtBearer { .. } => "JwtBearer { .. }",
            Grant::IdentityAssertion { .. } => "IdentityAssertion { .. }",
        })
    }
}

/// A private key for `private_key_jwt` client authentication.
#[derive(Clone)]
pub struct SigningKey {
    /// The key, PEM-encoded (PKCS#8 for EC and Ed25519; PKCS#1 or PKCS#8 for RSA).
    pub pem: String,
    /// The JWS algorithm: `ES256` (default), `ES384`, `RS256`, `PS256`, `EdDSA`, ...
    pub algorithm: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl Default for OAuthOptions {
    fn default() -> Self {
        Self {
            client_name: "Switchboard".into(),
            client_id: None,
            client_secret: None,
            client_metadata_url: None,
            scopes: Vec::new(),
            offline_access: true,
            timeout: Duration::from_secs(30),
            grant: Grant::AuthorizationCode,
            private_key: None,
        }
    }
}

/// The token in use and where it came from.
#[derive(Debug, Clone)]
struct Current {
    issuer: String,
    resource: String,
    tokens: Tokens,
    /// Where to refresh it (learned by discovery; absent for tokens loaded from the store).
    token_endpoint: Option<String>,
    /// The key the tokens are bound to, for DPoP tokens.
    dpop: Option<Arc<DpopKey>>,
    /// The MCP server's latest DPoP nonce.
    nonce: Option<String>,
}

impl Current {
    fn new(issuer: String, resource: String, tokens: Tokens, token_endpoint: Option<String>) -> Self {
        // A kept key that no longer loads makes the tokens useless; the server's next
        // challenge starts over.
        let dpop = tokens.dpop_key.as_deref().and_then(|k| DpopKey::from_pkcs8(k).ok()).map(Arc::new);
        Self { issuer, resource, tokens, token_endpoint, dpop, nonce: None }
    }
}

/// OAuth 2.1 authorization for one MCP server: see the [module docs](self).
#[derive(Debug)]
pub struct OAuth {
    server: Url,
    options: OAuthOptions,
    store: Arc<CredentialStore>,
    user_agent: Arc<dyn UserAgent>,
    http: reqwest::Client,
    /// One authorization at a time; concurrent refusals wait and reuse its result.
    current: tokio::sync::Mutex<Option<Current>>,
}

impl OAuth {
    /// Authorization for the MCP endpoint `server_url`.
    pub fn new(
        server_url: &str,
        options: OAuthOptions,
        store: Arc<CredentialStore>,
        user_agent: Arc<dyn UserAgent>,
    ) -> Result<Self, OAuthError> {
        let server = Url::parse(server_url)
            .map_err(|e| OAuthError::Metadata { url: server_url.to_owned(), reason: format!("not a URL: {e}") })?;
        install_crypto();
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| OAuthError::Interaction(format!("cannot build the HTTP client: {e}")))?;
        let current = store
            .tokens_for_resource(&canonical_resource(&server))
            .map(|(issuer, tokens)| Current::new(issuer, canonical_resource(&server), tokens, None));
        Ok(Self { server, options, store, user_agent, http, current: tokio::sync::Mutex::new(current) })
    }

    fn error(&self, e: OAuthError) -> ClientError {
        ClientError::Unauthorized { server: self.server.to_string(), reason: e.to_string() }
    }

    /// Refreshes the current token; `Ok(false)` when there is nothing to refresh with.
    async fn refresh(&self, current: &mut Current) -> Result<bool, OAuthError> {
        let Some(refresh_token) = current.tokens.refresh_token.clone() else { return Ok(false) };
        let Some(registration) = self.registration_for_refresh(&current.issuer) else { return Ok(false) };
        let metadata = match &current.token_endpoint {
            Some(endpoint) => ServerMetadata {
                issuer: current.issuer.clone(),
                token_endpoint: endpoint.clone(),
                ..ServerMetadata::default()
            },
            None => discovery::server_metadata(&self.http, &current.issuer, true).await?,
        };
        let form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh_token.clone()),
            ("resource", current.resource.clone()),
        ];
        let mut tokens = self.token_request(&metadata, &registration, form, None, current.dpop.as_deref()).await?;
        tokens.refresh_token = tokens.refresh_token.or(Some(refresh_token));
        tokens.scope = tokens.scope.or_else(|| current.tokens.scope.clone());
        self.store.save_tokens(&current.issuer, &current.resource, Some(tokens.clone()))?;
        *current =
            Current::new(current.issuer.clone(), current.resource.clone(), tokens, Some(metadata.token_endpoint));
        Ok(true)
    }

    fn registration_for_refresh(&self, issuer: &str) -> Option<Registration> {
        self.preregistered().or_else(|| self.store.registration(issuer))
    }

    /// The whole flow, from discovery to a stored token.
    async fn authorize(&self, challenge: &Challenge, prior: Option<&Current>) -> Result<Current, OAuthError> {
        let resource_metadata =
            discovery::resource_metadata(&self.http, &self.server, challenge.resource_metadata.as_deref()).await?;
        let (issuer, resource, resource_scopes) = match &resource_metadata {
            Some(m) => {
                let issuer = m.authorization_servers.first().cloned().ok_or_else(|| OAuthError::Metadata {
                    url: m.resource.clone(),
                    reason: "the protected resource metadata names no authorization server".into(),
                })?;
                (issuer, m.resource.clone(), m.scopes_supported.clone())
            }
            // 2025-03-26: the MCP server's origin is the authorization server.
            None => (discovery::origin(&self.server), canonical_resource(&self.server), None),
        };
        let metadata = discovery::server_metadata(&self.http, &issuer, resource_metadata.is_none()).await?;
        if !metadata.code_challenge_methods_supported.as_ref().is_some_and(|m| m.iter().any(|m| m == "S256")) {
            return Err(OAuthError::Unsupported {
                issuer,
                reason: "does not advertise PKCE with S256 (code_challenge_methods_supported)".into(),
            });
        }

        // Tokens stored meanwhile (another process, e.g. `switchboard client` logging in for the
        // gateway, shares the file) are used as they are.
        let stored = self.store.tokens(&issuer, &resource);
        if let Some(stored) = &stored {
            let fresh = prior.is_none_or(|p| p.tokens.access_token != stored.access_token);
            let live = stored.expires_at.is_none_or(|at| at > now() + EXPIRY_MARGIN_SECS);
            if fresh && live && !challenge.is_insufficient_scope() {
                return Ok(Current::new(issuer, resource, stored.clone(), Some(metadata.token_endpoint)));
            }
        }

        // A refresh still works when only the token expired and the issuer is the same: the
        // token in use, else the one stored (an expired login from an earlier run).
        let refreshable = prior
            .filter(|p| p.issuer == issuer)
            .cloned()
            .or_else(|| stored.map(|t| Current::new(issuer.clone(), resource.clone(), t, None)));
        if let Some(old) = refreshable.filter(|_| !challenge.is_insufficient_scope()) {
            let mut refreshed = old.clone();
            refreshed.token_endpoint = Some(metadata.token_endpoint.clone());
            if matches!(self.refresh(&mut refreshed).await, Ok(true)) && refreshed.tokens != old.tokens {
                return Ok(refreshed);
            }
        }

        let scope = self.scope(challenge, prior.filter(|p| p.issuer == issuer), resource_scopes, &metadata);
        // Sender-constrained tokens wherever the authorization server offers them (RFC 9449).
        let dpop = match metadata.dpop_signing_alg_values_supported.as_ref() {
            Some(algs) if algs.iter().any(|a| a == dpop::ALGORITHM) => Some(DpopKey::generate()?),
            _ => None,
        };
        let mut tokens = match &self.options.grant {
            Grant::AuthorizationCode => {
                self.authorization_code(&issuer, &metadata, &resource, scope.clone(), dpop.as_ref()).await?
            }
            grant => self.machine_grant(grant, &metadata, &resource, scope.clone(), dpop.as_ref()).await?,
        };
        tokens.scope = tokens.scope.or(scope);
        self.store.save_tokens(&issuer, &resource, Some(tokens.clone()))?;
        if let Some(prior) = prior.filter(|p| p.issuer != issuer) {
            // The resource moved to another authorization server: the old tokens are dead.
            let _ = self.store.save_tokens(&prior.issuer, &prior.resource, None);
        }
        Ok(Current::new(issuer, resource, tokens, Some(metadata.token_endpoint)))
    }

    /// A token without a person: the client's own credentials, or an assertion.
    async fn machine_grant(
        &self,
        grant: &Grant,
        metadata: &ServerMetadata,
        resource: &str,
        scope: Option<String>,
        dpop: Option<&DpopKey>,
    ) -> Result<Tokens, OAuthError> {
        let registration = self.preregistered().ok_or_else(|| OAuthError::Unsupported {
            issuer: metadata.issuer.clone(),
            reason: "cannot be used without a user unless a client_id is configured".into(),
        })?;
        let mut form = vec![("resource", resource.to_owned())];
        match grant {
            Grant::ClientCredentials => form.push(("grant_type", "client_credentials".into())),
            Grant::JwtBearer { assertion } => {
                form.push(("grant_type", JWT_BEARER.into()));
                form.push(("assertion", assertion.clone()));
            }
            Grant::IdentityAssertion { idp_token_endpoint, idp_client_id, idp_client_secret, id_token } => {
                let jag = self
                    .exchange_id_token(
                        idp_token_endpoint,
                        idp_client_id,
                        idp_client_secret.as_deref(),
                        id_token,
                        metadata,
                        resource,
                    )
                    .await?;
                form.push(("grant_type", JWT_BEARER.into()));
                form.push(("assertion", jag));
            }
            Grant::AuthorizationCode => unreachable!("handled by authorization_code"),
        }
        if let Some(scope) = &scope {
            form.push(("scope", scope.clone()));
        }
        self.token_request(metadata, &registration, form, scope.as_deref(), dpop).await
    }

    /// RFC 8693 at the enterprise identity provider: the user's ID token for an identity
    /// assertion grant addressed to this authorization server and resource.
    async fn exchange_id_token(
        &self,
        endpoint: &str,
        client_id: &str,
        client_secret: Option<&str>,
        id_token: &str,
        metadata: &ServerMetadata,
        resource: &str,
    ) -> Result<String, OAuthError> {
        let mut form = vec![
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange".to_owned()),
            ("requested_token_type", "urn:ietf:params:oauth:token-type:id-jag".to_owned()),
            ("subject_token", id_token.to_owned()),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:id_token".to_owned()),
            ("audience", metadata.issuer.clone()),
            ("resource", resource.to_owned()),
            ("client_id", client_id.to_owned()),
        ];
        if let Some(secret) = client_secret {
            form.push(("client_secret", secret.to_owned()));
        }
        let answer = self.post_form(endpoint, Vec::new(), form, None).await?;
        answer.access_token.ok_or_else(|| OAuthError::TokenEndpoint {
            url: endpoint.to_owned(),
            reason: "the token exchange answer has no access_token (the identity assertion)".into(),
        })
    }

    /// Authorization code with PKCE, through the user agent.
    async fn authorization_code(
        &self,
        issuer: &str,
        metadata: &ServerMetadata,
        resource: &str,
        scope: Option<String>,
        dpop: Option<&DpopKey>,
    ) -> Result<Tokens, OAuthError> {
        let registration = self.registration(issuer, metadata).await?;

        // PKCE and state.
        let verifier = random_token()?;
        let code_challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = random_token()?;
        let redirect_uri = self.user_agent.redirect_uri();
        let mut url = Url::parse(&metadata.authorization_endpoint).map_err(|e| OAuthError::Metadata {
            url: metadata.authorization_endpoint.clone(),
            reason: format!("the authorization endpoint is not a URL: {e}"),
        })?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &registration.client_id)
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("state", &state)
                .append_pair("code_challenge", &code_challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("resource", resource);
            if let Some(scope) = &scope {
                query.append_pair("scope", scope);
            }
        }
        let callback = self.user_agent.authorize(url.as_str()).await?;
        let param = |name: &str| callback.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        if let Some(error) = param("error") {
            let description = param("error_description").map(|d| format!(": {d}")).unwrap_or_default();
            return Err(OAuthError::Denied(format!("{error}{description}")));
        }
        if param("state").as_deref() != Some(state.as_str()) {
            return Err(OAuthError::Interaction("the authorization response does not carry our state".into()));
        }
        // RFC 9207 / SEP-2468: simple string comparison, no normalization.
        match param("iss") {
            Some(iss) if iss != metadata.issuer => {
                return Err(OAuthError::IssuerParameter(format!(
                    "names the issuer {iss:?}, but we asked {:?}",
                    metadata.issuer
                )))
            }
            None if metadata.authorization_response_iss_parameter_supported => {
                return Err(OAuthError::IssuerParameter(
                    "has no iss parameter although the authorization server advertises it".into(),
                ))
            }
            _ => {}
        }
        let code =
            param("code").ok_or_else(|| OAuthError::Interaction("the authorization response has no code".into()))?;
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("resource", resource.to_owned()),
        ];
        self.token_request(metadata, &registration, form, scope.as_deref(), dpop).await
    }

    /// The configured client, used with every issuer.
    fn preregistered(&self) -> Option<Registration> {
        self.options.client_id.as_ref().map(|client_id| Registration {
            client_id: client_id.clone(),
            client_secret: self.options.client_secret.clone(),
            token_endpoint_auth_method: None,
            redirect_uri: self.user_agent.redirect_uri(),
        })
    }

    /// How we are known to `issuer`: pre-registered, a metadata document URL, stored, or newly
    /// registered.
    async fn registration(&self, issuer: &str, metadata: &ServerMetadata) -> Result<Registration, OAuthError> {
        let redirect_uri = self.user_agent.redirect_uri();
        if let Some(registration) = self.preregistered() {
            return Ok(registration);
        }
        if let (true, Some(url)) = (metadata.client_id_metadata_document_supported, &self.options.client_metadata_url) {
            return Ok(Registration {
                client_id: url.clone(),
                client_secret: None,
                token_endpoint_auth_method: Some("none".into()),
                redirect_uri,
            });
        }
        if let Some(stored) = self.store.registration(issuer).filter(|r| r.redirect_uri == redirect_uri) {
            return Ok(stored);
        }
        let Some(endpoint) = &metadata.registration_endpoint else {
            return Err(OAuthError::Unsupported {
                issuer: issuer.to_owned(),
                reason: "offers no dynamic client registration and no client ID metadata documents; configure a pre-registered client_id".into(),
            });
        };
        let mut grant_types = vec!["authorization_code"];
        if self.options.offline_access {
            grant_types.push("refresh_token");
        }
        let body = serde_json::json!({
            "client_name": self.options.client_name,
            "redirect_uris": [redirect_uri],
            "grant_types": grant_types,
            "response_types": ["code"],
            "application_type": "native",
        });
        let response = self
            .http
            .post(endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| OAuthError::Http { url: endpoint.clone(), reason: e.to_string() })?;
        let status = response.status();
        let bytes = discovery::read_limited(response, endpoint).await?;
        if !status.is_success() {
            return Err(OAuthError::Unsupported {
                issuer: issuer.to_owned(),
                reason: format!("refused client registration: HTTP {status}: {}", oauth_error_text(&bytes)),
            });
        }
        #[derive(Deserialize)]
        struct Registered {
            client_id: String,
            #[serde(default)]
            client_secret: Option<String>,
            #[serde(default)]
            token_endpoint_auth_method: Option<String>,
        }
        let registered: Registered = serde_json::from_slice(&bytes).map_err(|e| OAuthError::Metadata {
            url: endpoint.clone(),
            reason: format!("the registration answer is unusable: {e}"),
        })?;
        let registration = Registration {
            client_id: registered.client_id,
            client_secret: registered.client_secret,
            token_endpoint_auth_method: registered.token_endpoint_auth_method,
            redirect_uri,
        };
        self.store.save_registration(issuer, registration.clone())?;
        Ok(registration)
    }

    /// The scopes to ask for (MCP's scope selection strategy), or `None` to omit the parameter.
    fn scope(
        &self,
        challenge: &Challenge,
        prior: Option<&Current>,
        resource_scopes: Option<Vec<String>>,
        metadata: &ServerMetadata,
    ) -> Option<String> {
        fn add(scopes: &mut Vec<String>, more: &str) {
            for s in more.split_whitespace() {
                if !scopes.iter().any(|have| have == s) {
                    scopes.push(s.to_owned());
                }
            }
        }
        let mut scopes: Vec<String> = Vec::new();
        match &challenge.scope {
            Some(challenged) => {
                // A step-up keeps what was granted before (SEP-2350).
                if let Some(granted) = prior.and_then(|p| p.tokens.scope.as_deref()) {
                    add(&mut scopes, granted);
                }
                add(&mut scopes, challenged);
            }
            None => resource_scopes.iter().flatten().for_each(|s| add(&mut scopes, s)),
        }
        self.options.scopes.iter().for_each(|s| add(&mut scopes, s));
        let offline = self.options.offline_access
            && metadata.scopes_supported.as_ref().is_some_and(|s| s.iter().any(|s| s == "offline_access"));
        if offline && !scopes.is_empty() {
            add(&mut scopes, "offline_access");
        }
        (!scopes.is_empty()).then(|| scopes.join(" "))
    }
}

impl HttpAuth for OAuth {
    fn authorization<'a>(
        &'a self,
        method: &'a str,
        url: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(&'static str, String)>, ClientError>> {
        Box::pin(async move {
            let mut current = self.current.lock().await;
            let Some(c) = current.as_mut() else { return Ok(Vec::new()) };
            let expired = c.tokens.expires_at.is_some_and(|at| at <= now() + EXPIRY_MARGIN_SECS);
            if expired {
                match self.refresh(c).await {
                    Ok(true) => {}
                    Ok(false) => {
                        // Nothing to refresh with: go without, and let the server's challenge
                        // start a new authorization.
                        *current = None;
                        return Ok(Vec::new());
                    }
                    Err(e) => {
                        tracing::info!(target: "switchboard::client", server = %self.server, error = %e, "token refresh failed; authorizing again");
                        *current = None;
                        return Ok(Vec::new());
                    }
                }
            }
            let Some(c) = current.as_ref() else { return Ok(Vec::new()) };
            let token = &c.tokens.access_token;
            Ok(match &c.dpop {
                Some(key) => {
                    let proof = key.proof(method, url, c.nonce.as_deref(), Some(token)).map_err(|e| self.error(e))?;
                    vec![("authorization", format!("DPoP {token}")), ("dpop", proof)]
                }
                None => vec![("authorization", format!("Bearer {token}"))],
            })
        })
    }

    fn refused(&self, refusal: AuthRefusal) -> BoxFuture<'_, Result<bool, ClientError>> {
        Box::pin(async move {
            let challenge = Challenge::parse(&refusal.challenge);
            // A 403 is about credentials only when it asks for more scope.
            if refusal.status == 403 && !challenge.is_insufficient_scope() {
                return Ok(false);
            }
            let mut current = self.current.lock().await;
            if challenge.wants_dpop_nonce() {
                // Not a refusal of the token: the next proof carries the server's nonce.
                let Some(c) = current.as_mut().filter(|c| c.dpop.is_some()) else { return Ok(false) };
                let Some(nonce) = refusal.nonce else { return Ok(false) };
                c.nonce = Some(nonce);
                return Ok(true);
            }
            let in_use = current.as_ref().map(|c| c.tokens.access_token.as_str());
            let sent = refusal.sent.as_deref().and_then(|s| s.split_once(' ')).map(|(_, token)| token);
            if in_use.is_some() && in_use != sent {
                return Ok(true); // Another request got new credentials meanwhile: use them.
            }
            let prior = current.take();
            tracing::info!(target: "switchboard::client", server = %self.server, status = refusal.status, scope = ?challenge.scope, "authorizing");
            match self.authorize(&challenge, prior.as_ref()).await {
                Ok(fresh) => {
                    *current = Some(fresh);
                    Ok(true)
                }
                Err(e) => {
                    *current = prior;
                    Err(self.error(e))
                }
            }
        })
    }
}

/// rustls needs a crypto provider before any client is built; installing ring is idempotent
/// process-wide.
fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The resource identifier of a server without metadata: its URL without fragment.
fn canonical_resource(server: &Url) -> String {
    let mut url = server.clone();
    url.set_fragment(None);
    url.to_string()
}

/// 32 random bytes, Base64url: a PKCE verifier (43 characters) or a `state`.
fn random_token() -> Result<String, OAuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| OAuthError::Interaction(format!("no randomness available: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
