//! OAuth for protected upstreams: the SDK's OAuth client, set up from an upstream's `oauth:`.
//! The gateway never shows a browser: an authorization-code upstream uses the tokens a person
//! obtained once with `switchboard client` (same credentials file) and refreshes them; a
//! `client_credentials` upstream needs nobody.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use switchboard_mcp::client::oauth::{
    CallbackParams, CredentialStore, Grant, LoopbackBrowser, OAuth, OAuthError, OAuthOptions, SigningKey, UserAgent,
};

use crate::config::{OAuthGrant, UpstreamOAuth};

/// Overrides where credentials are kept, for the gateway and `switchboard client` alike.
pub const CREDENTIALS_ENV: &str = "SWITCHBOARD_OAUTH_CREDENTIALS";
/// The credentials file's name in the data directory.
pub const CREDENTIALS_FILE: &str = "oauth-credentials.json";

/// Where an upstream's registrations and tokens are kept: `$SWITCHBOARD_OAUTH_CREDENTIALS`,
/// else its `credentials_file` (relative to the config file), else `default_dir`'s file.
pub fn credentials_path(oauth: &UpstreamOAuth, base_dir: &Path, default_dir: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os(CREDENTIALS_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    match &oauth.credentials_file {
        Some(file) => base_dir.join(file),
        None => default_dir.join(CREDENTIALS_FILE),
    }
}

/// The open credential stores, one per file, so upstreams sharing a file share one store.
#[derive(Debug, Default)]
pub struct CredentialFiles {
    open: Mutex<BTreeMap<PathBuf, Arc<CredentialStore>>>,
}

impl CredentialFiles {
    /// The store kept in `path`.
    pub fn open(&self, path: &Path) -> Result<Arc<CredentialStore>, OAuthError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = open.get(path) {
            return Ok(store.clone());
        }
        let store = Arc::new(CredentialStore::file(path)?);
        open.insert(path.to_owned(), store.clone());
        Ok(store)
    }
}

/// The OAuth client for the upstream at `url`, with `user_agent` for authorization-code grants.
pub fn oauth(
    url: &str,
    settings: &UpstreamOAuth,
    store: Arc<CredentialStore>,
    user_agent: Arc<dyn UserAgent>,
) -> Result<OAuth, OAuthError> {
    let options = OAuthOptions {
        client_name: "Switchboard".into(),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.as_ref().map(|s| s.expose().to_owned()),
        client_metadata_url: settings.client_metadata_url.clone(),
        scopes: settings.scopes.clone(),
        grant: match settings.grant {
            OAuthGrant::AuthorizationCode => Grant::AuthorizationCode,
            OAuthGrant::ClientCredentials => Grant::ClientCredentials,
        },
        private_key: settings.private_key.as_ref().map(|pem| SigningKey {
            pem: pem.expose().to_owned(),
            algorithm: settings.signing_algorithm.clone().unwrap_or_else(|| "ES256".into()),
        }),
        ..OAuthOptions::default()
    };
    OAuth::new(url, options, store, user_agent)
}

/// The loopback browser an upstream's settings describe (for `switchboard client`).
pub fn browser(settings: &UpstreamOAuth, open: bool) -> LoopbackBrowser {
    LoopbackBrowser::new(
        settings.callback_port.unwrap_or(LoopbackBrowser::DEFAULT_PORT),
        Duration::from_secs(300),
        open,
    )
}

/// The gateway's user agent: it has no person to send to a browser, so an authorization the
/// stored tokens cannot cover fails with the command that does it once.
#[derive(Debug)]
pub struct NeedsLogin {
    upstream: String,
    redirect_uri: String,
    credentials: PathBuf,
}

impl NeedsLogin {
    /// For `upstream`, whose redirect URI (registered by the person's login) is that of
    /// `settings`, and whose tokens are kept in `credentials`.
    pub fn new(upstream: &str, settings: &UpstreamOAuth, credentials: &Path) -> Self {
        Self {
            upstream: upstream.to_owned(),
            redirect_uri: browser(settings, false).redirect_uri(),
            credentials: credentials.to_owned(),
        }
    }
}

impl UserAgent for NeedsLogin {
    fn redirect_uri(&self) -> String {
        self.redirect_uri.clone()
    }

    fn authorize<'a>(&'a self, _url: &'a str) -> BoxFuture<'a, Result<CallbackParams, OAuthError>> {
        Box::pin(async move {
            Err(OAuthError::Interaction(format!(
                "upstream {} needs a person to authorize it once: run `switchboard client --config <its config> --server {} --oauth-credentials {} ping`",
                self.upstream,
                self.upstream,
                self.credentials.display()
            )))
        })
    }
}
