//! [`HandlerError`]: how a tool, resource or prompt handler says it did not produce a result.

use switchboard_protocol::mrtr::InputRequests;
use switchboard_protocol::ErrorObject;

/// Why a handler returned no result.
///
/// Any `std::error::Error` converts into it with `?` and becomes a *tool-level* failure: an
/// `isError: true` result the model can read and correct (for resources and prompts, an internal
/// error). An [`ErrorObject`] converts into a *protocol* error. Input requests raised by
/// [`RequestContext::request_input`](crate::server::RequestContext::request_input) travel
/// through here too, so `?` works on them.
#[derive(Debug)]
pub struct HandlerError {
    pub(crate) kind: ErrorKind,
}

#[derive(Debug)]
pub(crate) enum ErrorKind {
    Tool(String),
    /// A tool error because the call ran out of time (answered like [`ErrorKind::Tool`]).
    Timeout(String),
    /// A tool error because what the tool depends on could not be reached (answered like
    /// [`ErrorKind::Tool`]; circuit breakers count it).
    Unavailable(String),
    Rpc(ErrorObject),
    InputRequired(InputNeeded),
    /// The work continues as a task; the request answers with the task.
    TaskCreated(Box<super::tasks::TaskRecord>),
}

/// Modern-era input requests that must reach the client before the request can finish.
#[derive(Debug)]
pub struct InputNeeded {
    pub(crate) requests: InputRequests,
    pub(crate) state: Option<serde_json::Value>,
}

/// The name tool authors reach for; the same type.
pub type ToolError = HandlerError;

impl HandlerError {
    /// A failure described to the model (`isError: true` for tools).
    pub fn msg(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Tool(message.into()) }
    }

    /// A call stopped by its time limit: answered as a tool failure the model can read, and
    /// told apart from other failures by metrics and audit.
    pub fn timed_out(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Timeout(message.into()) }
    }

    /// A call whose backend could not be reached (connection refused, reset, DNS): answered as
    /// a tool failure the model can read; circuit breakers count it as a failure of the source.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Unavailable(message.into()) }
    }

    /// The JSON-RPC error code, for a protocol error.
    pub fn error_code(&self) -> Option<switchboard_protocol::ErrorCode> {
        match &self.kind {
            ErrorKind::Rpc(e) => Some(e.code),
            _ => None,
        }
    }

    /// A protocol error, sent as a JSON-RPC error response.
    pub fn rpc(error: ErrorObject) -> Self {
        Self { kind: ErrorKind::Rpc(error) }
    }

    /// `-32602` with a message.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::rpc(ErrorObject::invalid_params(message))
    }

    /// What kind of failure this is, for metrics and audit: `tool` (a failure the model reads),
    /// `timeout`, `unavailable`, `protocol` (a JSON-RPC error), `input_required` or `task`.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            ErrorKind::Tool(_) => "tool",
            ErrorKind::Timeout(_) => "timeout",
            ErrorKind::Unavailable(_) => "unavailable",
            ErrorKind::Rpc(_) => "protocol",
            ErrorKind::InputRequired(_) => "input_required",
            ErrorKind::TaskCreated(_) => "task",
        }
    }

    /// The message, whatever the kind.
    pub fn message(&self) -> String {
        match &self.kind {
            ErrorKind::Tool(m) | ErrorKind::Timeout(m) | ErrorKind::Unavailable(m) => m.clone(),
            ErrorKind::Rpc(e) => e.message.clone(),
            ErrorKind::InputRequired(_) => "input required".to_owned(),
            ErrorKind::TaskCreated(t) => format!("continues as task {}", t.id),
        }
    }
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HandlerError {
    fn from(e: E) -> Self {
        HandlerError::msg(e.to_string())
    }
}

impl From<InputNeeded> for HandlerError {
    fn from(n: InputNeeded) -> Self {
        Self { kind: ErrorKind::InputRequired(n) }
    }
}
