//! [`Router`]: register tools, resources, templates, prompts and completions as closures, then
//! serve them. It is what `#[handler]` expands to, and what a hand-written server uses.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use switchboard_protocol::completion::{Completion, CompletionArgument, CompletionReference};
use switchboard_protocol::content::{Icon, ResourceContents};
use switchboard_protocol::prompts::{GetPromptResult, Prompt};
use switchboard_protocol::resources::{Resource, ResourceTemplate};
use switchboard_protocol::tools::{CallToolResult, Tool, ToolAnnotations};
use switchboard_protocol::JsonObject;

use super::catalog::{ToolCatalog, ToolDefinitionError, ValidatedArgs};
use super::handler::{BoxFuture, ServerHandler, ToolCall};
use super::typed::{input_schema_of, IntoToolResult};
use super::uri_template::{TemplateError, UriTemplate};
use super::{HandlerError, RequestContext};

type ToolFn = Arc<
    dyn Fn(ValidatedArgs, RequestContext) -> BoxFuture<'static, Result<CallToolResult, HandlerError>> + Send + Sync,
>;
type ResourceFn = Arc<
    dyn Fn(String, RequestContext) -> BoxFuture<'static, Result<Vec<ResourceContents>, HandlerError>> + Send + Sync,
>;
type TemplateFn = Arc<
    dyn Fn(
            String,
            BTreeMap<String, String>,
            RequestContext,
        ) -> BoxFuture<'static, Result<Option<Vec<ResourceContents>>, HandlerError>>
        + Send
        + Sync,
>;
type PromptFn = Arc<
    dyn Fn(BTreeMap<String, String>, RequestContext) -> BoxFuture<'static, Result<GetPromptResult, HandlerError>>
        + Send
        + Sync,
>;
type CompleteFn = Arc<
    dyn Fn(String, BTreeMap<String, String>) -> BoxFuture<'static, Result<Vec<String>, HandlerError>> + Send + Sync,
>;

/// Whether a tool runs as a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSupport {
    /// As a task when the client can follow one, inline otherwise.
    Optional,
    /// Only as a task; clients that cannot follow one are refused.
    Required,
}

/// What a typed tool is called and how it presents itself; schemas come from its types.
#[derive(Debug, Clone)]
pub struct ToolInfo {
    tool: Tool,
}

impl ToolInfo {
    /// A tool named `name` that does `description`.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        let description = description.into();
        let mut tool = Tool::new(name, description.clone(), JsonObject::new());
        // An undocumented tool has no description rather than an empty one.
        if description.is_empty() {
            tool.description = None;
        }
        Self { tool }
    }

    /// A display title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.tool.title = Some(title.into());
        self
    }

    /// Marks the tool read-only (it changes nothing).
    pub fn read_only(mut self) -> Self {
        self.annotations().read_only_hint = Some(true);
        self
    }

    /// Marks the tool destructive (it may delete or overwrite).
    pub fn destructive(mut self) -> Self {
        self.annotations().destructive_hint = Some(true);
        self
    }

    /// Marks the tool idempotent.
    pub fn idempotent(mut self) -> Self {
        self.annotations().idempotent_hint = Some(true);
        self
    }

    /// Marks whether the tool reaches the open world.
    pub fn open_world(mut self, open: bool) -> Self {
        self.annotations().open_world_hint = Some(open);
        self
    }

    /// Says whether the tool may run as a task (`optional`) or only as one (`required`);
    /// the handler opts in with [`RequestContext::run_as_task`].
    pub fn task_support(mut self, support: TaskSupport) -> Self {
        let value = match support {
            TaskSupport::Optional => "optional",
            TaskSupport::Required => "required",
        };
        let mut execution = JsonObject::new();
        execution.insert("taskSupport".into(), value.into());
        self.tool.execution = Some(execution);
        self
    }

    /// Adds an icon.
    pub fn icon(mut self, icon: Icon) -> Self {
        self.tool.icons.get_or_insert_with(Vec::new).push(icon);
        self
    }

    fn annotations(&mut self) -> &mut ToolAnnotations {
        self.tool.annotations.get_or_insert_with(ToolAnnotations::default)
    }
}

/// A set of handlers, built up then served. See the crate docs for an example.
#[derive(Default, Clone)]
pub struct Router {
    tools: Vec<(Tool, ToolFn)>,
    resources: Vec<(Resource, ResourceFn)>,
    templates: Vec<(ResourceTemplate, UriTemplate, TemplateFn)>,
    prompts: Vec<(Prompt, PromptFn)>,
    completions: HashMap<(String, String), CompleteFn>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("tools", &self.tools.iter().map(|t| &t.0.name).collect::<Vec<_>>())
            .field("resources", &self.resources.iter().map(|r| &r.0.uri).collect::<Vec<_>>())
            .field("templates", &self.templates.iter().map(|t| &t.0.uri_template).collect::<Vec<_>>())
            .field("prompts", &self.prompts.iter().map(|p| &p.0.name).collect::<Vec<_>>())
            .finish()
    }
}

/// Why a router could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// A tool definition is invalid.
    #[error(transparent)]
    Tool(#[from] ToolDefinitionError),
    /// A resource template does not parse.
    #[error(transparent)]
    Template(#[from] TemplateError),
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a tool with a hand-written definition; `f` receives validated arguments.
    pub fn tool<F, Fut>(mut self, tool: Tool, f: F) -> Self
    where
        F: Fn(ValidatedArgs, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<CallToolResult, HandlerError>> + Send + 'static,
    {
        self.tools.push((tool, Arc::new(move |args, ctx| Box::pin(f(args, ctx)))));
        self
    }

    /// Registers a typed tool: the input schema comes from `A`, the output schema from `R`.
    pub fn typed_tool<A, R, F, Fut>(self, info: ToolInfo, f: F) -> Self
    where
        A: DeserializeOwned + JsonSchema + Send + 'static,
        R: IntoToolResult + Send + 'static,
        F: Fn(A, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        let mut tool = info.tool;
        tool.input_schema = Arc::new(input_schema_of::<A>());
        tool.output_schema = R::output_schema().map(Arc::new);
        let f = Arc::new(f);
        self.tool(tool, move |args, ctx| {
            let f = f.clone();
            async move {
                let args: A = args.parse()?;
                f(args, ctx).await.into_tool_result()
            }
        })
    }

    /// Registers a concrete resource read by `f`.
    pub fn resource<F, Fut>(mut self, resource: Resource, f: F) -> Self
    where
        F: Fn(String, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<ResourceContents>, HandlerError>> + Send + 'static,
    {
        self.resources.push((resource, Arc::new(move |uri, ctx| Box::pin(f(uri, ctx)))));
        self
    }

    /// Registers a fixed text resource.
    pub fn text_resource(self, resource: Resource, text: impl Into<String>) -> Self {
        let text: Arc<str> = text.into().into();
        let mime = resource.mime_type.clone();
        self.resource(resource, move |uri, _| {
            let contents = ResourceContents::text(uri, mime.as_deref(), &*text);
            async move { Ok(vec![contents]) }
        })
    }

    /// Registers a resource template; `f` receives the URI and the template variables and
    /// returns `None` when nothing exists at that URI.
    pub fn resource_template<F, Fut>(mut self, template: ResourceTemplate, f: F) -> Result<Self, RouterError>
    where
        F: Fn(String, BTreeMap<String, String>, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<Vec<ResourceContents>>, HandlerError>> + Send + 'static,
    {
        let parsed = UriTemplate::parse(&template.uri_template)?;
        self.templates.push((template, parsed, Arc::new(move |uri, vars, ctx| Box::pin(f(uri, vars, ctx)))));
        Ok(self)
    }

    /// Registers a prompt rendered by `f` (required arguments are checked before `f` runs).
    pub fn prompt<F, Fut>(mut self, prompt: Prompt, f: F) -> Self
    where
        F: Fn(BTreeMap<String, String>, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<GetPromptResult, HandlerError>> + Send + 'static,
    {
        self.prompts.push((prompt, Arc::new(move |args, ctx| Box::pin(f(args, ctx)))));
        self
    }

    /// Registers completion for argument `argument` of the prompt named `prompt`.
    pub fn prompt_completion<F, Fut>(self, prompt: &str, argument: &str, f: F) -> Self
    where
        F: Fn(String, BTreeMap<String, String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<String>, HandlerError>> + Send + 'static,
    {
        self.completion(format!("prompt:{prompt}"), argument, f)
    }

    /// Registers completion for variable `variable` of the resource template `uri_template`.
    pub fn template_completion<F, Fut>(self, uri_template: &str, variable: &str, f: F) -> Self
    where
        F: Fn(String, BTreeMap<String, String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<String>, HandlerError>> + Send + 'static,
    {
        self.completion(format!("resource:{uri_template}"), variable, f)
    }

    fn completion<F, Fut>(mut self, key: String, argument: &str, f: F) -> Self
    where
        F: Fn(String, BTreeMap<String, String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<String>, HandlerError>> + Send + 'static,
    {
        self.completions.insert((key, argument.to_owned()), Arc::new(move |v, c| Box::pin(f(v, c))));
        self
    }

    /// Adds everything registered on `other`.
    pub fn merge(mut self, other: Router) -> Self {
        self.tools.extend(other.tools);
        self.resources.extend(other.resources);
        self.templates.extend(other.templates);
        self.prompts.extend(other.prompts);
        self.completions.extend(other.completions);
        self
    }

    /// Compiles the tool schemas and freezes the router into a [`ServerHandler`].
    pub fn build(self) -> Result<RouterHandler, RouterError> {
        let catalog = ToolCatalog::new(self.tools.iter().map(|(t, _)| t.clone()))?;
        let tool_fns = self.tools.into_iter().map(|(t, f)| (t.name, f)).collect();
        Ok(RouterHandler {
            catalog: Arc::new(catalog),
            tool_fns,
            resource_list: self.resources.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>().into(),
            resource_fns: self.resources.into_iter().map(|(r, f)| (r.uri, f)).collect(),
            template_list: self.templates.iter().map(|(t, _, _)| t.clone()).collect::<Vec<_>>().into(),
            templates: self.templates.into_iter().map(|(_, t, f)| (t, f)).collect(),
            prompt_list: self.prompts.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>().into(),
            prompt_fns: self.prompts.into_iter().map(|(p, f)| (p.name, f)).collect(),
            completions: self.completions,
        })
    }
}

/// A built [`Router`]: immutable, cheap to query.
pub struct RouterHandler {
    catalog: Arc<ToolCatalog>,
    tool_fns: HashMap<String, ToolFn>,
    resource_list: Arc<[Resource]>,
    resource_fns: HashMap<String, ResourceFn>,
    template_list: Arc<[ResourceTemplate]>,
    templates: Vec<(UriTemplate, TemplateFn)>,
    prompt_list: Arc<[Prompt]>,
    prompt_fns: HashMap<String, PromptFn>,
    completions: HashMap<(String, String), CompleteFn>,
}

impl std::fmt::Debug for RouterHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterHandler").field("tools", &self.catalog.len()).finish_non_exhaustive()
    }
}

impl ServerHandler for RouterHandler {
    fn tools(&self) -> Arc<ToolCatalog> {
        self.catalog.clone()
    }

    fn call_tool(
        &self,
        call: ToolCall,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<CallToolResult, HandlerError>> {
        match self.tool_fns.get(&call.name) {
            Some(f) => f(call.args, ctx),
            None => Box::pin(async move { Err(HandlerError::invalid_params(format!("unknown tool: {}", call.name))) }),
        }
    }

    fn resources(&self) -> Arc<[Resource]> {
        self.resource_list.clone()
    }

    fn resource_templates(&self) -> Arc<[ResourceTemplate]> {
        self.template_list.clone()
    }

    fn read_resource(
        &self,
        uri: String,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<Option<Vec<ResourceContents>>, HandlerError>> {
        if let Some(f) = self.resource_fns.get(&uri) {
            let fut = f(uri, ctx);
            return Box::pin(async move { fut.await.map(Some) });
        }
        for (template, f) in &self.templates {
            if let Some(vars) = template.matches(&uri) {
                return f(uri, vars, ctx);
            }
        }
        Box::pin(async { Ok(None) })
    }

    fn prompts(&self) -> Arc<[Prompt]> {
        self.prompt_list.clone()
    }

    fn get_prompt(
        &self,
        name: String,
        arguments: BTreeMap<String, String>,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<Option<GetPromptResult>, HandlerError>> {
        match self.prompt_fns.get(&name) {
            Some(f) => {
                let fut = f(arguments, ctx);
                Box::pin(async move { fut.await.map(Some) })
            }
            None => Box::pin(async { Ok(None) }),
        }
    }

    fn complete(
        &self,
        reference: CompletionReference,
        argument: CompletionArgument,
        context: BTreeMap<String, String>,
        _ctx: RequestContext,
    ) -> BoxFuture<'static, Result<Completion, HandlerError>> {
        let key = match &reference {
            CompletionReference::Prompt { name, .. } => format!("prompt:{name}"),
            CompletionReference::Resource { uri } => format!("resource:{uri}"),
        };
        match self.completions.get(&(key, argument.name.clone())) {
            Some(f) => {
                let fut = f(argument.value, context);
                Box::pin(async move { Ok(Completion { values: fut.await?, total: None, has_more: None }) })
            }
            None => Box::pin(async { Ok(Completion::default()) }),
        }
    }
}
