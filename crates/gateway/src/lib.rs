//! The gateway: business systems exposed as validated MCP tools, resources and prompts,
//! declared in a YAML config file.
//!
//! **Invariant:** a source never sees tool arguments that failed the tool's `inputSchema` (the SDK
//! validates them first), and SQL parameters are always bound, never spliced into SQL text.
//! **Invariant:** HTTP tools only reach their source's host, and command tools only run
//! allow-listed programs, with argv built without a shell.
//!
//! Flow: [`config`] (parse, interpolate `${ENV}`, validate) → [`sql`] (pools, statements),
//! [`http`] (HTTP API clients) → [`catalog`] (a `Router` of SQL, native, [`http`] and
//! [`command`] tools, resources and prompts) → the SDK server.

pub mod catalog;
pub mod command;
pub mod config;
pub mod http;
pub mod native;
pub mod sql;
mod template;

pub use catalog::{build, BuildError, Catalog};
pub use config::{Config, ConfigError};
pub use native::{NativeTool, NativeTools};
