//! DNS-rebinding protection: every request's `Host` and `Origin` are checked before anything
//! else. A server bound to loopback accepts only loopback names (plus configured ones); a
//! cross-origin browser request is refused unless its origin is allowed. Failures are 403.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{header, StatusCode};
use switchboard_protocol::ErrorObject;

use super::{sse, HttpConfig, HttpState};

const LOOPBACK: [&str; 4] = ["localhost", "127.0.0.1", "[::1]", "::1"];

pub(crate) async fn check(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !host_allowed(&state.config, host) {
        return forbidden(format!("Host {host:?} is not allowed (DNS rebinding protection)"));
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(&state.config, origin, host) {
            return forbidden(format!("Origin {origin:?} is not allowed (DNS rebinding protection)"));
        }
    }
    next.run(request).await
}

fn forbidden(message: String) -> Response {
    sse::error(StatusCode::FORBIDDEN, None, &ErrorObject::new(switchboard_protocol::ErrorCode(-32000), message))
}

/// The host name of `host[:port]` (IPv6 literals keep their brackets).
fn host_name(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(h, port)| if port.bytes().all(|b| b.is_ascii_digit()) { h } else { authority })
}

fn host_allowed(config: &HttpConfig, host: &str) -> bool {
    let name = host_name(host).to_ascii_lowercase();
    if config.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(&name)) {
        return true;
    }
    if config.loopback_only {
        return LOOPBACK.contains(&name.as_str());
    }
    config.allowed_hosts.is_empty()
}

fn origin_allowed(config: &HttpConfig, origin: &str, host: &str) -> bool {
    if config.allowed_origins.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let Some(authority) = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) else {
        return false;
    };
    let name = host_name(authority).to_ascii_lowercase();
    if config.loopback_only {
        return LOOPBACK.contains(&name.as_str());
    }
    // Same host as the request, or an explicitly allowed host.
    name == host_name(host).to_ascii_lowercase() || config.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_defaults() {
        let c = HttpConfig::default();
        for ok in ["localhost", "localhost:3000", "127.0.0.1:8080", "[::1]:80"] {
            assert!(host_allowed(&c, ok), "{ok}");
        }
        for bad in ["evil.example.com", "evil.example.com:3000", "127.0.0.1.evil.com"] {
            assert!(!host_allowed(&c, bad), "{bad}");
        }
        assert!(origin_allowed(&c, "http://localhost:3000", "localhost:3000"));
        assert!(!origin_allowed(&c, "http://evil.example.com", "localhost:3000"));
        assert!(!origin_allowed(&c, "null", "localhost:3000"));
    }

    #[test]
    fn public_binds_check_origin_against_host() {
        let c = HttpConfig { loopback_only: false, ..HttpConfig::default() };
        assert!(host_allowed(&c, "mcp.example.com"));
        assert!(origin_allowed(&c, "https://mcp.example.com", "mcp.example.com"));
        assert!(!origin_allowed(&c, "https://evil.example.com", "mcp.example.com"));
        let c =
            HttpConfig { loopback_only: false, allowed_hosts: vec!["mcp.example.com".into()], ..HttpConfig::default() };
        assert!(!host_allowed(&c, "other.example.com"));
    }
}
