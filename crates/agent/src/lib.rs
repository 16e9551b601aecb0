//! The agent host: a model's function-calling loop over a Switchboard server's tools.
//!
//! A user's message goes to a model ([`provider`]) with the tools the caller's principal may use
//! ([`tools`]); the tool calls the model asks for run through the server in-process
//! ([`switchboard_mcp::server::LocalClient`], so every guardrail applies to what a model does),
//! their results go back, and so on until the model answers ([`turn`]). [`chat_api`] serves it as
//! an OpenAI-compatible chat API.
//!
//! **Invariant:** tools are reached only through the server's catalog, as the caller's principal;
//! provider JSON stays in [`provider`].

pub mod agent;
mod body;
mod cache;
pub mod chat_api;
mod confirm;
mod conversations;
mod http_error;
pub mod message;
mod outcome;
pub mod provider;
pub mod store;
pub mod tools;
pub mod turn;

pub use agent::{Agent, AgentSettings, Model, Price, UsageSink};
pub use message::{AssistantTurn, Message, ToolCall, ToolOutcome, Usage};
pub use provider::{Provider, ProviderError};
pub use turn::{Event, TurnError, TurnOutput};
