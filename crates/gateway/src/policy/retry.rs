//! Retries of calls that could not reach their source (transport errors, timeouts), with
//! exponential backoff and full jitter (`backon`) — only for tools that say a repeat is harmless
//! (`readOnlyHint` or `idempotentHint`). A tool's own failures (`isError`) are answers, never
//! retried.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, ToolRequest};
use tower::{Layer, Service, ServiceExt as _};

/// Retries one tool's unreachable calls.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    attempts: usize,
    base: Duration,
    max: Duration,
}

impl RetryLayer {
    /// Up to `attempts` tries in all, waiting about `base`, doubling up to `max`, between them.
    pub fn new(attempts: usize, base: Duration, max: Duration) -> Self {
        Self { attempts: attempts.max(1), base, max }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retrying<S>;
    fn layer(&self, inner: S) -> Retrying<S> {
        Retrying { inner, layer: self.clone() }
    }
}

/// The service [`RetryLayer`] makes.
#[derive(Debug, Clone)]
pub struct Retrying<S> {
    inner: S,
    layer: RetryLayer,
}

fn unreachable(e: &HandlerError) -> bool {
    matches!(e.kind_name(), "unavailable" | "timeout")
}

impl<S> Service<ToolRequest> for Retrying<S>
where
    S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    type Response = CallToolResult;
    type Error = HandlerError;
    type Future = Pin<Box<dyn Future<Output = Result<CallToolResult, HandlerError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), HandlerError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: ToolRequest) -> Self::Future {
        let inner = self.inner.clone();
        let layer = self.layer.clone();
        Box::pin(async move {
            let backoff = ExponentialBuilder::default()
                .with_min_delay(layer.base)
                .with_max_delay(layer.max)
                .with_max_times(layer.attempts - 1)
                .with_jitter();
            let attempt = || {
                let (service, request) = (inner.clone(), request.clone());
                async move { service.oneshot(request).await }
            };
            attempt
                .retry(backoff)
                .sleep(tokio::time::sleep)
                .when(unreachable)
                .notify(|e: &HandlerError, wait: Duration| {
                    tracing::info!(target: "switchboard::retry", error = %e, wait_ms = wait.as_millis() as u64, "retrying a call that did not reach its source");
                })
                .await
        })
    }
}
