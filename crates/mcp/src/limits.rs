//! Limits that protect a connection from hostile or runaway peers. Every limit has a default
//! and is set through [`Limits`]; the binary exposes each as a config key and flag.

use std::time::Duration;

use switchboard_protocol::jsonrpc::DecodeLimits;

/// Per-connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest inbound message, in bytes. Default 4 MiB. Larger messages are answered with
    /// `-32600` and discarded without being buffered whole.
    pub max_message_bytes: usize,
    /// The deepest nesting of JSON arrays/objects accepted. Default 64 (at most 128).
    pub max_json_depth: usize,
    /// How long a request may run without reporting progress. Default 60 s. Progress
    /// notifications reset it, up to [`Limits::max_request_timeout`].
    pub request_timeout: Duration,
    /// The hard ceiling on a request's run time, progress or not. Default 10 min.
    pub max_request_timeout: Duration,
    /// How many requests from one connection may run at once; further requests wait
    /// (stdio reads are paused) until one finishes. Default 256.
    pub max_concurrent_requests: usize,
    /// How long a server-to-client request (legacy sampling, elicitation, roots) waits for the
    /// answer. Default 5 min.
    pub peer_request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024 * 1024,
            max_json_depth: 64,
            request_timeout: Duration::from_secs(60),
            max_request_timeout: Duration::from_secs(600),
            max_concurrent_requests: 256,
            peer_request_timeout: Duration::from_secs(300),
        }
    }
}

impl Limits {
    /// The decoding part of the limits.
    pub fn decode(&self) -> DecodeLimits {
        DecodeLimits::new(self.max_message_bytes, self.max_json_depth)
    }

    /// Sets the message size limit.
    pub fn with_max_message_bytes(mut self, n: usize) -> Self {
        self.max_message_bytes = n;
        self
    }

    /// Sets the nesting limit (capped at 128).
    pub fn with_max_json_depth(mut self, n: usize) -> Self {
        self.max_json_depth = n.min(128);
        self
    }

    /// Sets the idle request timeout.
    pub fn with_request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets the hard request timeout.
    pub fn with_max_request_timeout(mut self, d: Duration) -> Self {
        self.max_request_timeout = d;
        self
    }

    /// Sets how long a server-to-client request waits for its answer.
    pub fn with_peer_request_timeout(mut self, d: Duration) -> Self {
        self.peer_request_timeout = d;
        self
    }

    /// Sets the concurrency limit (at least 1).
    pub fn with_max_concurrent_requests(mut self, n: usize) -> Self {
        self.max_concurrent_requests = n.max(1);
        self
    }
}
