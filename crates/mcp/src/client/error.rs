//! Why a client call failed.

use std::time::Duration;

use switchboard_protocol::{ErrorCode, ErrorObject};

/// Why a call to a server did not produce a result.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with a JSON-RPC error.
    #[error("{server}: {method} failed: {} (code {})", error.message, error.code.0)]
    Rpc {
        /// Which server.
        server: String,
        /// The method called.
        method: String,
        /// The error as the server sent it.
        error: ErrorObject,
        /// The HTTP status it came with, on HTTP.
        http_status: Option<u16>,
    },
    /// No answer within the request's timeout (the request was cancelled at the server).
    #[error("{server}: no answer to {method} within {timeout:?}")]
    Timeout {
        /// Which server.
        server: String,
        /// The method called.
        method: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The connection ended before the answer arrived (a stdio server exited, a socket closed).
    #[error("{server}: connection lost: {reason}")]
    Disconnected {
        /// Which server.
        server: String,
        /// What happened, e.g. the exit status of the server process and its last stderr line.
        reason: String,
    },
    /// The server could not be reached or started.
    #[error("cannot connect to {server}: {reason}")]
    Connect {
        /// Which server.
        server: String,
        /// Why.
        reason: String,
    },
    /// An HTTP answer that is neither a JSON-RPC message nor an expected status.
    #[error("{server}: HTTP {status} for {method}: {body}")]
    Http {
        /// Which server.
        server: String,
        /// The method called.
        method: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The server broke the protocol (malformed answer, unknown era, too many MRTR rounds).
    #[error("{server}: protocol error: {reason}")]
    Protocol {
        /// Which server.
        server: String,
        /// What was wrong.
        reason: String,
    },
    /// The legacy HTTP session was ended by the server (`404` on a request with a session id).
    #[error("{server}: the server ended the session")]
    SessionExpired {
        /// Which server.
        server: String,
    },
    /// The server wants credentials we could not get (the OAuth flow failed or was refused).
    #[error("{server}: not authorized: {reason}")]
    Unauthorized {
        /// Which server.
        server: String,
        /// Why authorization failed.
        reason: String,
    },
    /// The call was refused before it was sent (unknown tool, invalid tool definition, a missing
    /// capability).
    #[error("{0}")]
    Refused(String),
}

impl ClientError {
    /// The JSON-RPC error, when the server sent one.
    pub fn rpc_error(&self) -> Option<&ErrorObject> {
        match self {
            ClientError::Rpc { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether the error is one only a modern (2026-07-28+) server sends, which identifies the
    /// server's era during detection.
    pub(crate) fn is_modern_error(&self) -> bool {
        self.rpc_error().is_some_and(|e| {
            matches!(
                e.code,
                ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
                    | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
                    | ErrorCode::HEADER_MISMATCH
            )
        })
    }

    /// Whether the connection itself failed (as opposed to the server refusing the request).
    pub fn is_connection_failure(&self) -> bool {
        matches!(self, ClientError::Disconnected { .. } | ClientError::Connect { .. })
    }
}
