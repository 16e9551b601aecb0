//! The gateway: business systems exposed as validated MCP tools, resources and prompts,
//! declared in a YAML config file.
//!
//! **Invariant:** a source never sees tool arguments that failed the tool's `inputSchema` (the SDK
//! validates them first), and SQL parameters are always bound, never spliced into SQL text.
//!
//! Flow: [`config`] (parse, interpolate `${ENV}`, validate) → [`sql`] (pools, statements) →
//! [`catalog`] (a `Router` of SQL tools, native tools, resources and prompts) → the SDK server.

pub mod catalog;
pub mod config;
pub mod native;
pub mod sql;

pub use catalog::{build, BuildError, Catalog};
pub use config::{Config, ConfigError};
