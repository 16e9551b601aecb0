//! [`RefusalObserver`]: hears of the `tools/call` requests a catalog turned away before any
//! service (and so any layer) ran — a tool the caller may not use, a name nobody serves,
//! arguments its `inputSchema` rejects — so an audit log can record every call, not only the
//! ones that reached a tool.

use std::future::Future;
use std::pin::Pin;

use switchboard_protocol::jsonrpc::RequestId;
use switchboard_protocol::JsonObject;

use crate::engine::Origin;
use crate::server::Principal;

/// Why a call never reached its tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The tool exists but the policy hides it from this caller (answered as unknown).
    Denied,
    /// No tool has that name.
    UnknownTool,
    /// The arguments do not match the tool's `inputSchema`.
    InvalidArguments,
}

impl Refusal {
    /// A short, stable name (`denied`, `unknown_tool`, `invalid_arguments`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Denied => "denied",
            Self::UnknownTool => "unknown_tool",
            Self::InvalidArguments => "invalid_arguments",
        }
    }
}

/// One refused call, as the caller sent it.
#[derive(Debug)]
#[non_exhaustive]
pub struct RefusedCall<'a> {
    /// The tool name the caller asked for.
    pub tool: &'a str,
    /// The arguments as sent (identity-bound parameters not yet filled in).
    pub arguments: &'a JsonObject,
    /// Who asked.
    pub principal: &'a Principal,
    /// The JSON-RPC id.
    pub request_id: &'a RequestId,
    /// The transport request that carried it.
    pub origin: Option<&'a Origin>,
    /// Why it was refused.
    pub refusal: Refusal,
}

/// Told of every refused call. The refusal is answered once the returned future completes, so
/// an observer that queues (an audit log) can slow callers down rather than lose records; keep
/// the work itself off the request's path.
pub trait RefusalObserver: Send + Sync + std::fmt::Debug + 'static {
    /// `call` was refused.
    fn refused(&self, call: RefusedCall<'_>) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}
