//! One audit row, built cheaply on the call's path and turned into column values by the writer.

use std::sync::Arc;

use switchboard_mcp::protocol::jsonrpc::RequestId;
use switchboard_mcp::server::Principal;

/// One audited call, as queued. The call's path fills it with cheap copies (reference counts,
/// a timestamp, the arguments' JSON); the writer formats the columns.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// When the call started.
    pub at: jiff::Timestamp,
    /// Who made it.
    pub principal: Principal,
    /// Its JSON-RPC id.
    pub request_id: RequestId,
    /// The transport's correlation id (`X-Request-Id`), if any.
    pub correlation_id: Option<Arc<str>>,
    /// The caller's trace id, if it sent a trace context.
    pub trace_id: Option<[u8; 16]>,
    /// The tool.
    pub tool: Arc<str>,
    /// The arguments as JSON, secret values already replaced.
    pub arguments: String,
    /// `success`, `error`, `rate_limited`, `timeout` or `denied`.
    pub outcome: &'static str,
    /// What kind of error, when it was not a success.
    pub error_kind: Option<&'static str>,
    /// How long the call took.
    pub duration_ms: i64,
    /// The size of the result's JSON.
    pub result_bytes: i64,
}

/// A row's column values, in table order.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    /// Unique per row ([`unique_id`](switchboard_mcp::server::unique_id)).
    pub id: String,
    /// RFC 3339, UTC, microseconds, fixed width (rows sort by time as text in every database).
    pub at: String,
    /// The principal's id (empty: anonymous).
    pub principal: String,
    /// The JSON-RPC id.
    pub request_id: String,
    /// `X-Request-Id`.
    pub correlation_id: Option<String>,
    /// 32 hex digits.
    pub trace_id: Option<String>,
    /// The tool.
    pub tool: String,
    /// The arguments (JSON).
    pub arguments: String,
    /// The outcome.
    pub outcome: &'static str,
    /// The error kind.
    pub error_kind: Option<&'static str>,
    /// Milliseconds.
    pub duration_ms: i64,
    /// Bytes.
    pub result_bytes: i64,
}

/// The column names, in the order of [`Columns`].
pub const COLUMN_NAMES: [&str; 12] = [
    "id",
    "at",
    "principal",
    "request_id",
    "correlation_id",
    "trace_id",
    "tool",
    "arguments",
    "outcome",
    "error_kind",
    "duration_ms",
    "result_bytes",
];

impl AuditRow {
    /// The row's column values.
    pub fn columns(&self) -> Columns {
        Columns {
            id: switchboard_mcp::server::unique_id(),
            at: self.at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            principal: self.principal.id().to_owned(),
            request_id: self.request_id.to_string(),
            correlation_id: self.correlation_id.as_deref().map(str::to_owned),
            trace_id: self.trace_id.map(|t| t.iter().map(|b| format!("{b:02x}")).collect()),
            tool: self.tool.to_string(),
            arguments: self.arguments.clone(),
            outcome: self.outcome,
            error_kind: self.error_kind,
            duration_ms: self.duration_ms,
            result_bytes: self.result_bytes,
        }
    }
}

/// Counts bytes written through it: the size of a result's JSON without building it.
#[derive(Debug, Default)]
pub(crate) struct ByteCount(pub(crate) usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
