//! The seam between the client session (eras, `_meta`, MRTR, caching) and the wire. A channel
//! carries one request to the server and brings back its result; server-initiated traffic goes
//! to the [`Inbound`](super::inbound::Inbound) sink the channel was built with.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::ClientError;

/// One request as the session hands it to a channel.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) method: String,
    /// The params object, `_meta` included.
    pub(crate) params: Value,
    /// HTTP headers for this request (standard, custom and version headers); stream channels
    /// ignore them.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Duration,
}

/// How a transport moves requests.
pub(crate) trait Channel: Send + Sync + 'static {
    /// The server's display name, used in every error.
    fn server(&self) -> &str;

    /// Sends a request and waits for its result. Abandoning the future cancels the request at
    /// the server.
    fn request(&self, out: Outgoing) -> BoxFuture<'_, Result<Value, ClientError>>;

    /// Sends a notification.
    fn notify(
        &self,
        method: &str,
        params: Value,
        headers: Vec<(String, String)>,
    ) -> BoxFuture<'_, Result<(), ClientError>>;

    /// Called when a legacy session starts (with the negotiated version) or ends (`None`).
    fn session_started(&self, version: Option<&str>) {
        let _ = version;
    }

    /// Opens the legacy standalone notification stream (HTTP `GET`), when the transport has one.
    fn open_notification_stream(&self) -> BoxFuture<'_, Result<bool, ClientError>> {
        Box::pin(async { Ok(false) })
    }

    /// Switches to the deprecated 2024-11-05 HTTP+SSE transport after the server refused a
    /// Streamable HTTP `initialize`; `Ok(false)` when the transport has no such fallback.
    fn fall_back_to_sse(&self) -> BoxFuture<'_, Result<bool, ClientError>> {
        Box::pin(async { Ok(false) })
    }

    /// Starts the server afresh after it died (stdio with restart enabled).
    fn reconnect(&self) -> BoxFuture<'_, Result<(), ClientError>> {
        let server = self.server().to_owned();
        Box::pin(
            async move { Err(ClientError::Disconnected { server, reason: "the transport cannot reconnect".into() }) },
        )
    }

    /// Whether [`Channel::reconnect`] may be tried.
    fn can_reconnect(&self) -> bool {
        false
    }

    /// A stable key for the server, for the per-process era cache (command line or origin).
    fn era_key(&self) -> String {
        self.server().to_owned()
    }

    /// Ends the connection (and, for stdio, the server process).
    fn close(&self) -> BoxFuture<'_, ()>;
}
