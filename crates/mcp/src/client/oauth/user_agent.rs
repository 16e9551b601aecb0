//! How the user reaches the authorization endpoint and how its redirect comes back to us.

use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::OAuthError;

/// The query parameters of the redirect back from the authorization endpoint.
pub type CallbackParams = Vec<(String, String)>;

/// Takes the user through the authorization endpoint and returns its redirect's parameters.
pub trait UserAgent: Send + Sync + std::fmt::Debug {
    /// Where the authorization server sends the user back (registered with it).
    fn redirect_uri(&self) -> String;

    /// Shows `url` to the user and waits for the redirect to [`UserAgent::redirect_uri`].
    fn authorize<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<CallbackParams, OAuthError>>;
}

/// Opens the system browser (or prints the URL) and receives the redirect on a loopback port
/// (RFC 8252 §7.3): for people at a terminal.
#[derive(Debug, Clone)]
pub struct LoopbackBrowser {
    port: u16,
    timeout: Duration,
    open: bool,
}

impl LoopbackBrowser {
    /// The port [`LoopbackBrowser::default`] listens on.
    pub const DEFAULT_PORT: u16 = 33418;

    /// Listens on `127.0.0.1:port` (the port is part of the registered redirect URI, so it is
    /// fixed); waits up to `timeout` for the user; tries to open a browser when `open`.
    pub fn new(port: u16, timeout: Duration, open: bool) -> Self {
        Self { port, timeout, open }
    }
}

impl Default for LoopbackBrowser {
    fn default() -> Self {
        Self::new(Self::DEFAULT_PORT, Duration::from_secs(300), true)
    }
}

impl UserAgent for LoopbackBrowser {
    fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    fn authorize<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<CallbackParams, OAuthError>> {
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.map_err(|e| {
                OAuthError::Interaction(format!("cannot listen on 127.0.0.1:{} for the redirect: {e}", self.port))
            })?;
            eprintln!("To authorize, open this URL in a browser:\n\n  {url}\n");
            if self.open {
                open_browser(url);
            }
            let wait = async {
                loop {
                    let (mut socket, _) = listener
                        .accept()
                        .await
                        .map_err(|e| OAuthError::Interaction(format!("the redirect listener failed: {e}")))?;
                    let Some(target) = read_request_target(&mut socket).await else { continue };
                    let Ok(parsed) = Url::parse(&format!("http://127.0.0.1{target}")) else { continue };
                    if parsed.path() != "/callback" {
                        let _ = socket.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").await;
                        continue;
                    }
                    let page = "<!doctype html><title>Switchboard</title><p>Authorization received. You can close this window.";
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                        page.len()
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                    return Ok(parsed.query_pairs().into_owned().collect());
                }
            };
            tokio::time::timeout(self.timeout, wait)
                .await
                .map_err(|_| OAuthError::Interaction(format!("no authorization came back within {:?}", self.timeout)))?
        })
    }
}

/// The request target of an HTTP/1 request line (`GET /callback?code=... HTTP/1.1`).
async fn read_request_target(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 || buf.len() > 16 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = std::str::from_utf8(&buf).ok()?.lines().next()?;
    let mut parts = line.split(' ');
    (parts.next()? == "GET").then_some(())?;
    parts.next().filter(|t| t.starts_with('/')).map(str::to_owned)
}

fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    // Best effort: a headless machine has none, and the URL is printed anyway.
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// Requests the authorization URL itself and takes the redirect from its `Location` header:
/// for authorization servers that approve without a person (test servers, pre-consented
/// machine clients). Never follows the redirect.
#[derive(Debug, Clone)]
pub struct FollowRedirect {
    redirect_uri: String,
    http: reqwest::Client,
}

impl FollowRedirect {
    /// Registers `redirect_uri` (never contacted).
    pub fn new(redirect_uri: impl Into<String>) -> Result<Self, OAuthError> {
        super::install_crypto();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| OAuthError::Interaction(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { redirect_uri: redirect_uri.into(), http })
    }
}

impl UserAgent for FollowRedirect {
    fn redirect_uri(&self) -> String {
        self.redirect_uri.clone()
    }

    fn authorize<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<CallbackParams, OAuthError>> {
        Box::pin(async move {
            let response = self
                .http
                .get(url)
                .send()
                .await
                .map_err(|e| OAuthError::Http { url: url.to_owned(), reason: e.to_string() })?;
            let location =
                response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(|| {
                    OAuthError::Interaction(format!(
                        "the authorization endpoint answered HTTP {} without redirecting",
                        response.status()
                    ))
                })?;
            let back = Url::parse(location)
                .map_err(|e| OAuthError::Interaction(format!("the redirect {location:?} is not a URL: {e}")))?;
            let expected = Url::parse(&self.redirect_uri)
                .map_err(|e| OAuthError::Interaction(format!("the redirect URI is not a URL: {e}")))?;
            if back.origin() != expected.origin() || back.path() != expected.path() {
                return Err(OAuthError::Interaction(format!(
                    "the authorization endpoint redirected to {}, not to our redirect URI",
                    back.origin().ascii_serialization()
                )));
            }
            Ok(back.query_pairs().into_owned().collect())
        })
    }
}
