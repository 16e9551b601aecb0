//! The client runtime: connect to any MCP server, in either era, over stdio, Streamable HTTP or
//! WebSocket, and call it with typed methods.
//!
//! ```no_run
//! use switchboard_mcp::client::{Client, ClientOptions, NoHandler, StdioTarget, Target};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let target = Target::Stdio(StdioTarget::parse("npx -y @modelcontextprotocol/server-everything")?);
//! let client = Client::connect(target, NoHandler, ClientOptions::default()).await?;
//! for tool in client.list_all_tools().await? {
//!     println!("{}", tool.name);
//! }
//! let result = client.call_tool("echo", serde_json::json!({"message": "hi"})).await?;
//! client.close().await;
//! # Ok(()) }
//! ```
//!
//! Data flows one way: the [`Client`] builds each request for the server's era (`_meta` for
//! modern servers, a session for legacy ones), a channel carries it, and what the server sends
//! unprompted goes to the [`ClientHandler`] through one inbound sink.
//!
//! **Era detection** follows the spec: the client first sends `server/discover`; a result or a
//! recognized modern error (`-32022`, `-32021`, `-32020`) means a modern server, anything else
//! (another error, an HTTP 4xx with no modern error, or no answer within the probe timeout)
//! means a legacy server, which is then initialized. The answer is cached per process for the
//! server's command line or URL.

mod cache;
mod channel;
mod error;
mod handler;
#[cfg(feature = "client-http")]
mod http;
mod inbound;
#[cfg(feature = "client-http")]
mod legacy_sse;
#[cfg(feature = "client-oauth")]
pub mod oauth;
mod session;
#[cfg(feature = "client-http")]
mod sse;
#[cfg(feature = "client-stdio")]
mod stdio;
mod stream;
#[cfg(feature = "client-ws")]
mod websocket;
#[cfg(feature = "client-http")]
mod wire;

pub use error::ClientError;
pub use handler::{apply_defaults, full_capabilities, ClientHandler, NoHandler};
#[cfg(feature = "client-http")]
pub use http::{AuthRefusal, HttpAuth, HttpTarget};
pub use inbound::ServerNotification;
pub use session::{Client, ClientOptions, EraChoice, Listener, RequestOptions};
#[cfg(feature = "client-stdio")]
pub use stdio::{shell_words, RestartPolicy, StdioTarget};
#[cfg(feature = "client-ws")]
pub use websocket::WsTarget;

/// Where the server is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Target {
    /// A child process speaking over stdin/stdout.
    #[cfg(feature = "client-stdio")]
    Stdio(StdioTarget),
    /// A Streamable HTTP endpoint (both eras; legacy sessions included).
    #[cfg(feature = "client-http")]
    Http(HttpTarget),
    /// A WebSocket endpoint (subprotocol `mcp`).
    #[cfg(feature = "client-ws")]
    WebSocket(WsTarget),
}
