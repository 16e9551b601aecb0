//! What every guardrail layer has in common, written once: a [`Guardrail`] says what it does
//! around one tool call (and may call the rest of the chain, [`Next`], zero, one or several
//! times); [`GuardLayer`] and [`Guarded`] make it a `tower::Layer` and `Service`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, ToolRequest};
use tower::{Layer, Service, ServiceExt as _};
use tracing::Instrument as _;

/// What a tool call comes to.
pub type Outcome = Result<CallToolResult, HandlerError>;

/// The rest of the chain below a guardrail.
#[derive(Debug, Clone)]
pub struct Next<S>(S);

impl<S> Next<S>
where
    S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError>,
{
    /// Runs the call through the rest of the chain.
    pub async fn run(self, request: ToolRequest) -> Outcome {
        self.0.oneshot(request).await
    }
}

/// One guardrail: what happens around a tool call.
pub trait Guardrail: Clone + Send + Sync + 'static {
    /// Its name, for its span (`guardrail{name}`, exported as a span of that name).
    const NAME: &'static str;

    /// Handles `request`, calling `next` to go on down the chain.
    fn call<S>(self, request: ToolRequest, next: Next<S>) -> impl Future<Output = Outcome> + Send
    where
        S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static;
}

/// A [`Guardrail`] as a `tower::Layer`.
#[derive(Debug, Clone)]
pub struct GuardLayer<G>(pub G);

impl<S, G: Clone> Layer<S> for GuardLayer<G> {
    type Service = Guarded<S, G>;
    fn layer(&self, inner: S) -> Guarded<S, G> {
        Guarded { inner: Arc::new(inner), guard: self.0.clone() }
    }
}

/// The service a [`GuardLayer`] makes. The rest of the chain is shared, so cloning a layer (as
/// every call does, once per layer) costs a reference count, not a copy of the chain below it.
#[derive(Debug, Clone)]
pub struct Guarded<S, G> {
    inner: Arc<S>,
    guard: G,
}

impl<S, G> Service<ToolRequest> for Guarded<S, G>
where
    S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    G: Guardrail,
{
    type Response = CallToolResult;
    type Error = HandlerError;
    type Future = Pin<Box<dyn Future<Output = Outcome> + Send>>;

    /// Always ready: [`Next::run`] waits for the readiness of its own clone of the rest of the
    /// chain, so nothing is reserved here that a dropped call would leave reserved.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), HandlerError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: ToolRequest) -> Self::Future {
        let inner = S::clone(&self.inner);
        // A span per layer (DEBUG: exported with traces, free when nothing listens).
        let span = tracing::debug_span!("guardrail", otel.name = G::NAME);
        Box::pin(self.guard.clone().call(request, Next(inner)).instrument(span))
    }
}
