//! Time limits on tool calls: a call that takes longer than its tool's limit is dropped (which
//! cancels its work) and answers with a tool error the model can read.

use std::sync::Arc;
use std::time::Duration;

use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, ToolRequest};
use tower::Service;

use super::around::{Guardrail, Next, Outcome};
use super::metrics::Metrics;

/// Stops calls of one tool after `limit`.
#[derive(Debug, Clone)]
pub struct Timeout {
    tool: Arc<str>,
    limit: Duration,
    metrics: Arc<Metrics>,
}

impl Timeout {
    /// The time limit of `tool`.
    pub fn new(tool: &str, limit: Duration, metrics: Arc<Metrics>) -> Self {
        Self { tool: tool.into(), limit, metrics }
    }
}

impl Guardrail for Timeout {
    const NAME: &'static str = "timeout";

    async fn call<S>(self, request: ToolRequest, next: Next<S>) -> Outcome
    where
        S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        match tokio::time::timeout(self.limit, next.run(request)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                self.metrics.timed_out(&self.tool);
                Err(HandlerError::timed_out(format!(
                    "{} did not finish within {} ms and was stopped; try again later or with a narrower request",
                    self.tool,
                    self.limit.as_millis()
                )))
            }
        }
    }
}
