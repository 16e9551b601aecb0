//! Sources: one folder (or file) per kind of thing a tool, resource or prompt is served from,
//! each with the same shape: a function that turns its part of the config into registrations on
//! the SDK `Router` (and, where the source has a connection, a function that opens it first).
//!
//! | source | connect | register |
//! | --- | --- | --- |
//! | [`sql`] | [`sql::connect`] → `Database` | [`sql::register`] (tools), [`sql::resource`] |
//! | [`http`] | [`http::Upstream::new`] | [`http::register`] |
//! | [`command`] | (the allow-list, checked when the config loads) | [`command::register`] |
//! | [`native`] | (the registry the binary passes) | [`native::NativeTools::register`] |
//! | [`resource`] | | [`resource::register`] (text, file, SQL) |
//! | [`prompt`] | | [`prompt::register`] (minijinja with SQL context and completion) |
//!
//! A registration fails with a [`RegisterError`]; the catalog adds the connection errors
//! (`sql::DbError`, `http::SetupError`) to make its `BuildError`.
//!
//! **Invariant:** a source imports the config and the `syntax` helpers, never the catalog; the
//! catalog only orchestrates them.

pub mod command;
mod common;
pub mod find_tools;
pub mod http;
pub mod native;
pub mod prompt;
pub mod resource;
pub mod sql;
pub mod upstream;

pub use self::common::{input_schema, RegisterError};
