//! [`ServerHandler`]: the explicit, object-safe path for serving tools, resources and prompts.
//! Dynamic servers (the gateway) implement it directly; [`Router`](super::Router) implements it
//! for statically registered handlers and the `#[handler]` macro.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use switchboard_protocol::completion::{Completion, CompletionArgument, CompletionReference};
use switchboard_protocol::content::ResourceContents;
use switchboard_protocol::prompts::{GetPromptResult, Prompt};
use switchboard_protocol::resources::{Resource, ResourceTemplate};
use switchboard_protocol::tools::CallToolResult;

use super::catalog::{ToolCatalog, ValidatedArgs};
use super::{HandlerError, RequestContext};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A tool call whose arguments passed the tool's `inputSchema`.
#[derive(Debug, Clone)]
pub struct ToolCall {
    /// The tool's name.
    pub name: String,
    /// The validated arguments.
    pub args: ValidatedArgs,
}

/// Serves the features of an MCP server. Every method has a default that offers nothing, so an
/// implementation overrides only what it provides. Listing methods return snapshots: cheap
/// `Arc` clones of immutable data, swapped whole when something changes (announce it through
/// the server's [`Notifier`](super::Notifier)).
pub trait ServerHandler: Send + Sync + 'static {
    /// The tools, with compiled validators.
    fn tools(&self) -> Arc<ToolCatalog> {
        Arc::default()
    }

    /// Runs a tool. Return `Err(HandlerError::msg(..))` (or any error via `?`) for a failure the
    /// model should see; the runtime turns it into an `isError` result.
    fn call_tool(
        &self,
        call: ToolCall,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<CallToolResult, HandlerError>> {
        let _ = ctx;
        Box::pin(async move { Err(HandlerError::invalid_params(format!("unknown tool: {}", call.name))) })
    }

    /// The concrete resources.
    fn resources(&self) -> Arc<[Resource]> {
        Arc::from(Vec::new())
    }

    /// The resource templates.
    fn resource_templates(&self) -> Arc<[ResourceTemplate]> {
        Arc::from(Vec::new())
    }

    /// Reads a resource (concrete or matching a template). `Ok(None)` means no such resource.
    fn read_resource(
        &self,
        uri: String,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<Option<Vec<ResourceContents>>, HandlerError>> {
        let _ = (uri, ctx);
        Box::pin(async { Ok(None) })
    }

    /// The prompts.
    fn prompts(&self) -> Arc<[Prompt]> {
        Arc::from(Vec::new())
    }

    /// Renders a prompt; required arguments were already checked. `Ok(None)` means no such prompt.
    fn get_prompt(
        &self,
        name: String,
        arguments: BTreeMap<String, String>,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<Option<GetPromptResult>, HandlerError>> {
        let _ = (name, arguments, ctx);
        Box::pin(async { Ok(None) })
    }

    /// Completes an argument of a prompt or resource template.
    fn complete(
        &self,
        reference: CompletionReference,
        argument: CompletionArgument,
        context: BTreeMap<String, String>,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<Completion, HandlerError>> {
        let _ = (reference, argument, context, ctx);
        Box::pin(async { Ok(Completion::default()) })
    }
}

impl<T: ServerHandler + ?Sized> ServerHandler for Arc<T> {
    fn tools(&self) -> Arc<ToolCatalog> {
        (**self).tools()
    }
    fn call_tool(
        &self,
        call: ToolCall,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<CallToolResult, HandlerError>> {
        (**self).call_tool(call, ctx)
    }
    fn resources(&self) -> Arc<[Resource]> {
        (**self).resources()
    }
    fn resource_templates(&self) -> Arc<[ResourceTemplate]> {
        (**self).resource_templates()
    }
    fn read_resource(
        &self,
        uri: String,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<Option<Vec<ResourceContents>>, HandlerError>> {
        (**self).read_resource(uri, ctx)
    }
    fn prompts(&self) -> Arc<[Prompt]> {
        (**self).prompts()
    }
    fn get_prompt(
        &self,
        name: String,
        arguments: BTreeMap<String, String>,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<Option<GetPromptResult>, HandlerError>> {
        (**self).get_prompt(name, arguments, ctx)
    }
    fn complete(
        &self,
        reference: CompletionReference,
        argument: CompletionArgument,
        context: BTreeMap<String, String>,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<Completion, HandlerError>> {
        (**self).complete(reference, argument, context, ctx)
    }
}
