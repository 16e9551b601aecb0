//! Circuit breakers, one per source: after `failures` consecutive calls that could not reach
//! the source (transport errors, timeouts — not `isError` results, which the source did answer),
//! the breaker opens and calls of every tool of that source fail at once with a message naming
//! it; after `cool_down` one call is let through, and its outcome closes or reopens the breaker.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, ToolRequest};
use tower::Service;

use super::around::{Guardrail, Next, Outcome};

use super::metrics::Metrics;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One call is probing the source; the others are refused until it ends.
    HalfOpen,
}

/// The breaker of one source, shared by its tools.
#[derive(Debug)]
pub struct Breaker {
    source: String,
    threshold: u32,
    cool_down: Duration,
    state: Mutex<State>,
    metrics: Arc<Metrics>,
}

impl Breaker {
    /// A closed breaker for `source`.
    pub fn new(source: &str, threshold: u32, cool_down: Duration, metrics: Arc<Metrics>) -> Self {
        metrics.breaker_state(source, false);
        Self {
            source: source.to_owned(),
            threshold: threshold.max(1),
            cool_down,
            state: Mutex::new(State::Closed { failures: 0 }),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a call may go ahead now; `Err` says how long the breaker stays open.
    fn admit(&self) -> Result<(), Duration> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } => {
                let now = Instant::now();
                if now < until {
                    return Err(until - now);
                }
                *state = State::HalfOpen;
                Ok(())
            }
            State::HalfOpen => Err(Duration::ZERO),
        }
    }

    /// Records how an admitted call ended.
    fn record(&self, reached: bool) {
        let mut state = self.lock();
        let next = match (*state, reached) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.threshold => {
                State::Closed { failures: failures + 1 }
            }
            (_, false) => State::Open { until: Instant::now() + self.cool_down },
        };
        let opened = matches!(next, State::Open { .. }) && !matches!(*state, State::Open { .. });
        // The gauge reads 1 from opening until a probe closes it (half-open included), so it
        // changes only then: the steady closed state touches no metric.
        let shown_open = matches!(*state, State::Open { .. } | State::HalfOpen);
        let open = matches!(next, State::Open { .. });
        *state = next;
        drop(state);
        if opened {
            tracing::warn!(target: "switchboard::breaker", source = %self.source, cool_down_ms = self.cool_down.as_millis() as u64, "circuit opened");
        }
        if open != shown_open {
            self.metrics.breaker_state(&self.source, open);
        }
    }
}

/// Settles a half-open probe that was dropped (cancelled, or stopped by the timeout layer
/// outside) as a failure, so the breaker never stays half-open.
struct Pending(Option<Arc<Breaker>>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            b.record(false);
        }
    }
}

/// Puts a tool behind its source's [`Breaker`].
#[derive(Debug, Clone)]
pub struct BreakerGuard(pub Arc<Breaker>);

impl Guardrail for BreakerGuard {
    const NAME: &'static str = "breaker";

    fn call<S>(self, request: ToolRequest, next: Next<S>) -> impl Future<Output = Outcome> + Send
    where
        S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        let admitted = self.0.admit();
        async move {
            if let Err(wait) = admitted {
                let b = &self.0;
                let message = format!(
                    "source {} is unavailable: its last {} calls could not reach it, so calls are paused for {} s; try again later",
                    b.source,
                    b.threshold,
                    wait.as_secs().max(1)
                );
                // A plain tool error: the source was not tried, so retries must not repeat it.
                return Err(HandlerError::msg(message));
            }
            let mut pending = Pending(Some(self.0.clone()));
            let outcome = next.run(request).await;
            let reached = match &outcome {
                Err(e) => !matches!(e.kind_name(), "timeout" | "unavailable"),
                Ok(_) => true,
            };
            if let Some(b) = pending.0.take() {
                b.record(reached);
            }
            outcome
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_then_probes_once_after_the_cool_down() {
        let metrics = Arc::new(Metrics::new());
        let gauge = |open: u8| format!("mcp_circuit_breaker_open{{source=\"api\"}} {open}");
        let b = Breaker::new("api", 3, Duration::from_millis(50), metrics.clone());
        for _ in 0..2 {
            assert!(b.admit().is_ok());
            b.record(false);
        }
        assert!(b.admit().is_ok());
        b.record(true); // a success resets the count
        assert!(metrics.encode().contains(&gauge(0)));
        for _ in 0..3 {
            assert!(b.admit().is_ok());
            b.record(false);
        }
        assert!(b.admit().is_err(), "open");
        assert!(metrics.encode().contains(&gauge(1)), "{}", metrics.encode());
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.admit().is_ok(), "one probe");
        assert!(b.admit().is_err(), "only one");
        assert!(metrics.encode().contains(&gauge(1)), "still open while the probe runs");
        b.record(false);
        assert!(b.admit().is_err(), "reopened");
        assert!(metrics.encode().contains(&gauge(1)));
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.admit().is_ok());
        b.record(true);
        assert!(b.admit().is_ok() && b.admit().is_ok(), "closed");
        assert!(metrics.encode().contains(&gauge(0)), "{}", metrics.encode());
    }
}
