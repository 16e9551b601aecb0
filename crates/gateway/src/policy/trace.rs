//! Traces: a span per tool call (`tools/call <tool>`, an OpenTelemetry server span when traces
//! are exported) around every other layer, each of which adds its own child span, and the
//! caller's W3C trace context adopted as the remote parent.
//!
//! The transport's `traceparent` header is adopted by the HTTP request's span (see
//! [`adopt_parent`], which the binary's span maker calls); this layer adopts `_meta.traceparent`
//! when the request carries one of its own, the MCP convention for clients that trace.

use std::future::Future;
use std::sync::Arc;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState};
use switchboard_mcp::protocol::meta::TraceParent;
use switchboard_mcp::protocol::tools::CallToolResult;
use switchboard_mcp::server::{HandlerError, ToolRequest};
use tower::Service;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::around::{Guardrail, Next, Outcome};

/// Makes `span`'s OpenTelemetry parent the remote span `parent` names. Call it before the
/// span is first entered; it does nothing when traces are not exported.
pub fn adopt_parent(span: &tracing::Span, parent: &TraceParent) {
    if span.is_disabled() {
        return;
    }
    let remote = SpanContext::new(
        TraceId::from_bytes(parent.trace_id),
        SpanId::from_bytes(parent.parent_id),
        TraceFlags::new(parent.flags),
        true,
        TraceState::NONE,
    );
    // Fails only when no OpenTelemetry layer is installed (nothing is exported then).
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
}

/// The span around one tool's calls.
#[derive(Debug, Clone)]
pub struct Trace {
    tool: Arc<str>,
    name: Arc<str>,
}

impl Trace {
    /// Spans for the calls of `tool`.
    pub fn new(tool: &str) -> Self {
        Self { tool: tool.into(), name: format!("tools/call {tool}").into() }
    }
}

impl Guardrail for Trace {
    const NAME: &'static str = "trace";

    fn call<S>(self, request: ToolRequest, next: Next<S>) -> impl Future<Output = Outcome> + Send
    where
        S: Service<ToolRequest, Response = CallToolResult, Error = HandlerError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        let ctx = &request.ctx;
        let span = tracing::info_span!(
            target: "switchboard::call",
            "tool_call",
            otel.name = %self.name,
            otel.kind = "server",
            mcp.tool = %self.tool,
            principal = ctx.principal().id(),
            request_id = ctx.correlation_id(),
            jsonrpc.id = %ctx.request_id(),
        );
        // The header's trace is the HTTP request span's already; a `_meta` trace of the
        // request's own makes this span a child of the caller's.
        let header = ctx.origin().and_then(|o| o.trace_parent);
        if let Some(parent) = ctx.trace_parent().filter(|p| Some(**p) != header) {
            adopt_parent(&span, parent);
        }
        next.run(request).instrument(span)
    }
}
