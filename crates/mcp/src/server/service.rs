//! The seam every feature goes through: a tool call, a resource read, a prompt get and a
//! completion are each a [`tower::Service`] over a typed request carrying the request's
//! [`RequestContext`]. Sources produce these services; cross-cutting behaviour (authorization,
//! rate limits, timeouts, audit, metrics) is a [`tower::Layer`] around them, applied with
//! [`Catalog::layer_tools`](super::Catalog::layer_tools) and its siblings.

use std::collections::BTreeMap;

use switchboard_protocol::completion::Completion;
use switchboard_protocol::content::ResourceContents;
use switchboard_protocol::prompts::GetPromptResult;
use switchboard_protocol::tools::CallToolResult;
use tower::util::BoxCloneSyncService;

use super::catalog::ValidatedArgs;
use super::{HandlerError, RequestContext};

/// One `tools/call`, after its arguments passed the tool's `inputSchema`.
#[derive(Debug, Clone)]
pub struct ToolRequest {
    /// The tool's name, as listed.
    pub name: String,
    /// The validated arguments.
    pub args: ValidatedArgs,
    /// The request: principal, id, deadline, progress, cancellation, input requests.
    pub ctx: RequestContext,
}

/// One `resources/read` of a concrete resource or of a URI matching a template.
#[derive(Debug, Clone)]
pub struct ResourceRequest {
    /// The URI asked for.
    pub uri: String,
    /// The template's variables, when the URI matched a template (empty for concrete resources).
    pub variables: BTreeMap<String, String>,
    /// The request.
    pub ctx: RequestContext,
}

/// One `prompts/get`; the prompt's required arguments are present.
#[derive(Debug, Clone)]
pub struct PromptRequest {
    /// The prompt's name.
    pub name: String,
    /// The arguments.
    pub arguments: BTreeMap<String, String>,
    /// The request.
    pub ctx: RequestContext,
}

/// One `completion/complete` for one argument of a prompt or resource template.
#[derive(Debug, Clone)]
pub struct CompletionRequest {
    /// What the user has typed so far.
    pub value: String,
    /// The other arguments already chosen.
    pub context: BTreeMap<String, String>,
    /// The request.
    pub ctx: RequestContext,
}

/// A tool: validated arguments in, a result out. An `Err` carrying a tool error becomes an
/// `isError` result the model sees; other errors become JSON-RPC errors.
pub type ToolService = BoxCloneSyncService<ToolRequest, CallToolResult, HandlerError>;

/// A resource reader. `Ok(None)` means nothing exists at that URI (`-32002`).
pub type ResourceService = BoxCloneSyncService<ResourceRequest, Option<Vec<ResourceContents>>, HandlerError>;

/// A prompt renderer.
pub type PromptService = BoxCloneSyncService<PromptRequest, GetPromptResult, HandlerError>;

/// An argument completer: candidate values, best first, and — when it knows — how many exist in
/// all and whether there are more than it gave (a completer forwarding to another server passes
/// those on). The server sends at most 100 values and fills in `total`/`hasMore` beyond that.
pub type CompletionService = BoxCloneSyncService<CompletionRequest, Completion, HandlerError>;
