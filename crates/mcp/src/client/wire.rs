//! How one HTTP request reaches an MCP server. A plain `http://` endpoint with no proxy in the
//! environment is sent on hyper-util's pooled client directly: each request skips reqwest's
//! redirect, retry and URL layers, which cost more per call than everything else in the client
//! (see BENCHMARKS.md, the gateway cell). Everything else — TLS, a proxy from `HTTP_PROXY` /
//! `ALL_PROXY`, a redirect answered on the direct path — goes through reqwest, as before.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use reqwest::header::HeaderMap;
use reqwest::Method;

/// An answer, whichever client fetched it.
pub(crate) type Response = http::Response<reqwest::Body>;

/// The proxy variables reqwest honours for `http://` URLs: with any of them set, requests go
/// through reqwest so that the proxy (and its `NO_PROXY` exceptions) still apply.
const PROXY_VARIABLES: [&str; 4] = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

/// The two clients of one endpoint.
pub(crate) struct Wire {
    url: reqwest::Url,
    reqwest: reqwest::Client,
    /// hyper-util's client and the endpoint's URI, when the direct path applies.
    direct: Option<(hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>, http::Uri)>,
}

/// Why a request got no answer.
#[derive(Debug)]
pub(crate) enum SendError {
    Reqwest(reqwest::Error),
    Direct(hyper_util::client::legacy::Error),
}

impl SendError {
    /// The connection could not be made (as opposed to lost afterwards).
    pub(crate) fn is_connect(&self) -> bool {
        match self {
            Self::Reqwest(e) => e.is_connect(),
            Self::Direct(e) => e.is_connect(),
        }
    }

    pub(crate) fn as_error(&self) -> &(dyn std::error::Error + 'static) {
        match self {
            Self::Reqwest(e) => e,
            Self::Direct(e) => e,
        }
    }
}

impl Wire {
    /// The clients for `url`; `connect_timeout` bounds making a connection on either.
    pub(crate) fn new(url: reqwest::Url, connect_timeout: Duration) -> Result<Self, String> {
        // rustls needs a crypto provider; installing ring is idempotent process-wide.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let reqwest = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let proxied = PROXY_VARIABLES.iter().any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
        let direct = match (url.scheme(), proxied) {
            ("http", false) => url.as_str().parse::<http::Uri>().ok().map(|uri| {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                connector.set_connect_timeout(Some(connect_timeout));
                (hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector), uri)
            }),
            _ => None,
        };
        Ok(Self { url, reqwest, direct })
    }

    /// The reqwest client (the legacy HTTP+SSE transport uses it as it is).
    pub(crate) fn reqwest(&self) -> &reqwest::Client {
        &self.reqwest
    }

    /// Sends one request with the headers `headers` makes. A redirect answered on the direct
    /// path is sent again through reqwest, which follows it, so both paths answer alike.
    pub(crate) async fn send(
        &self,
        verb: Method,
        headers: impl Fn() -> HeaderMap,
        body: Bytes,
    ) -> Result<Response, SendError> {
        let Some((client, uri)) = &self.direct else { return self.via_reqwest(verb, headers(), body).await };
        let mut request = http::Request::new(Full::new(body.clone()));
        *request.method_mut() = verb.clone();
        *request.uri_mut() = uri.clone();
        *request.headers_mut() = headers();
        let response = client.request(request).await.map_err(SendError::Direct)?;
        if response.status().is_redirection() {
            return self.via_reqwest(verb, headers(), body).await;
        }
        Ok(response.map(reqwest::Body::wrap))
    }

    async fn via_reqwest(&self, verb: Method, headers: HeaderMap, body: Bytes) -> Result<Response, SendError> {
        let response = self
            .reqwest
            .request(verb, self.url.clone())
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(SendError::Reqwest)?;
        Ok(response.into())
    }
}

/// A response body read frame by frame, or `None` as soon as it passes `cap` bytes (a declared
/// length over it is refused before reading): a server cannot make us buffer more.
pub(crate) async fn read_capped(response: Response, cap: usize) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut body = response.into_body();
    if hyper::body::Body::size_hint(&body).lower() > cap as u64 {
        return Ok(None);
    }
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame?.into_data() else { continue }; // Trailers carry no content.
        if out.len() + chunk.len() > cap {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

/// A response body as a stream of chunks (for the SSE decoder).
pub(crate) fn chunks(
    response: Response,
) -> impl futures_util::Stream<Item = Result<Bytes, reqwest::Error>> + Send + 'static {
    http_body_util::BodyDataStream::new(response.into_body())
}

#[cfg(all(test, feature = "http-server"))]
mod tests {
    use axum::routing::post;

    use super::*;

    /// A loopback server whose `/old` redirects (307) to `/mcp`, which echoes the body.
    async fn server() -> std::net::SocketAddr {
        let app = axum::Router::new()
            .route(
                "/old",
                post(|| async { (http::StatusCode::TEMPORARY_REDIRECT, [(http::header::LOCATION, "/mcp")]) }),
            )
            .route("/mcp", post(|body: Bytes| async move { body }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    fn wire(url: &str) -> Wire {
        Wire::new(reqwest::Url::parse(url).expect("a valid URL"), Duration::from_secs(5)).expect("the clients")
    }

    #[tokio::test]
    async fn a_redirect_on_the_direct_path_is_followed_like_reqwest_follows_it() {
        let addr = server().await;
        let wire = wire(&format!("http://{addr}/old"));
        assert!(wire.direct.is_some(), "a plain http:// URL goes direct");
        let response =
            wire.send(Method::POST, HeaderMap::new, Bytes::from_static(b"{\"x\":1}")).await.expect("an answer");
        assert_eq!(response.status(), http::StatusCode::OK);
        let body = read_capped(response, 1024).await.expect("the body").expect("under the cap");
        assert_eq!(body, b"{\"x\":1}");
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_not_buffered() {
        let addr = server().await;
        let wire = wire(&format!("http://{addr}/mcp"));
        let response = wire.send(Method::POST, HeaderMap::new, Bytes::from(vec![b'a'; 4096])).await.expect("an answer");
        assert_eq!(read_capped(response, 1000).await.expect("the body"), None);
    }

    #[test]
    fn only_plain_http_goes_direct() {
        assert!(wire("https://example.invalid/mcp").direct.is_none(), "TLS stays with reqwest");
    }
}
