//! Wire types of the Model Context Protocol, for every published revision.
//!
//! **Invariant:** this crate does no I/O and knows no async runtime; it depends on the serde
//! family and `thiserror` only. Everything another crate needs to speak MCP on the wire lives
//! here, and nothing else does.
//!
//! One model serves all revisions. Types carry the union of every revision's fields; the
//! [`Shape`] trait strips what an older revision does not know before a message is encoded
//! (see [`version::ProtocolVersion`] for the list and [`result::Shape`] for the rules), so that every
//! message validates against the JSON Schema of the revision it speaks.
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`version`] | protocol revisions, eras, feature predicates |
//! | [`jsonrpc`] | envelope decoding (borrowed, one parse), encoding, request ids |
//! | [`error`] | JSON-RPC and MCP error codes and the one wire error type |
//! | [`meta`] | `_meta` objects of requests, results and notifications |
//! | [`content`] | content blocks, annotations, icons, resource contents |
//! | [`lifecycle`] | `initialize`, `server/discover`, capabilities, implementation info |
//! | [`tools`], [`resources`], [`prompts`], [`completion`], [`logging`] | server features |
//! | [`client`] | server-to-client requests: sampling, elicitation, roots |
//! | [`mrtr`] | multi round-trip requests (`InputRequiredResult`) |
//! | [`subscriptions`] | `subscriptions/listen` and its acknowledgement |
//! | [`tasks`] | legacy SEP-1686 tasks and the modern tasks extension |
//! | [`notifications`] | progress, cancellation, list-changed and update notifications |
//! | [`result`] | the fields every result shares and the [`Shape`] trait |

pub mod capabilities;
pub mod client;
pub mod completion;
pub mod content;
pub mod error;
pub mod jsonrpc;
pub mod lifecycle;
pub mod logging;
pub mod meta;
pub mod methods;
pub mod mrtr;
pub mod notifications;
pub mod prompts;
pub mod resources;
pub mod result;
pub mod subscriptions;
pub mod tasks;
pub mod tool;
pub mod tools;
pub mod version;

pub use error::{ErrorCode, ErrorObject};
pub use jsonrpc::{Inbound, RequestId};
pub use result::{CacheScope, ResultType, Shape};
pub use version::{Era, ProtocolVersion};

/// A JSON object, as used for open-ended fields (`_meta`, schemas, arguments).
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
