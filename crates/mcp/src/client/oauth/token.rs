//! The token endpoint: token requests with the client's authentication method (secret, key or
//! none), DPoP proofs and nonce retries, and what the endpoint answers.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;

use super::discovery::{self, ServerMetadata};
use super::dpop::DpopKey;
use super::{now, random_token, OAuth, OAuthError, Registration, SigningKey, Tokens};

impl OAuth {
    /// A token endpoint request with the client's authentication method.
    pub(super) async fn token_request(
        &self,
        metadata: &ServerMetadata,
        registration: &Registration,
        mut form: Vec<(&'static str, String)>,
        requested_scope: Option<&str>,
        dpop: Option<&DpopKey>,
    ) -> Result<Tokens, OAuthError> {
        let endpoint = &metadata.token_endpoint;
        let method =
            if self.options.private_key.is_some() { "private_key_jwt" } else { auth_method(registration, metadata) };
        let mut headers = Vec::new();
        match (method, &registration.client_secret, &self.options.private_key) {
            ("private_key_jwt", _, Some(key)) => {
                form.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()));
                form.push(("client_assertion", client_assertion(key, &registration.client_id, &metadata.issuer)?));
            }
            ("client_secret_basic", Some(secret), _) => {
                // RFC 6749 §2.3.1: both parts form-encoded before Base64.
                let user = form_encode(&registration.client_id);
                let pass = form_encode(secret);
                headers.push((
                    reqwest::header::AUTHORIZATION,
                    format!("Basic {}", STANDARD.encode(format!("{user}:{pass}"))),
                ));
            }
            ("client_secret_post", Some(secret), _) => {
                form.push(("client_id", registration.client_id.clone()));
                form.push(("client_secret", secret.clone()));
            }
            _ => form.push(("client_id", registration.client_id.clone())),
        }
        let answer = self.post_form(endpoint, headers, form, dpop).await?;
        let access_token = answer.access_token.ok_or_else(|| OAuthError::TokenEndpoint {
            url: endpoint.clone(),
            reason: "the answer has no access_token".into(),
        })?;
        let kind = answer.token_type.as_deref().unwrap_or("Bearer");
        let bound = match (kind.to_ascii_lowercase().as_str(), dpop) {
            ("bearer", _) => None,
            ("dpop", Some(key)) => Some(key.pkcs8().to_owned()),
            _ => {
                return Err(OAuthError::TokenEndpoint {
                    url: endpoint.clone(),
                    reason: format!("issued a {kind:?} token, which this client cannot present"),
                })
            }
        };
        Ok(Tokens {
            access_token,
            refresh_token: answer.refresh_token,
            expires_at: answer.expires_in.map(|s| now().saturating_add(s)),
            scope: answer.scope.or_else(|| requested_scope.map(str::to_owned)),
            dpop_key: bound,
        })
    }

    /// POSTs a form to a token endpoint and reads its JSON answer or OAuth error.
    /// With a DPoP key, each try carries a fresh proof, and one `use_dpop_nonce` answer is
    /// retried with the server's nonce (RFC 9449 §8).
    pub(super) async fn post_form(
        &self,
        endpoint: &str,
        headers: Vec<(reqwest::header::HeaderName, String)>,
        form: Vec<(&'static str, String)>,
        dpop: Option<&DpopKey>,
    ) -> Result<TokenResponse, OAuthError> {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter()).finish();
        let mut nonce: Option<String> = None;
        let (status, bytes) = loop {
            let mut request = self
                .http
                .post(endpoint)
                .header(reqwest::header::ACCEPT, "application/json")
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            for (name, value) in &headers {
                request = request.header(name, value);
            }
            if let Some(key) = dpop {
                request = request.header("dpop", key.proof("POST", endpoint, nonce.as_deref(), None)?);
            }
            let response = request
                .body(body.clone())
                .send()
                .await
                .map_err(|e| OAuthError::Http { url: endpoint.to_owned(), reason: e.to_string() })?;
            let status = response.status();
            let offered = response.headers().get("dpop-nonce").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let bytes = discovery::read_limited(response, endpoint).await?;
            let wants_nonce = status == reqwest::StatusCode::BAD_REQUEST
                && oauth_error_code(&bytes).as_deref() == Some("use_dpop_nonce");
            match offered {
                Some(offered) if dpop.is_some() && wants_nonce && nonce.is_none() => nonce = Some(offered),
                _ => break (status, bytes),
            }
        };
        if !status.is_success() {
            return Err(OAuthError::TokenEndpoint {
                url: endpoint.to_owned(),
                reason: format!("HTTP {status}: {}", oauth_error_text(&bytes)),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| OAuthError::TokenEndpoint {
            url: endpoint.to_owned(),
            reason: format!("the answer is not a token response: {e}"),
        })
    }
}

/// A token endpoint's answer (RFC 6749 §5.1; RFC 8693 §2.2.1 for exchanges).
#[derive(Deserialize)]
pub(super) struct TokenResponse {
    #[serde(default)]
    pub(super) access_token: Option<String>,
    #[serde(default)]
    pub(super) token_type: Option<String>,
    #[serde(default)]
    pub(super) expires_in: Option<u64>,
    #[serde(default)]
    pub(super) refresh_token: Option<String>,
    #[serde(default)]
    pub(super) scope: Option<String>,
}

/// The `grant_type` of RFC 7523 assertions.
pub(super) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A `private_key_jwt` client assertion (RFC 7523 §3): issued by and about the client, for the
/// authorization server, valid five minutes, never reused.
fn client_assertion(key: &SigningKey, client_id: &str, audience: &str) -> Result<String, OAuthError> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let bad_key = |reason: String| OAuthError::Unsupported { issuer: audience.to_owned(), reason };
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    let algorithm: Algorithm = key
        .algorithm
        .parse()
        .map_err(|_| bad_key(format!("cannot be used: unknown signing algorithm {:?}", key.algorithm)))?;
    let pem = key.pem.as_bytes();
    let encoding = match algorithm {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            return Err(bad_key("cannot be used: private_key_jwt needs an asymmetric algorithm".into()))
        }
        _ => EncodingKey::from_rsa_pem(pem),
    }
    .map_err(|e| bad_key(format!("cannot be used: the private key is not a {:?} key: {e}", key.algorithm)))?;
    let now = now();
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 300,
        "jti": random_token()?,
    });
    jsonwebtoken::encode(&Header::new(algorithm), &claims, &encoding)
        .map_err(|e| bad_key(format!("cannot sign the client assertion: {e}")))
}

/// The token endpoint authentication method: what registration said, else the best the server
/// lists for a client with a secret, else `none`.
pub(super) fn auth_method<'a>(registration: &'a Registration, metadata: &ServerMetadata) -> &'a str {
    if let Some(method) = &registration.token_endpoint_auth_method {
        return method;
    }
    if registration.client_secret.is_none() {
        return "none";
    }
    match &metadata.token_endpoint_auth_methods_supported {
        // RFC 8414: absent means client_secret_basic.
        None => "client_secret_basic",
        Some(methods) if methods.iter().any(|m| m == "client_secret_basic") => "client_secret_basic",
        Some(methods) if methods.iter().any(|m| m == "client_secret_post") => "client_secret_post",
        Some(_) => "none",
    }
}

pub(super) fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The `error` code of an OAuth error body.
fn oauth_error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body).ok()?.get("error")?.as_str().map(str::to_owned)
}

/// `error: error_description` from an OAuth error body, or the start of the body.
pub(super) fn oauth_error_text(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => match e.error_description {
            Some(d) => format!("{}: {d}", e.error),
            None => e.error,
        },
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned(),
    }
}
