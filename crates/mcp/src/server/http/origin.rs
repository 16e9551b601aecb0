//! Correlation for every HTTP request: an id (the client's `X-Request-Id` when it is a sensible
//! one, else a fresh one) echoed on the response, recorded with the request's `traceparent` as
//! its [`Origin`] for handlers (audit rows, spans), and a tracing span naming it, so every log
//! line written while the request is served carries it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use tracing::Instrument as _;

use crate::engine::Origin;

/// The correlation header.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The W3C trace-context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// Longer client ids are replaced: ids end up in every log line and audit row.
const MAX_REQUEST_ID: usize = 128;

/// Makes the span an HTTP request is served in, from its origin. The default is an `INFO` span
/// `request{request_id}`; a binary that exports traces supplies one that also adopts
/// the origin's `traceparent` as the span's remote parent.
#[derive(Clone)]
pub struct RequestSpan(Arc<dyn Fn(&Origin) -> tracing::Span + Send + Sync>);

impl RequestSpan {
    /// Spans made by `make`.
    pub fn new(make: impl Fn(&Origin) -> tracing::Span + Send + Sync + 'static) -> Self {
        Self(Arc::new(make))
    }
}

impl std::fmt::Debug for RequestSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestSpan(..)")
    }
}

pub(crate) async fn stamp(State(make_span): State<Option<RequestSpan>>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(|| Arc::from(crate::server::unique_id()), Arc::from);
    let trace_parent = headers.get(TRACEPARENT_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let origin = Origin { request_id, trace_parent };
    let span = match &make_span {
        Some(make) => (make.0)(&origin),
        None => tracing::info_span!("request", request_id = %origin.request_id),
    };
    let echo = HeaderValue::from_str(&origin.request_id).ok();
    request.extensions_mut().insert(Arc::new(origin));
    let mut response = next.run(request).instrument(span).await;
    if let Some(echo) = echo {
        response.headers_mut().insert(REQUEST_ID_HEADER, echo);
    }
    response
}

/// Printable ASCII without spaces, at most [`MAX_REQUEST_ID`] bytes: safe in logs and headers.
fn acceptable(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The origin recorded for a request (absent only for requests
/// that did not pass through [`stamp`], as in unit tests of single handlers).
pub(crate) fn of(parts: &http::request::Parts) -> Option<Arc<Origin>> {
    parts.extensions.get::<Arc<Origin>>().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_kept_only_when_safe_to_log() {
        assert!(acceptable("req-42_abc.def:1"));
        for bad in ["", "has space", "new\nline", &"x".repeat(129), "ünïcode"] {
            assert!(!acceptable(bad), "{bad:?}");
        }
        let (a, b) = (crate::server::unique_id(), crate::server::unique_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }
}
