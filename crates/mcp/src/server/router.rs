//! [`Router`]: register tools, resources, templates, prompts and completions — as closures or
//! as [`tower::Service`]s — then [`build`](Router::build) them into a [`Catalog`] snapshot. It is
//! what `#[handler]` expands to, and what a hand-written server or a gateway source uses.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use switchboard_protocol::content::{Icon, ResourceContents};
use switchboard_protocol::prompts::{GetPromptResult, Prompt};
use switchboard_protocol::resources::{Resource, ResourceTemplate};
use switchboard_protocol::tools::{CallToolResult, Tool, ToolAnnotations};
use switchboard_protocol::JsonObject;
use tower::service_fn;

use super::catalog::{Catalog, CatalogParts, ToolCatalog, ToolDefinitionError, ValidatedArgs};
use super::service::{
    CompletionRequest, CompletionService, PromptRequest, PromptService, ResourceRequest, ResourceService, ToolRequest,
    ToolService,
};
use super::typed::{input_schema_of, IntoToolResult};
use super::uri_template::{TemplateError, UriTemplate};
use super::{HandlerError, RequestContext};

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
    tools: Vec<(Tool, ToolService)>,
    resources: Vec<(Resource, ResourceService)>,
    templates: Vec<(ResourceTemplate, UriTemplate, ResourceService)>,
    prompts: Vec<(Prompt, PromptService)>,
    completions: HashMap<(String, String), CompletionService>,
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
    pub fn tool<F, Fut>(self, tool: Tool, f: F) -> Self
    where
        F: Fn(ValidatedArgs, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<CallToolResult, HandlerError>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.tool_service(tool, ToolService::new(service_fn(move |r: ToolRequest| f(r.args, r.ctx))))
    }

    /// Registers a tool served by `service` (a source's own [`tower::Service`]).
    pub fn tool_service(mut self, tool: Tool, service: ToolService) -> Self {
        self.tools.push((tool, service));
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
    pub fn resource<F, Fut>(self, resource: Resource, f: F) -> Self
    where
        F: Fn(String, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<ResourceContents>, HandlerError>> + Send + 'static,
    {
        let f = Arc::new(f);
        let service = service_fn(move |r: ResourceRequest| {
            let read = f(r.uri, r.ctx);
            async move { read.await.map(Some) }
        });
        self.resource_service(resource, ResourceService::new(service))
    }

    /// Registers a concrete resource read by `service`.
    pub fn resource_service(mut self, resource: Resource, service: ResourceService) -> Self {
        self.resources.push((resource, service));
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
    pub fn resource_template<F, Fut>(self, template: ResourceTemplate, f: F) -> Result<Self, RouterError>
    where
        F: Fn(String, BTreeMap<String, String>, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<Vec<ResourceContents>>, HandlerError>> + Send + 'static,
    {
        let f = Arc::new(f);
        let service = service_fn(move |r: ResourceRequest| f(r.uri, r.variables, r.ctx));
        self.template_service(template, ResourceService::new(service))
    }

    /// Registers a resource template read by `service` (which gets the template's variables).
    pub fn template_service(
        mut self,
        template: ResourceTemplate,
        service: ResourceService,
    ) -> Result<Self, RouterError> {
        let parsed = UriTemplate::parse(&template.uri_template)?;
        self.templates.push((template, parsed, service));
        Ok(self)
    }

    /// Registers a prompt rendered by `f` (required arguments are checked before `f` runs).
    pub fn prompt<F, Fut>(self, prompt: Prompt, f: F) -> Self
    where
        F: Fn(BTreeMap<String, String>, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<GetPromptResult, HandlerError>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.prompt_service(prompt, PromptService::new(service_fn(move |r: PromptRequest| f(r.arguments, r.ctx))))
    }

    /// Registers a prompt rendered by `service`.
    pub fn prompt_service(mut self, prompt: Prompt, service: PromptService) -> Self {
        self.prompts.push((prompt, service));
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

    /// Registers `service` as the completion of argument `argument` of the prompt `prompt` (a
    /// service sees the request's context, e.g. to forward it elsewhere).
    pub fn prompt_completion_service(mut self, prompt: &str, argument: &str, service: CompletionService) -> Self {
        self.completions.insert((format!("prompt:{prompt}"), argument.to_owned()), service);
        self
    }

    /// Registers `service` as the completion of variable `variable` of the template `uri_template`.
    pub fn template_completion_service(
        mut self,
        uri_template: &str,
        variable: &str,
        service: CompletionService,
    ) -> Self {
        self.completions.insert((format!("resource:{uri_template}"), variable.to_owned()), service);
        self
    }

    fn completion<F, Fut>(mut self, key: String, argument: &str, f: F) -> Self
    where
        F: Fn(String, BTreeMap<String, String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<String>, HandlerError>> + Send + 'static,
    {
        let f = Arc::new(f);
        let service = CompletionService::new(service_fn(move |r: CompletionRequest| {
            let values = f(r.value, r.context);
            async move { Ok(switchboard_protocol::completion::Completion { values: values.await?, ..Default::default() }) }
        }));
        self.completions.insert((key, argument.to_owned()), service);
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

    /// Compiles the tool schemas and freezes the router into a [`Catalog`] snapshot.
    pub fn build(self) -> Result<Catalog, RouterError> {
        let tools = ToolCatalog::new(self.tools)?;
        Ok(Catalog::from_parts(CatalogParts {
            tools,
            resources: self.resources,
            templates: self.templates,
            prompts: self.prompts,
            completions: self.completions,
        }))
    }
}
