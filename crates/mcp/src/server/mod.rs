//! The dual-era server runtime.
//!
//! A [`Server`] serves one [`Catalog`] slot ([`CatalogHandle`]) over any number of connections. On each
//! connection, a request that carries modern `_meta` (protocol 2026-07-28) is served statelessly
//! from that `_meta` alone; an `initialize` starts a legacy session (2024-11-05 … 2025-11-25) for
//! that connection. Both can happen on the same connection.
//!
//! Flow of one request: engine → [`connection`] (era, session) → [`dispatch`] (method,
//! params, one catalog snapshot, validation, MRTR sealing, result shaping) → the snapshot's
//! [`tower::Service`] for that tool, resource, prompt or completion ([`service`]).

mod catalog;
mod connection;
mod context;
mod cursor;
mod dispatch;
mod error;
#[cfg(feature = "http-server")]
pub mod http;
mod local;
mod notify;
mod principal;
mod router;
mod seal;
mod service;
mod tasks;
mod typed;
mod unique_id;
pub mod uri_template;

#[cfg(test)]
mod seam_tests;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use switchboard_protocol::lifecycle::{Implementation, ListChangedCapability, ResourcesCapability, ServerCapabilities};
use switchboard_protocol::result::CacheHint;
use switchboard_protocol::CacheScope;
use tokio_util::sync::CancellationToken;

pub(crate) use connection::{ServerConnection, Session};
/// The connection modern HTTP requests are served on.
pub(crate) type StatelessConnection = ServerConnection;
pub use crate::xmcp::HeaderParam;
pub use catalog::{
    Access, BoundParam, Catalog, CatalogHandle, Policy, Refusal, RefusalObserver, RefusedCall, ToolCatalog,
    ToolDefinitionError, ToolEntry, ValidatedArgs,
};
pub use context::RequestContext;
pub use error::{HandlerError, InputNeeded, ToolError};
pub use local::LocalClient;
pub use notify::{Change, Notifier};
pub use principal::Principal;
pub use router::{Router, RouterError, TaskSupport, ToolInfo};
pub use seal::StateSealer;
pub use service::{
    CompletionRequest, CompletionService, PromptRequest, PromptService, ResourceRequest, ResourceService, ToolRequest,
    ToolService,
};
pub use tasks::{InMemoryTaskStore, TaskFuture, TaskRecord, TaskSignal, TaskStore, TaskStoreError};
pub use typed::{input_schema_of, schema_of, IntoPromptResult, IntoRouter, IntoToolResult, Json, NoArgs};
pub use unique_id::unique_id;

use crate::engine::{serve_connection, ConnectionError};
use crate::transport::{FrameReader, FrameWriter};
use crate::Limits;

/// Caching hints stamped on cacheable modern results that do not set their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheHints {
    /// `server/discover`. Default: 1 hour, public.
    pub discover: CacheHint,
    /// `tools/list`, `prompts/list`, `resources/list`, `resources/templates/list`. Default:
    /// 5 minutes, public (list-changed notifications invalidate sooner).
    pub lists: CacheHint,
    /// `resources/read`. Default: 0 (always stale), private.
    pub read: CacheHint,
}

impl Default for CacheHints {
    fn default() -> Self {
        Self {
            discover: CacheHint { ttl_ms: 3_600_000, scope: CacheScope::Public },
            lists: CacheHint { ttl_ms: 300_000, scope: CacheScope::Public },
            read: CacheHint { ttl_ms: 0, scope: CacheScope::Private },
        }
    }
}

/// Builds a [`Server`].
#[derive(Debug)]
pub struct ServerBuilder {
    info: Implementation,
    instructions: Option<String>,
    catalog: Option<CatalogHandle>,
    capabilities: Option<ServerCapabilities>,
    limits: Limits,
    sealer: StateSealer,
    page_size: usize,
    cache: CacheHints,
    notifier: Notifier,
    tasks: Arc<dyn TaskStore>,
    on_subscribe: Option<SubscribeHook>,
    on_unsubscribe: Option<SubscribeHook>,
}

/// Told each resource URI a client subscribes to (see [`ServerBuilder::on_resource_subscribe`]),
/// or no longer watches ([`ServerBuilder::on_resource_unsubscribe`]).
#[derive(Clone)]
pub(crate) struct SubscribeHook(Arc<dyn Fn(&str) + Send + Sync>);

impl SubscribeHook {
    pub(crate) fn call(&self, uri: &str) {
        (self.0)(uri)
    }
}

impl std::fmt::Debug for SubscribeHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubscribeHook")
    }
}

impl std::fmt::Debug for dyn TaskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskStore")
    }
}

impl ServerBuilder {
    /// Serves whatever snapshot `catalog` holds when each request arrives: pass a
    /// [`Catalog`], or a [`CatalogHandle`] kept to swap in new snapshots (configuration reload).
    pub fn catalog(mut self, catalog: impl Into<CatalogHandle>) -> Self {
        self.catalog = Some(catalog.into());
        self
    }

    /// Serves a [`Router`], or a type with a `#[handler]` impl (compiling its schemas).
    pub fn router(self, router: impl IntoRouter) -> Result<Self, RouterError> {
        Ok(self.catalog(router.into_router().build()?))
    }

    /// Guidance for the model about this server.
    pub fn instructions(mut self, text: impl Into<String>) -> Self {
        self.instructions = Some(text.into());
        self
    }

    /// Replaces the implementation info (title, description, icons, website).
    pub fn info(mut self, info: Implementation) -> Self {
        self.info = info;
        self
    }

    /// Overrides the advertised capabilities (by default derived from what the handler offers).
    pub fn capabilities(mut self, capabilities: ServerCapabilities) -> Self {
        self.capabilities = Some(capabilities);
        self
    }

    /// Calls `hook` with each resource URI a client subscribes to (`resources/subscribe`, or a
    /// `subscriptions/listen` naming resources), before the subscription is acknowledged: a
    /// server whose resources live elsewhere (a gateway) subscribes there. Updates still reach
    /// only the subscribed clients through [`Notifier::resource_updated`].
    pub fn on_resource_subscribe(mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_subscribe = Some(SubscribeHook(Arc::new(hook)));
        self
    }

    /// Calls `hook` once for each call of the subscribe hook whose subscription ended: the
    /// client's `resources/unsubscribe`, the end of its legacy session, or the end of the
    /// `subscriptions/listen` stream that named the URI. Counting the two, a gateway knows when
    /// nobody watches a resource any more.
    pub fn on_resource_unsubscribe(mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_unsubscribe = Some(SubscribeHook(Arc::new(hook)));
        self
    }

    /// Sets the connection limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the request-state sealer (for a key shared across replicas).
    pub fn sealer(mut self, sealer: StateSealer) -> Self {
        self.sealer = sealer;
        self
    }

    /// Sets how many items a list page holds (default 100).
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Uses `notifier` for change announcements, so handlers built before the server can
    /// announce changes through it.
    pub fn notifier(mut self, notifier: Notifier) -> Self {
        self.notifier = notifier;
        self
    }

    /// Keeps task records in `store` (default: in memory).
    pub fn task_store(mut self, store: impl TaskStore) -> Self {
        self.tasks = Arc::new(store);
        self
    }

    /// Sets the caching hints.
    pub fn cache_hints(mut self, hints: CacheHints) -> Self {
        self.cache = hints;
        self
    }

    /// Finishes the server.
    pub fn build(self) -> Server {
        let catalog = self.catalog.unwrap_or_default();
        let capabilities = self.capabilities.unwrap_or_else(|| derive_capabilities(&catalog.load()));
        Server {
            inner: Arc::new(ServerInner {
                info: Arc::new(self.info),
                instructions: self.instructions,
                catalog,
                capabilities,
                limits: self.limits,
                sealer: self.sealer,
                page_size: self.page_size,
                cache: self.cache,
                notifier: self.notifier,
                on_subscribe: self.on_subscribe,
                on_unsubscribe: self.on_unsubscribe,
                shutdown: CancellationToken::new(),
                tasks: self.tasks,
                task_runtime: Arc::default(),
                tools_pages: catalog::ListCache::default(),
            }),
        }
    }
}

fn derive_capabilities(catalog: &Catalog) -> ServerCapabilities {
    let has_tools = !catalog.tools().is_empty();
    let has_resources = !catalog.resources().is_empty() || !catalog.resource_templates().is_empty();
    let has_prompts = !catalog.prompts().is_empty();
    let has_tasks = catalog.tools().entries().iter().any(|e| {
        e.tool()
            .execution
            .as_ref()
            .and_then(|x| x.get("taskSupport"))
            .and_then(|v| v.as_str())
            .is_some_and(|v| v != "forbidden")
    });
    let tasks = has_tasks.then(|| {
        let mut t = switchboard_protocol::JsonObject::new();
        t.insert("list".into(), serde_json::json!({}));
        t.insert("cancel".into(), serde_json::json!({}));
        t.insert("requests".into(), serde_json::json!({"tools": {"call": {}}}));
        t
    });
    let extensions = has_tasks.then(|| {
        let mut e = serde_json::Map::new();
        e.insert(switchboard_protocol::tasks::EXTENSION.into(), serde_json::json!({}));
        e
    });
    ServerCapabilities {
        tasks,
        extensions,
        tools: has_tools.then_some(ListChangedCapability { list_changed: Some(true) }),
        resources: has_resources.then_some(ResourcesCapability { subscribe: Some(true), list_changed: Some(true) }),
        prompts: has_prompts.then_some(ListChangedCapability { list_changed: Some(true) }),
        completions: (has_prompts || !catalog.resource_templates().is_empty()).then(Default::default),
        logging: Some(Default::default()),
        ..ServerCapabilities::default()
    }
}

/// A running MCP server. Cheap to clone; every clone serves the same catalog slot.
#[derive(Debug, Clone)]
pub struct Server {
    inner: Arc<ServerInner>,
}

#[derive(Debug)]
pub(crate) struct ServerInner {
    pub(crate) info: Arc<Implementation>,
    pub(crate) instructions: Option<String>,
    pub(crate) catalog: CatalogHandle,
    pub(crate) capabilities: ServerCapabilities,
    pub(crate) limits: Limits,
    pub(crate) sealer: StateSealer,
    pub(crate) page_size: usize,
    pub(crate) cache: CacheHints,
    pub(crate) notifier: Notifier,
    pub(crate) on_subscribe: Option<SubscribeHook>,
    pub(crate) on_unsubscribe: Option<SubscribeHook>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tasks: Arc<dyn TaskStore>,
    pub(crate) task_runtime: Arc<tasks::TaskRuntime>,
    /// Encoded `tools/list` pages of the current catalog snapshot.
    pub(crate) tools_pages: catalog::ListCache,
}

impl Server {
    /// Starts building a server named `name` at `version`.
    pub fn builder(name: impl Into<String>, version: impl Into<String>) -> ServerBuilder {
        ServerBuilder {
            info: Implementation::new(name, version),
            instructions: None,
            catalog: None,
            capabilities: None,
            limits: Limits::default(),
            sealer: StateSealer::random(),
            page_size: 100,
            cache: CacheHints::default(),
            notifier: Notifier::default(),
            tasks: Arc::new(InMemoryTaskStore::default()),
            on_subscribe: None,
            on_unsubscribe: None,
        }
    }

    /// The handle for announcing list and resource changes to connected clients.
    pub fn notifier(&self) -> Notifier {
        self.inner.notifier.clone()
    }

    /// A connection with no legacy session, for stateless (modern) requests from any client.
    pub(crate) fn stateless_connection(&self) -> ServerConnection {
        ServerConnection::new(self.inner.clone())
    }

    /// A fresh connection (a legacy session may start on it).
    pub(crate) fn connection(&self) -> ServerConnection {
        ServerConnection::new(self.inner.clone())
    }

    /// A connection around a restored legacy session.
    pub(crate) fn connection_with_session(&self, session: Arc<Session>) -> ServerConnection {
        ServerConnection::with_session(self.inner.clone(), session)
    }

    /// The current catalog snapshot.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.inner.catalog.load()
    }

    /// A token that fires when [`Server::shutdown`] is called.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// The connection limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The advertised capabilities.
    pub fn capabilities(&self) -> &ServerCapabilities {
        &self.inner.capabilities
    }

    /// Stops every connection: input stops being read, listen streams end with their final
    /// result, and in-flight requests get a grace period before they are cancelled.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Serves one connection over a frame reader and writer until it closes.
    /// Not cancel-safe: dropping the future abandons the connection mid-message.
    pub async fn serve<R: FrameReader, W: FrameWriter>(&self, reader: R, writer: W) -> Result<(), ConnectionError> {
        self.serve_as(reader, writer, Principal::anonymous()).await
    }

    /// Like [`serve`](Self::serve), every request acting for `principal` (the user who started a
    /// stdio server, or whoever authenticated a WebSocket or SSE connection).
    pub async fn serve_as<R: FrameReader, W: FrameWriter>(
        &self,
        reader: R,
        writer: W,
        principal: Principal,
    ) -> Result<(), ConnectionError> {
        self.serve_from(reader, writer, principal, None).await
    }

    /// Like [`serve_as`](Self::serve_as), with the transport request that opened the
    /// connection standing as every request's [`Origin`](crate::engine::Origin).
    pub(crate) async fn serve_from<R: FrameReader, W: FrameWriter>(
        &self,
        reader: R,
        writer: W,
        principal: Principal,
        origin: Option<Arc<crate::engine::Origin>>,
    ) -> Result<(), ConnectionError> {
        let mut connection = connection::ServerConnection::new(self.inner.clone());
        connection.principal = principal;
        connection.origin = origin;
        let connection = Arc::new(connection);
        let limits = self.inner.limits;
        serve_connection(reader, writer, connection, limits, self.inner.shutdown.clone(), |_| {}).await
    }

    /// Serves this process's stdin/stdout until stdin closes (or [`Server::shutdown`]).
    #[cfg(feature = "stdio")]
    pub async fn serve_stdio(&self) -> Result<(), ConnectionError> {
        let (reader, writer) = crate::transport::stdio::stdio(self.inner.limits.max_message_bytes);
        self.serve(reader, writer).await
    }
}
