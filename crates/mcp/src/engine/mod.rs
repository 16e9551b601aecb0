//! The JSON-RPC engine: one event loop per connection that decodes frames, runs requests
//! concurrently, correlates responses to our own requests, and applies cancellation, deadlines
//! and back-pressure. It serves both roles: the server runtime and the client runtime are
//! [`Handler`]s plugged into it.
//!
//! Data flows one way: a reader task turns bytes into frames, the loop decodes and dispatches,
//! each request runs in its own task, and every outbound frame goes through one writer task.
//! Only the loop touches the in-flight and pending tables, so the per-request path takes no lock.

mod deadline;
mod peer;
mod run;

pub use deadline::Deadline;
pub use peer::{Origin, PeerError, PeerHandle, PendingTable, RequestHandle};
pub use run::{run_request, serve_connection, ConnectionError};

use std::future::Future;
use std::sync::Arc;

use switchboard_protocol::jsonrpc::{RawNotification, RawRequest, RequestId};
use switchboard_protocol::ErrorObject;

/// One encoded JSON-RPC message (no trailing newline).
pub type Frame = Vec<u8>;

/// A response ready for the wire and what it says: transports pick HTTP statuses (and anything
/// else that depends on the outcome) from `error`, never by re-reading the bytes they were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The encoded response.
    pub frame: Frame,
    /// The JSON-RPC error code, when the response is an error.
    pub error: Option<switchboard_protocol::ErrorCode>,
    /// When a rate-limited caller may retry, in milliseconds (HTTP sends it as `Retry-After`).
    pub retry_after_ms: Option<u64>,
}

impl Reply {
    /// A response carrying a result.
    pub fn result(frame: Frame) -> Self {
        Self { frame, error: None, retry_after_ms: None }
    }

    /// An error response to `id`, encoded.
    pub fn error(id: Option<&RequestId>, error: &ErrorObject) -> Self {
        let mut frame = Vec::with_capacity(96 + error.message.len());
        switchboard_protocol::jsonrpc::write_error(&mut frame, id, error);
        Self { frame, error: Some(error.code), retry_after_ms: error.retry_after_ms() }
    }
}

/// What plugs into the engine: the server or client runtime of one connection.
pub trait Handler: Send + Sync + 'static {
    /// Handles one request and returns the encoded response. The engine drops the future
    /// when the peer cancels the request, and answers with a timeout error when its deadline
    /// passes, so implementations need not watch for either.
    fn request(
        self: &Arc<Self>,
        request: RawRequest,
        handle: RequestHandle,
    ) -> impl Future<Output = Reply> + Send + 'static;

    /// Handles a notification (other than `notifications/cancelled`, which the engine consumes).
    fn notification(&self, notification: RawNotification, peer: &PeerHandle);

    /// Whether a request must finish before any later message is handled (e.g. `initialize`,
    /// whose session every later message depends on). Messages behind it wait, in order.
    fn is_barrier(&self, method: &str) -> bool {
        let _ = method;
        false
    }

    /// Whether a JSON-RPC batch may be processed now; `Err` is the answer to send instead.
    fn batch_allowed(&self) -> Result<(), ErrorObject> {
        Err(ErrorObject::invalid_request("JSON-RPC batches are not supported"))
    }

    /// Called once when input ends (EOF or shutdown), before in-flight requests are drained:
    /// long-lived requests (subscription streams) should finish now.
    fn input_closed(&self) {}

    /// Called once when the connection closes, after in-flight requests ended.
    fn closed(&self) {}
}
