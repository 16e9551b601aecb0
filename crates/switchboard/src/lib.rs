//! The Switchboard binary's library half: command-line definitions and wiring (the demonstration
//! server is `switchboard-demo`, the shop's native tools `switchboard-shop`). Only this crate reads
//! argv, environment variables and files.
//!
//! **Invariant:** no business rules live here; it parses, wires and reports.

/// `switchboard bench`: the load generator, from its own crate.
pub use switchboard_bench as bench;
pub mod agents;
pub mod audit;
pub mod chat;
pub mod cli;
pub mod client;
pub mod config_file;
pub mod configured;
pub mod keys;
pub mod logging;
pub mod migrate;
pub mod ops;
pub mod serve;
