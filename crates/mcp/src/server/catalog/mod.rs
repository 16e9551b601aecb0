//! [`Catalog`]: an immutable snapshot of everything a server offers — tool, resource, template
//! and prompt descriptors, the tools' compiled validators, and the services that run them — and
//! [`CatalogHandle`], the slot a server reads one snapshot from per request and a reload
//! replaces whole.
//!
//! **Invariant:** a snapshot is never edited once built; dispatch takes one snapshot per request
//! and validates and executes against that same snapshot, so nobody sees half a reload.

mod access;
mod list_cache;
mod refusals;
mod tools;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use switchboard_protocol::completion::CompletionReference;
use switchboard_protocol::prompts::Prompt;
use switchboard_protocol::resources::{Resource, ResourceTemplate};
use switchboard_protocol::tools::Tool;
use tower::Layer;

pub use access::{Access, BoundParam, Policy};
pub(crate) use list_cache::ListCache;
pub use refusals::{Refusal, RefusalObserver, RefusedCall};
pub use tools::{ToolCatalog, ToolDefinitionError, ToolEntry, ValidatedArgs};

use super::service::{
    CompletionRequest, CompletionService, PromptRequest, PromptService, ResourceRequest, ResourceService, ToolRequest,
    ToolService,
};
use super::uri_template::UriTemplate;
use super::HandlerError;

/// What a snapshot holds for one resource template.
pub(crate) struct TemplateEntry {
    /// The `uriTemplate` as listed (what a [`Policy`] names it by).
    pub(crate) template: String,
    pub(crate) matcher: UriTemplate,
    pub(crate) service: ResourceService,
}

/// An immutable snapshot of a server's tools, resources, templates, prompts and completions,
/// each with the [`tower::Service`] that serves it. Build one with
/// [`Router::build`](super::Router::build); wrap its services with
/// [`layer_tools`](Self::layer_tools) (and siblings) before serving it.
#[derive(Default)]
pub struct Catalog {
    tools: ToolCatalog,
    resources: Arc<[Resource]>,
    resource_services: HashMap<String, ResourceService>,
    templates: Arc<[ResourceTemplate]>,
    template_entries: Vec<TemplateEntry>,
    prompts: Arc<[Prompt]>,
    prompt_services: HashMap<String, PromptService>,
    completions: HashMap<(String, String), CompletionService>,
    policy: Policy,
    refusals: Option<Arc<dyn RefusalObserver>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("tools", &self.tools.len())
            .field("resources", &self.resources.len())
            .field("templates", &self.templates.len())
            .field("prompts", &self.prompts.len())
            .finish_non_exhaustive()
    }
}

/// The parts a [`Catalog`] is assembled from (by the router).
pub(crate) struct CatalogParts {
    pub(crate) tools: ToolCatalog,
    pub(crate) resources: Vec<(Resource, ResourceService)>,
    pub(crate) templates: Vec<(ResourceTemplate, UriTemplate, ResourceService)>,
    pub(crate) prompts: Vec<(Prompt, PromptService)>,
    pub(crate) completions: HashMap<(String, String), CompletionService>,
}

impl Catalog {
    /// A catalog that offers nothing.
    pub fn empty() -> Self {
        Self::default()
    }

    pub(crate) fn from_parts(parts: CatalogParts) -> Self {
        let CatalogParts { tools, resources, templates, prompts, completions } = parts;
        Self {
            tools,
            resources: resources.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>().into(),
            resource_services: resources.into_iter().map(|(r, s)| (r.uri, s)).collect(),
            templates: templates.iter().map(|(t, _, _)| t.clone()).collect::<Vec<_>>().into(),
            template_entries: templates
                .into_iter()
                .map(|(t, matcher, service)| TemplateEntry { template: t.uri_template, matcher, service })
                .collect(),
            prompts: prompts.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>().into(),
            prompt_services: prompts.into_iter().map(|(p, s)| (p.name, s)).collect(),
            completions,
            policy: Policy::open(),
            refusals: None,
        }
    }

    /// The same catalog, telling `observer` of every `tools/call` it refuses before a service
    /// runs (see [`RefusalObserver`]).
    pub fn with_refusal_observer(mut self, observer: Arc<dyn RefusalObserver>) -> Self {
        self.refusals = Some(observer);
        self
    }

    /// Who hears of refused calls.
    pub(crate) fn refusal_observer(&self) -> Option<&dyn RefusalObserver> {
        self.refusals.as_deref()
    }

    /// The same catalog under `policy`: who may see and use each entry, and which tool
    /// parameters come from the caller's identity.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The access rules (open to everyone unless [`with_policy`](Self::with_policy) set them).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The tools, with their validators and services.
    pub fn tools(&self) -> &ToolCatalog {
        &self.tools
    }

    /// The tool called `name`.
    pub fn tool(&self, name: &str) -> Option<&ToolEntry> {
        self.tools.get(name)
    }

    /// The concrete resources, in listing order.
    pub fn resources(&self) -> &Arc<[Resource]> {
        &self.resources
    }

    /// The resource templates, in listing order.
    pub fn resource_templates(&self) -> &Arc<[ResourceTemplate]> {
        &self.templates
    }

    /// The prompts, in listing order.
    pub fn prompts(&self) -> &Arc<[Prompt]> {
        &self.prompts
    }

    /// The prompt called `name` and the service that renders it.
    pub fn prompt(&self, name: &str) -> Option<(&Prompt, &PromptService)> {
        let prompt = self.prompts.iter().find(|p| p.name == name)?;
        Some((prompt, self.prompt_services.get(name)?))
    }

    /// The service that reads `uri` — a concrete resource first, then the first template that
    /// matches — with the template's variables.
    pub fn resource(&self, uri: &str) -> Option<(&ResourceService, BTreeMap<String, String>)> {
        self.resource_for(uri, None)
    }

    /// Like [`resource`](Self::resource), for `principal`: what its policy hides from it is
    /// not found.
    pub fn resource_for(
        &self,
        uri: &str,
        principal: Option<&super::Principal>,
    ) -> Option<(&ResourceService, BTreeMap<String, String>)> {
        let allowed = |key: &str| principal.is_none_or(|p| self.policy.allows_resource(key, p));
        if let Some(service) = self.resource_services.get(uri) {
            return allowed(uri).then(|| (service, BTreeMap::new()));
        }
        let (entry, vars) = self.template_entries.iter().find_map(|t| t.matcher.matches(uri).map(|vars| (t, vars)))?;
        allowed(&entry.template).then_some((&entry.service, vars))
    }

    /// The completer for `argument` of the prompt or resource template `reference`.
    pub fn completion(&self, reference: &CompletionReference, argument: &str) -> Option<&CompletionService> {
        let key = match reference {
            CompletionReference::Prompt { name, .. } => format!("prompt:{name}"),
            CompletionReference::Resource { uri } => format!("resource:{uri}"),
        };
        self.completions.get(&(key, argument.to_owned()))
    }

    /// Wraps every tool's service in `layer`: the one way cross-cutting behaviour (authorization,
    /// rate limits, timeouts, audit, metrics) reaches every tool from every source.
    pub fn layer_tools<L>(self, layer: L) -> Self
    where
        L: Layer<ToolService>,
        L::Service: tower::Service<ToolRequest, Response = switchboard_protocol::tools::CallToolResult, Error = HandlerError>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<ToolRequest>>::Future: Send + 'static,
    {
        self.map_tools(|_, service| ToolService::new(layer.layer(service)))
    }

    /// Replaces every tool's service with `f(definition, service)`: for layers whose settings
    /// differ per tool (a timeout, the roles allowed).
    pub fn map_tools(mut self, f: impl FnMut(&Tool, ToolService) -> ToolService) -> Self {
        self.tools.map_services(f);
        self
    }

    /// Wraps every resource reader (concrete and templated) in `layer`.
    pub fn layer_resources<L>(mut self, layer: L) -> Self
    where
        L: Layer<ResourceService>,
        L::Service: tower::Service<
                ResourceRequest,
                Response = Option<Vec<switchboard_protocol::content::ResourceContents>>,
                Error = HandlerError,
            > + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<ResourceRequest>>::Future: Send + 'static,
    {
        let wrap = |s: ResourceService| ResourceService::new(layer.layer(s));
        self.resource_services = self.resource_services.into_iter().map(|(k, s)| (k, wrap(s))).collect();
        self.template_entries = self
            .template_entries
            .into_iter()
            .map(|t| TemplateEntry { template: t.template, matcher: t.matcher, service: wrap(t.service) })
            .collect();
        self
    }

    /// Wraps every prompt renderer in `layer`.
    pub fn layer_prompts<L>(mut self, layer: L) -> Self
    where
        L: Layer<PromptService>,
        L::Service: tower::Service<
                PromptRequest,
                Response = switchboard_protocol::prompts::GetPromptResult,
                Error = HandlerError,
            > + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<PromptRequest>>::Future: Send + 'static,
    {
        self.prompt_services =
            self.prompt_services.into_iter().map(|(k, s)| (k, PromptService::new(layer.layer(s)))).collect();
        self
    }

    /// Wraps every completer in `layer`.
    pub fn layer_completions<L>(mut self, layer: L) -> Self
    where
        L: Layer<CompletionService>,
        L::Service: tower::Service<
                CompletionRequest,
                Response = switchboard_protocol::completion::Completion,
                Error = HandlerError,
            > + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<CompletionRequest>>::Future: Send + 'static,
    {
        self.completions =
            self.completions.into_iter().map(|(k, s)| (k, CompletionService::new(layer.layer(s)))).collect();
        self
    }
}

/// The slot a server serves its catalog from. Cheap to clone; clones share the slot, so the
/// code that reloads configuration keeps one and [`store`](Self::store)s each new snapshot.
#[derive(Clone)]
pub struct CatalogHandle {
    current: Arc<ArcSwap<Catalog>>,
}

impl std::fmt::Debug for CatalogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CatalogHandle").field(&*self.current.load()).finish()
    }
}

impl Default for CatalogHandle {
    fn default() -> Self {
        Self::new(Catalog::empty())
    }
}

impl From<Catalog> for CatalogHandle {
    fn from(catalog: Catalog) -> Self {
        Self::new(catalog)
    }
}

impl CatalogHandle {
    /// A slot holding `catalog`.
    pub fn new(catalog: Catalog) -> Self {
        Self { current: Arc::new(ArcSwap::from_pointee(catalog)) }
    }

    /// The current snapshot. A request holds it from start to end.
    pub fn load(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    /// Replaces the snapshot whole; requests already running finish on the one they took.
    /// Announce the change through the server's [`Notifier`](super::Notifier).
    pub fn store(&self, catalog: Catalog) {
        self.current.store(Arc::new(catalog));
    }
}
