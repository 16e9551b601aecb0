//! SQL sources through sqlx's `Any` driver: one code path for SQLite, PostgreSQL and
//! MySQL/MariaDB. Statements use `:name` placeholders, rewritten to the database's positional
//! syntax and always bound; rows come back as JSON objects.
//!
//! Shape (as every source): [`connect`] turns a source's config into a ready [`Database`];
//! [`register`] turns a tool's config into a tool on the router; [`resource`] serves SQL-backed
//! resources and resource templates.

mod db;
pub mod resource;
mod statement;
mod tool;

pub use self::db::{classify, connect, operation_of, Database, DbError, Failure, QueryObserver};
pub use self::resource::{query_resource, resource_template, schema_resource};
pub use self::statement::{
    bind, bind_typed, compile, fetch_capped, row_to_json, Compiled, MAX_COMPLETION_ROWS, MAX_CONTEXT_ROWS,
};
pub use self::tool::register;
