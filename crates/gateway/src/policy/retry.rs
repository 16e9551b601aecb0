//! Retries of calls that could not reach their source (transport errors, timeouts), with
//! exponential backoff and full jitter (`backon`) — only for tools that say a repeat is harmless
//! (`readOnlyHint` or `idempotentHint`). A tool's own failures (`isError`) are answers, never
//! retried.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, ToolRequest};
use tower::Service;

use super::around::{Guardrail, Next, Outcome};

/// Retries one tool's unreachable calls.
#[derive(Debug, Clone)]
pub struct Retry {
    attempts: usize,
    base: Duration,
    max: Duration,
}

impl Retry {
    /// Up to `attempts` tries in all, waiting about `base`, doubling up to `max`, between them.
    pub fn new(attempts: usize, base: Duration, max: Duration) -> Self {
        Self { attempts: attempts.max(1), base, max }
    }
}

fn unreachable(e: &HandlerError) -> bool {
    matches!(e.kind_name(), "unavailable" | "timeout")
}

impl Guardrail for Retry {
    const NAME: &'static str = "retry";

    async fn call<S>(self, request: ToolRequest, next: Next<S>) -> Outcome
    where
        S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.base)
            .with_max_delay(self.max)
            .with_max_times(self.attempts - 1)
            .with_jitter();
        let attempt = || next.clone().run(request.clone());
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(unreachable)
            .notify(|e: &HandlerError, wait: Duration| {
                tracing::info!(target: "switchboard::retry", error = %e, wait_ms = wait.as_millis() as u64, "retrying a call that did not reach its source");
            })
            .await
    }
}
