//! The Switchboard MCP SDK: a JSON-RPC engine, a dual-era server runtime, transports, and the
//! authoring API for tools, resources and prompts.
//!
//! **Invariant:** this crate never depends on sqlx, redis or LLM code; embedding the SDK costs
//! only tokio, serde and the schema validator.
//!
//! # A server in a few lines
//!
//! ```no_run
//! use switchboard_mcp::server::{Router, Server, ToolInfo};
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Add { a: f64, b: f64 }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let router = Router::new().typed_tool(ToolInfo::new("add", "Adds two numbers"), |args: Add, _ctx| async move {
//!     args.a + args.b
//! });
//! Server::builder("calculator", "1.0.0").router(router)?.build().serve_stdio().await?;
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `server` | yes | the server runtime ([`server`]) |
//! | `stdio` | yes | the stdio transport |
//! | `macros` | yes | `#[tool]`, `#[prompt]`, `#[handler]` |
//! | `client` | no | the client runtime ([`client`]) over any message stream |
//! | `client-stdio` | no | launching servers as child processes |
//! | `client-http` | no | the Streamable HTTP client (both eras) |
//! | `client-ws` | no | the WebSocket client |

// Lets macro-generated paths (`::switchboard_mcp::…`) resolve inside this crate too.
extern crate self as switchboard_mcp;

#[cfg(feature = "client")]
pub mod client;
pub mod engine;
mod limits;
#[cfg(feature = "server")]
pub mod server;
pub mod transport;
pub mod xmcp;

#[cfg(all(test, feature = "http-server"))]
mod proptests;

pub use limits::Limits;
pub use switchboard_protocol as protocol;

#[cfg(feature = "macros")]
pub use switchboard_macros::{handler, prompt, tool};

/// Re-exports for macro-generated code; not a public API.
#[doc(hidden)]
#[cfg(feature = "server")]
pub mod __private {
    pub use schemars;
    pub use serde;
    pub use serde_json;
}
