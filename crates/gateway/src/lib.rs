//! The gateway: business systems exposed as validated MCP tools, resources and prompts,
//! declared in a YAML config file.
//!
//! **Invariant:** a source never sees tool arguments that failed the tool's `inputSchema` (the SDK
//! validates them first), and SQL parameters are always bound, never spliced into SQL text.
//! **Invariant:** HTTP tools only reach their source's host, and command tools only run
//! allow-listed programs, with argv built without a shell.
//! **Invariant:** imports point one way: [`config`] ← [`source`] ← [`catalog`]. The config knows
//! no source, and no source knows the catalog.
//!
//! Flow: [`config`] (parse text and an environment map, interpolate `${ENV}` in string values,
//! validate; no I/O) → [`check`] (the command allow-list against this machine) → [`source`] (one module per kind:
//! `sql`, `http`, `command`, `native`, `resource`, `prompt`; each turns its part of the config
//! into `Router` registrations) → [`catalog`] (opens the sources and hands each entry to its
//! source) → the SDK server. [`reload`] watches the file and swaps in a whole new snapshot on
//! each valid change.

pub mod access;
pub mod catalog;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod policy;
pub mod reload;
pub mod shared;
pub mod source;
mod syntax;

pub use access::Identities;
pub use catalog::{build, check, BuildError, Catalog};
pub use config::{AgentSection, Config, ConfigError, Env, ModelSpec, PriceSpec, RulesSection};
pub use policy::Guardrails;
pub use source::native::{NativeTool, NativeTools};
pub use source::upstream::Upstreams;
