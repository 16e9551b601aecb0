//! [`SwappableHandler`]: a handler whose whole catalog can be replaced at once (config hot
//! reload). Each request sees one snapshot from start to end; nobody sees half a reload.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use switchboard_protocol::completion::{Completion, CompletionArgument, CompletionReference};
use switchboard_protocol::content::ResourceContents;
use switchboard_protocol::prompts::{GetPromptResult, Prompt};
use switchboard_protocol::resources::{Resource, ResourceTemplate};
use switchboard_protocol::tools::CallToolResult;

use super::catalog::ToolCatalog;
use super::handler::{BoxFuture, ServerHandler, ToolCall};
use super::{HandlerError, RequestContext};

/// Serves whichever handler was installed last. Cheap to clone; clones share the slot.
#[derive(Clone)]
pub struct SwappableHandler {
    current: Arc<ArcSwap<Arc<dyn ServerHandler>>>,
}

impl std::fmt::Debug for SwappableHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwappableHandler").finish_non_exhaustive()
    }
}

impl SwappableHandler {
    /// Starts with `handler`.
    pub fn new(handler: impl ServerHandler) -> Self {
        let handler: Arc<dyn ServerHandler> = Arc::new(handler);
        Self { current: Arc::new(ArcSwap::from_pointee(handler)) }
    }

    /// Replaces the handler; requests already running finish on the old one.
    pub fn swap(&self, handler: impl ServerHandler) {
        let handler: Arc<dyn ServerHandler> = Arc::new(handler);
        self.current.store(Arc::new(handler));
    }

    fn get(&self) -> Arc<Arc<dyn ServerHandler>> {
        self.current.load_full()
    }
}

impl ServerHandler for SwappableHandler {
    fn tools(&self) -> Arc<ToolCatalog> {
        self.get().tools()
    }
    fn call_tool(
        &self,
        call: ToolCall,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<CallToolResult, HandlerError>> {
        self.get().call_tool(call, ctx)
    }
    fn resources(&self) -> Arc<[Resource]> {
        self.get().resources()
    }
    fn resource_templates(&self) -> Arc<[ResourceTemplate]> {
        self.get().resource_templates()
    }
    fn read_resource(
        &self,
        uri: String,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<Option<Vec<ResourceContents>>, HandlerError>> {
        self.get().read_resource(uri, ctx)
    }
    fn prompts(&self) -> Arc<[Prompt]> {
        self.get().prompts()
    }
    fn get_prompt(
        &self,
        name: String,
        arguments: BTreeMap<String, String>,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<Option<GetPromptResult>, HandlerError>> {
        self.get().get_prompt(name, arguments, ctx)
    }
    fn complete(
        &self,
        reference: CompletionReference,
        argument: CompletionArgument,
        context: BTreeMap<String, String>,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<Completion, HandlerError>> {
        self.get().complete(reference, argument, context, ctx)
    }
}
