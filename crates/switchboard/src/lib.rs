//! The Switchboard binary's library half: command-line definitions, wiring, and the built-in
//! demonstration server. Only this crate reads argv, environment variables and files.
//!
//! **Invariant:** no business rules live here; it parses, wires and reports.

/// `switchboard bench`: the load generator, from its own crate.
pub use switchboard_bench as bench;
pub mod cli;
pub mod client;
pub mod configured;
pub mod fixture;
pub mod logging;
pub mod serve;
