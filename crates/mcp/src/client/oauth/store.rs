//! Client registrations and tokens, kept per authorization server (issuer) so that credentials
//! from one issuer are never shown to another, in memory or in a file only its owner can read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::OAuthError;

/// How this client is known to one authorization server.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Registration {
    /// The `client_id`.
    pub client_id: String,
    /// The secret, for confidential clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// How the client authenticates at the token endpoint, when the server said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// The redirect URI it was registered with.
    #[serde(default)]
    pub redirect_uri: String,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("token_endpoint_auth_method", &self.token_endpoint_auth_method)
            .finish()
    }
}

/// Tokens for one resource from one issuer.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// The refresh token, when the server issued one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the access token expires (Unix seconds), when the server said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The scopes granted (space-separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The DPoP key the tokens are bound to (PKCS#8, Base64url); `None` for Bearer tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_key: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field("dpop", &self.dpop_key.is_some())
            .finish()
    }
}

/// What is kept for one issuer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct IssuerEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registration: Option<Registration>,
    /// Keyed by resource (the protected resource's identifier).
    #[serde(default)]
    tokens: BTreeMap<String, Tokens>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct StoreData {
    #[serde(default)]
    issuers: BTreeMap<String, IssuerEntry>,
}

/// Registrations and tokens per issuer; in memory, or also written to a file with mode `0600`
/// (rewritten whole through a temporary file, so a crash leaves the old or the new one).
#[derive(Debug)]
pub struct CredentialStore {
    path: Option<PathBuf>,
    data: Mutex<StoreData>,
}

impl CredentialStore {
    /// A store that lives as long as the process.
    pub fn memory() -> Self {
        Self { path: None, data: Mutex::new(StoreData::default()) }
    }

    /// A store kept in `path` (created on first write). An unreadable or malformed file is an
    /// error rather than silently replaced.
    pub fn file(path: impl Into<PathBuf>) -> Result<Self, OAuthError> {
        let path = path.into();
        let data = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| OAuthError::Store {
                path: path.display().to_string(),
                reason: format!("not a credentials file: {e}"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StoreData::default(),
            Err(e) => return Err(OAuthError::Store { path: path.display().to_string(), reason: e.to_string() }),
        };
        Ok(Self { path: Some(path), data: Mutex::new(data) })
    }

    /// The file, if this store has one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `f` on the current data: a file store reads the file first (another process, e.g.
    /// `switchboard client` logging in for the gateway, may have changed it) and, with
    /// `write`, writes the result back.
    fn access<R>(&self, write: bool, f: impl FnOnce(&mut StoreData) -> R) -> Result<R, OAuthError> {
        let mut data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(path) = &self.path {
            if let Ok(bytes) = std::fs::read(path) {
                // A file that became unreadable keeps what we had rather than losing it.
                if let Ok(fresh) = serde_json::from_slice(&bytes) {
                    *data = fresh;
                }
            }
        }
        let result = f(&mut data);
        if write {
            self.persist(&data)?;
        }
        Ok(result)
    }

    /// How this client is registered with `issuer`.
    pub fn registration(&self, issuer: &str) -> Option<Registration> {
        self.access(false, |d| d.issuers.get(issuer).and_then(|e| e.registration.clone())).ok().flatten()
    }

    /// Records a registration with `issuer`.
    pub fn save_registration(&self, issuer: &str, registration: Registration) -> Result<(), OAuthError> {
        self.access(true, |d| d.issuers.entry(issuer.to_owned()).or_default().registration = Some(registration))
    }

    /// The tokens `issuer` granted for `resource`.
    pub fn tokens(&self, issuer: &str, resource: &str) -> Option<Tokens> {
        self.access(false, |d| d.issuers.get(issuer).and_then(|e| e.tokens.get(resource).cloned())).ok().flatten()
    }

    /// Any issuer's tokens for `resource` (used at start, before discovery names the issuer).
    pub fn tokens_for_resource(&self, resource: &str) -> Option<(String, Tokens)> {
        self.access(false, |d| {
            d.issuers.iter().find_map(|(issuer, e)| e.tokens.get(resource).map(|t| (issuer.clone(), t.clone())))
        })
        .ok()
        .flatten()
    }

    /// Records (or with `None` forgets) the tokens for `resource` from `issuer`.
    pub fn save_tokens(&self, issuer: &str, resource: &str, tokens: Option<Tokens>) -> Result<(), OAuthError> {
        self.access(true, |d| {
            let entry = d.issuers.entry(issuer.to_owned()).or_default();
            match tokens {
                Some(tokens) => {
                    entry.tokens.insert(resource.to_owned(), tokens);
                }
                None => {
                    entry.tokens.remove(resource);
                }
            }
        })
    }

    fn persist(&self, data: &StoreData) -> Result<(), OAuthError> {
        let Some(path) = &self.path else { return Ok(()) };
        let failed = |reason: String| OAuthError::Store { path: path.display().to_string(), reason };
        let json = serde_json::to_vec_pretty(data).map_err(|e| failed(e.to_string()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
        }
        let tmp = path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(|e| failed(e.to_string()))?;
        #[cfg(unix)]
        {
            // `mode` applies only when the file is created; a leftover must not stay readable.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(|e| failed(e.to_string()))?;
        }
        std::io::Write::write_all(&mut file, &json).map_err(|e| failed(e.to_string()))?;
        file.sync_all().map_err(|e| failed(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| failed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_store_is_private_and_keyed_by_issuer() {
        let dir = std::env::temp_dir().join(format!("sb-oauth-store-{}", std::process::id()));
        let path = dir.join("tokens.json");
        let store = CredentialStore::file(&path).expect("test value");
        let reg = Registration {
            client_id: "c1".into(),
            client_secret: Some("s".into()),
            token_endpoint_auth_method: None,
            redirect_uri: "http://127.0.0.1:1/callback".into(),
        };
        store.save_registration("https://as1.example", reg.clone()).expect("test value");
        let tokens =
            Tokens { access_token: "a".into(), refresh_token: None, expires_at: Some(5), scope: None, dpop_key: None };
        store.save_tokens("https://as1.example", "https://mcp.example/mcp", Some(tokens.clone())).expect("test value");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).expect("test value").permissions().mode() & 0o777, 0o600);
        }
        let reopened = CredentialStore::file(&path).expect("test value");
        assert_eq!(reopened.registration("https://as1.example"), Some(reg));
        assert_eq!(reopened.registration("https://as2.example"), None);
        assert_eq!(
            reopened.tokens_for_resource("https://mcp.example/mcp"),
            Some(("https://as1.example".to_owned(), tokens))
        );
        assert!(!format!("{:?}", reopened.registration("https://as1.example")).contains("\"s\""));
        std::fs::remove_dir_all(dir).expect("test value");
    }
}
