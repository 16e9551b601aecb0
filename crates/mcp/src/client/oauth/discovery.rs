//! Finding the authorization server: the protected resource metadata (RFC 9728), then the
//! authorization server metadata (RFC 8414 or OpenID Connect Discovery), each at the locations
//! the MCP authorization spec lists, in its order.

use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use super::OAuthError;

/// The largest metadata document read.
const METADATA_LIMIT: usize = 256 * 1024;

/// RFC 9728 protected resource metadata (the fields we use).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ResourceMetadata {
    pub resource: String,
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
}

/// RFC 8414 authorization server metadata (the fields we use).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
}

/// Where the protected resource metadata may be, most specific first: the challenge's
/// `resource_metadata`, then the path-based and root well-known URIs.
pub(crate) fn resource_metadata_urls(server: &Url, from_challenge: Option<&str>) -> Vec<String> {
    let mut urls: Vec<String> = from_challenge.map(str::to_owned).into_iter().collect();
    let origin = origin(server);
    let path = server.path().trim_end_matches('/');
    if !path.is_empty() {
        urls.push(format!("{origin}/.well-known/oauth-protected-resource{path}"));
    }
    urls.push(format!("{origin}/.well-known/oauth-protected-resource"));
    urls.dedup();
    urls
}

/// Where an issuer's metadata may be (RFC 8414 §3.1 path insertion, then OpenID Connect
/// Discovery both ways).
pub(crate) fn server_metadata_urls(issuer: &Url) -> Vec<String> {
    let origin = origin(issuer);
    let path = issuer.path().trim_end_matches('/');
    if path.is_empty() {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
    }
}

/// `scheme://host[:port]`, as an issuer or a URL prefix (no trailing slash).
pub(crate) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Whether the metadata's `resource` covers the server we connect to: the same origin, and the
/// server's path equal to or below the resource's. Anything else is another resource, and a
/// token for it must not be asked for (a server could otherwise collect tokens for others).
pub(crate) fn resource_covers(resource: &str, server: &Url) -> bool {
    let Ok(resource) = Url::parse(resource) else { return false };
    if resource.fragment().is_some() || origin(&resource) != origin(server) {
        return false;
    }
    let want = resource.path().trim_end_matches('/');
    let have = server.path().trim_end_matches('/');
    have == want || have.starts_with(&format!("{want}/"))
}

/// Fetches a JSON document; `Ok(None)` when it is not there (any 4xx), an error when the
/// server failed or the body is not what `T` needs.
pub(crate) async fn fetch_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    what: &str,
) -> Result<Option<T>, OAuthError> {
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .map_err(|e| OAuthError::Http { url: url.to_owned(), reason: e.to_string() })?;
    let status = response.status();
    if status.is_client_error() {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(OAuthError::Http { url: url.to_owned(), reason: format!("HTTP {status} for the {what}") });
    }
    let body = read_limited(response, url).await?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| OAuthError::Metadata { url: url.to_owned(), reason: format!("the {what} is not JSON: {e}") })?;
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| OAuthError::Metadata { url: url.to_owned(), reason: format!("the {what} is incomplete: {e}") })
}

/// A response body, refused past [`METADATA_LIMIT`].
pub(crate) async fn read_limited(mut response: reqwest::Response, url: &str) -> Result<Vec<u8>, OAuthError> {
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| OAuthError::Http { url: url.to_owned(), reason: e.to_string() })?
    {
        if body.len() + chunk.len() > METADATA_LIMIT {
            return Err(OAuthError::Http {
                url: url.to_owned(),
                reason: format!("the answer is larger than {METADATA_LIMIT} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The protected resource metadata of `server`, if it publishes any.
pub(crate) async fn resource_metadata(
    http: &reqwest::Client,
    server: &Url,
    from_challenge: Option<&str>,
) -> Result<Option<ResourceMetadata>, OAuthError> {
    for url in resource_metadata_urls(server, from_challenge) {
        if let Some(metadata) = fetch_json::<ResourceMetadata>(http, &url, "protected resource metadata").await? {
            if !resource_covers(&metadata.resource, server) {
                return Err(OAuthError::ResourceMismatch { resource: metadata.resource, server: server.to_string() });
            }
            return Ok(Some(metadata));
        }
    }
    Ok(None)
}

/// The metadata of the authorization server `issuer` (exactly as the resource named it).
/// `fallback` allows the 2025-03-26 default endpoints when no document is published.
pub(crate) async fn server_metadata(
    http: &reqwest::Client,
    issuer: &str,
    fallback: bool,
) -> Result<ServerMetadata, OAuthError> {
    let issuer_url = Url::parse(issuer)
        .map_err(|e| OAuthError::Metadata { url: issuer.to_owned(), reason: format!("not a URL: {e}") })?;
    for url in server_metadata_urls(&issuer_url) {
        if let Some(metadata) = fetch_json::<ServerMetadata>(http, &url, "authorization server metadata").await? {
            // RFC 8414 §3.3: the issuer must be identical (no normalization), or the document
            // must not be used at all.
            if metadata.issuer != issuer {
                return Err(OAuthError::IssuerMismatch { url, expected: issuer.to_owned(), found: metadata.issuer });
            }
            return Ok(metadata);
        }
    }
    if !fallback {
        return Err(OAuthError::Metadata {
            url: issuer.to_owned(),
            reason: "the authorization server publishes no metadata at any well-known location".into(),
        });
    }
    let base = origin(&issuer_url);
    Ok(ServerMetadata {
        issuer: issuer.to_owned(),
        authorization_endpoint: format!("{base}/authorize"),
        token_endpoint: format!("{base}/token"),
        registration_endpoint: Some(format!("{base}/register")),
        code_challenge_methods_supported: Some(vec!["S256".into()]),
        ..ServerMetadata::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_metadata_is_looked_for_path_first() {
        let server = Url::parse("https://api.example.com/v1/mcp").expect("test value");
        assert_eq!(
            resource_metadata_urls(&server, None),
            [
                "https://api.example.com/.well-known/oauth-protected-resource/v1/mcp",
                "https://api.example.com/.well-known/oauth-protected-resource"
            ]
        );
        let root = Url::parse("http://localhost:3000/").expect("test value");
        assert_eq!(resource_metadata_urls(&root, None), ["http://localhost:3000/.well-known/oauth-protected-resource"]);
    }

    #[test]
    fn issuers_with_paths_get_path_insertion_then_oidc_both_ways() {
        let issuer = Url::parse("https://auth.example.com/tenant1").expect("test value");
        assert_eq!(
            server_metadata_urls(&issuer),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn a_resource_covers_its_own_paths_on_its_own_origin_only() {
        let server = Url::parse("http://localhost:3000/mcp").expect("test value");
        assert!(resource_covers("http://localhost:3000/mcp", &server));
        assert!(resource_covers("http://localhost:3000/", &server));
        assert!(resource_covers("http://localhost:3000", &server));
        assert!(!resource_covers("https://evil.example.com/mcp", &server));
        assert!(!resource_covers("http://localhost:3001/mcp", &server));
        assert!(!resource_covers("http://localhost:3000/mc", &server));
        assert!(!resource_covers("http://localhost:3000/mcp/deeper", &server));
    }
}
