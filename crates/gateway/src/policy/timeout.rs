//! Time limits on tool calls: a call that takes longer than its tool's limit is dropped (which
//! cancels its work) and answers with a tool error the model can read.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, ToolRequest};
use tower::{Layer, Service};

use super::metrics::Metrics;

/// Stops calls of one tool after `limit`.
#[derive(Debug, Clone)]
pub struct TimeoutLayer {
    tool: Arc<str>,
    limit: Duration,
    metrics: Arc<Metrics>,
}

impl TimeoutLayer {
    /// The layer for `tool`.
    pub fn new(tool: &str, limit: Duration, metrics: Arc<Metrics>) -> Self {
        Self { tool: tool.into(), limit, metrics }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = TimeLimited<S>;
    fn layer(&self, inner: S) -> TimeLimited<S> {
        TimeLimited { inner, layer: self.clone() }
    }
}

/// The service [`TimeoutLayer`] makes.
#[derive(Debug, Clone)]
pub struct TimeLimited<S> {
    inner: S,
    layer: TimeoutLayer,
}

impl<S> Service<ToolRequest> for TimeLimited<S>
where
    S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError>,
    S::Future: Send + 'static,
{
    type Response = CallToolResult;
    type Error = HandlerError;
    type Future = Pin<Box<dyn Future<Output = Result<CallToolResult, HandlerError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), HandlerError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: ToolRequest) -> Self::Future {
        let work = self.inner.call(request);
        let layer = self.layer.clone();
        Box::pin(async move {
            match tokio::time::timeout(layer.limit, work).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    layer.metrics.timed_out(&layer.tool);
                    Err(HandlerError::timed_out(format!(
                        "{} did not finish within {} ms and was stopped; try again later or with a narrower request",
                        layer.tool,
                        layer.limit.as_millis()
                    )))
                }
            }
        })
    }
}
