//! Method dispatch: parse params (once, with path-bearing errors), decide the era, take one
//! catalog snapshot, call the snapshot's service, and encode the result shaped for the revision
//! the request speaks.

mod tasks;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use switchboard_protocol::completion::{CompleteParams, CompletionReference};
use switchboard_protocol::jsonrpc::{self, RawRequest, RequestId};
use switchboard_protocol::lifecycle::{DiscoverResult, InitializeParams, InitializeResult};
use switchboard_protocol::logging::SetLevelParams;
use switchboard_protocol::meta::{NotificationMeta, PaginatedRequestParams, RequestMeta, RequestParams};
use switchboard_protocol::mrtr::{InputRequiredResult, InputResponses};
use switchboard_protocol::notifications::{NotificationParams, ResourceUpdatedParams};
use switchboard_protocol::prompts::{GetPromptParams, ListPromptsResult};
use switchboard_protocol::resources::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceParams, ReadResourceResult, SubscribeParams,
};
use switchboard_protocol::result::{CacheHint, EmptyResult, ResultFields};
use switchboard_protocol::subscriptions::{
    AcknowledgedParams, ListenParams, ListenResult, ListenResultMeta, SubscriptionFilter,
};
use switchboard_protocol::tools::{CallToolParams, CallToolResult, ListToolsResult, Tool};
use switchboard_protocol::{methods, ErrorObject, JsonObject, ProtocolVersion, ResultType, Shape};
use tokio::sync::broadcast::error::RecvError;
use tower::ServiceExt as _;
use tracing::debug;

use super::catalog::{Refusal, RefusedCall};
use super::connection::{error_frame, Mode, ServerConnection, Session};
use super::context::{ContextParts, RequestContext, TaskEnv};
use super::cursor;
use super::error::{ErrorKind, HandlerError};
use super::notify::Change;
use super::seal::StateSealer;
use super::service::{CompletionRequest, PromptRequest, ResourceRequest};
use crate::engine::{Frame, RequestHandle};

type Outcome = Result<Frame, ErrorObject>;

/// Parses params into `P`; a mismatch is `-32602` naming the failing path.
fn parse<P: DeserializeOwned>(method: &str, params: Option<&RawValue>) -> Result<P, ErrorObject> {
    let text = params.map_or("{}", RawValue::get);
    // Plain serde first; the path-tracking parse runs only to explain a failure.
    if let Ok(p) = serde_json::from_str(text) {
        return Ok(p);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { "params".to_owned() } else { format!("params.{path}") };
        ErrorObject::invalid_params(format!("invalid params for {method}: at `{path}`: {}", e.inner()))
    })
}

/// What a handler's context carries beyond the request's era and metadata.
#[derive(Default)]
struct Extras {
    answers: InputResponses,
    state: Option<Value>,
    mrtr_allowed: bool,
    tasks: Option<TaskEnv>,
    /// The snapshot a tools/call runs against (what `RequestContext::catalog` shows).
    catalog: Option<Arc<super::Catalog>>,
}

impl Extras {
    /// For methods that may ask for input (tools/call, prompts/get, resources/read).
    fn mrtr(answers: InputResponses, state: Option<Value>, tasks: Option<TaskEnv>) -> Self {
        Self { answers, state, mrtr_allowed: true, tasks, catalog: None }
    }

    fn with_catalog(mut self, catalog: Arc<super::Catalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }
}

impl ServerConnection {
    pub(crate) async fn dispatch(self: Arc<Self>, request: RawRequest, handle: RequestHandle) -> Outcome {
        let RawRequest { id, method, params } = request;
        let params = params.as_deref();
        let m = method.as_str();
        match m {
            // Legacy-only methods: a request with modern `_meta` gets -32601 before its params
            // are judged, since in 2026-07-28 these methods do not exist.
            methods::INITIALIZE
            | methods::LOGGING_SET_LEVEL
            | methods::RESOURCES_SUBSCRIBE
            | methods::RESOURCES_UNSUBSCRIBE
                if parse::<RequestParams>(m, params)
                    .ok()
                    .and_then(|p| p.meta)
                    .is_some_and(|meta| meta.protocol_version.is_some()) =>
            {
                Err(not_in_modern(m))
            }
            methods::INITIALIZE => self.initialize(&id, params, &handle),
            methods::PING => {
                let p: RequestParams = parse(m, params)?;
                if p.meta.as_ref().is_some_and(|meta| meta.protocol_version.is_some()) {
                    return Err(not_in_modern(m));
                }
                let version = self.session.get().map_or(ProtocolVersion::LATEST_LEGACY, |s| s.version);
                Ok(self.encode(&id, EmptyResult::default(), version, None))
            }
            methods::SERVER_DISCOVER => {
                let p: RequestParams = parse(m, params)?;
                let mode = self.modern_only(p.meta.as_ref(), m)?;
                let result = DiscoverResult {
                    result_type: None,
                    supported_versions: ProtocolVersion::strings_of(switchboard_protocol::Era::Modern)
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                    capabilities: self.server.capabilities.clone(),
                    instructions: self.server.instructions.clone(),
                    ttl_ms: None,
                    cache_scope: None,
                    meta: None,
                };
                Ok(self.encode(&id, result, mode.version(), Some(self.server.cache.discover)))
            }
            methods::TOOLS_LIST => {
                let p: PaginatedRequestParams = parse(m, params)?;
                let mode = self.feature(p.meta.as_ref(), m, self.server.capabilities.tools.is_some())?;
                let catalog = self.server.catalog.load();
                let version = mode.version();
                if !catalog.policy().is_open() {
                    // What a caller sees depends on who it is: shaped for it, never shared.
                    let principal = self.principal_of(&handle);
                    let policy = catalog.policy();
                    let visible: Vec<Tool> = catalog
                        .tools()
                        .entries()
                        .iter()
                        .filter(|e| policy.allows_tool(&e.tool().name, principal))
                        .map(|e| policy.shape_tool(e.tool(), principal).into_owned())
                        .collect();
                    let (tools, next_cursor) =
                        cursor::page("tools", &visible, p.cursor.as_deref(), self.server.page_size)?;
                    let result = ListToolsResult { tools, next_cursor, ..Default::default() };
                    return Ok(self.encode(&id, result, version, Some(self.server.cache.lists)));
                }
                let tools = catalog.tools();
                let (start, next) = self.page_bounds("tools", tools.len(), p.cursor.as_deref())?;
                // A page depends only on the catalog, the revision and where it starts: it is
                // shaped and encoded once per catalog, then reused until the catalog is swapped.
                let page = self.server.tools_pages.get_or_encode(&catalog, (version, start), || {
                    let tools = tools.entries()[start..start + self.page_len(start, tools.len())]
                        .iter()
                        .map(|e| e.tool().clone())
                        .collect();
                    let result = ListToolsResult { tools, next_cursor: next, ..Default::default() };
                    serde_json::value::to_raw_value(&self.shaped(result, version, Some(self.server.cache.lists)))
                });
                Ok(match page {
                    Ok(page) => encode_raw(&id, &page),
                    Err(e) => error_frame(&id, &ErrorObject::internal(format!("could not encode the result: {e}"))),
                })
            }
            methods::TOOLS_CALL => self.call_tool(&id, params, handle).await,
            methods::RESOURCES_LIST => {
                let p: PaginatedRequestParams = parse(m, params)?;
                let mode = self.feature(p.meta.as_ref(), m, self.server.capabilities.resources.is_some())?;
                let catalog = self.server.catalog.load();
                let principal = self.principal_of(&handle);
                let all = visible(catalog.resources(), |r| catalog.policy().allows_resource(&r.uri, principal));
                let (resources, next_cursor) =
                    cursor::page("resources", &all, p.cursor.as_deref(), self.server.page_size)?;
                let result = ListResourcesResult { resources, next_cursor, ..Default::default() };
                Ok(self.encode(&id, result, mode.version(), Some(self.server.cache.lists)))
            }
            methods::RESOURCES_TEMPLATES_LIST => {
                let p: PaginatedRequestParams = parse(m, params)?;
                let mode = self.feature(p.meta.as_ref(), m, self.server.capabilities.resources.is_some())?;
                let catalog = self.server.catalog.load();
                let principal = self.principal_of(&handle);
                let all = visible(catalog.resource_templates(), |t| {
                    catalog.policy().allows_resource(&t.uri_template, principal)
                });
                let (resource_templates, next_cursor) =
                    cursor::page("templates", &all, p.cursor.as_deref(), self.server.page_size)?;
                let result = ListResourceTemplatesResult { resource_templates, next_cursor, ..Default::default() };
                Ok(self.encode(&id, result, mode.version(), Some(self.server.cache.lists)))
            }
            methods::RESOURCES_READ => self.read_resource(&id, params, handle).await,
            methods::PROMPTS_LIST => {
                let p: PaginatedRequestParams = parse(m, params)?;
                let mode = self.feature(p.meta.as_ref(), m, self.server.capabilities.prompts.is_some())?;
                let catalog = self.server.catalog.load();
                let principal = self.principal_of(&handle);
                let all = visible(catalog.prompts(), |p| catalog.policy().allows_prompt(&p.name, principal));
                let (prompts, next_cursor) = cursor::page("prompts", &all, p.cursor.as_deref(), self.server.page_size)?;
                let result = ListPromptsResult { prompts, next_cursor, ..Default::default() };
                Ok(self.encode(&id, result, mode.version(), Some(self.server.cache.lists)))
            }
            methods::PROMPTS_GET => self.get_prompt(&id, params, handle).await,
            methods::COMPLETION_COMPLETE => {
                let p: CompleteParams = parse(m, params)?;
                let mode = self.feature(p.meta.as_ref(), m, self.server.capabilities.completions.is_some())?;
                let context = p.context.and_then(|c| c.arguments).unwrap_or_default();
                let catalog = self.server.catalog.load();
                let mut completion = switchboard_protocol::completion::Completion::default();
                let principal = self.principal_of(&handle);
                let allowed = match &p.reference {
                    CompletionReference::Prompt { name, .. } => catalog.policy().allows_prompt(name, principal),
                    CompletionReference::Resource { uri } => catalog.policy().allows_resource(uri, principal),
                };
                let service = catalog.completion(&p.reference, &p.argument.name).filter(|_| allowed);
                if let Some(service) = service {
                    let ctx = self.context(handle, &mode, p.meta.as_ref(), Extras::default());
                    let request = CompletionRequest { value: p.argument.value, context, ctx };
                    completion = service.clone().oneshot(request).await.map_err(|e| into_rpc(e, m))?;
                }
                let given = completion.values.len();
                if given > 100 {
                    completion.values.truncate(100);
                    // A completer that counted them all knows better than what it handed over.
                    completion.total = Some(completion.total.unwrap_or(0).max(given as u64));
                    completion.has_more = Some(true);
                }
                let result = switchboard_protocol::completion::CompleteResult { completion, ..Default::default() };
                Ok(self.encode(&id, result, mode.version(), None))
            }
            methods::LOGGING_SET_LEVEL => {
                let p: SetLevelParams = parse(m, params)?;
                let session = self.legacy_only(p.meta.as_ref(), m)?;
                session.set_log_level(p.level);
                Ok(self.encode(&id, EmptyResult::default(), session.version, None))
            }
            methods::RESOURCES_SUBSCRIBE | methods::RESOURCES_UNSUBSCRIBE => {
                let p: SubscribeParams = parse(m, params)?;
                let session = self.legacy_only(p.meta.as_ref(), m)?;
                if self.server.capabilities.resources.as_ref().and_then(|r| r.subscribe) != Some(true) {
                    return Err(ErrorObject::method_not_found(m));
                }
                let added = match session.subscriptions.lock() {
                    Ok(mut subs) if m == methods::RESOURCES_SUBSCRIBE => subs.insert(p.uri.clone()),
                    Ok(mut subs) => {
                        subs.remove(&p.uri);
                        false
                    }
                    Err(_) => false,
                };
                if let (true, Some(hook)) = (added, &self.server.on_subscribe) {
                    hook.call(&p.uri);
                    session.watched.add(&p.uri, self.server.on_unsubscribe.as_ref());
                }
                if m == methods::RESOURCES_UNSUBSCRIBE {
                    session.watched.remove(&p.uri);
                }
                Ok(self.encode(&id, EmptyResult::default(), session.version, None))
            }
            methods::SUBSCRIPTIONS_LISTEN => self.listen(&id, params, handle).await,
            methods::TASKS_GET
            | methods::TASKS_UPDATE
            | methods::TASKS_CANCEL
            | methods::TASKS_RESULT
            | methods::TASKS_LIST => self.task_method(&id, m, params, self.principal_of(&handle)).await,
            other => Err(ErrorObject::method_not_found(other)),
        }
    }

    fn initialize(&self, id: &RequestId, params: Option<&RawValue>, handle: &RequestHandle) -> Outcome {
        let p: InitializeParams = parse(methods::INITIALIZE, params)?;
        if p.meta.as_ref().is_some_and(|meta| meta.protocol_version.is_some()) {
            // Modern `_meta` wins: in 2026-07-28 `initialize` does not exist.
            return Err(not_in_modern(methods::INITIALIZE));
        }
        let version = match p.protocol_version.parse::<ProtocolVersion>() {
            Ok(v) if !v.is_modern() => v,
            // Unknown or modern: offer our newest legacy revision; the client decides.
            _ => ProtocolVersion::LATEST_LEGACY,
        };
        let session = Arc::new(Session::new(version, p.capabilities, p.client_info));
        if self.session.set(session.clone()).is_err() {
            return Err(ErrorObject::invalid_request("this connection already has an initialized session"));
        }
        debug!(target: "switchboard::server", %version, client = %session.client_info.name, "legacy session started");
        let unsolicited = self.unsolicited.get().cloned().unwrap_or_else(|| handle.peer().clone());
        self.spawn_legacy_forwarder(session, unsolicited);
        let mut result = InitializeResult {
            protocol_version: version.as_str().to_owned(),
            capabilities: self.server.capabilities.clone(),
            server_info: self.server.info.clone(),
            instructions: self.server.instructions.clone(),
            meta: None,
        };
        result.shape(version);
        Ok(encode_value(id, &result))
    }

    async fn call_tool(&self, id: &RequestId, params: Option<&RawValue>, handle: RequestHandle) -> Outcome {
        let m = methods::TOOLS_CALL;
        let p: CallToolParams = parse(m, params)?;
        let mode = self.feature(p.meta.as_ref(), m, self.server.capabilities.tools.is_some())?;
        // One snapshot for the whole call: the entry that validates the arguments is the entry
        // whose service runs them.
        let catalog = self.server.catalog.load();
        let principal = self.principal_of(&handle).clone();
        let mut arguments = p.arguments.unwrap_or_default();
        let origin = handle.origin.clone().or_else(|| self.origin.clone());
        let refused = |refusal: Refusal, arguments: &JsonObject| {
            catalog.refusal_observer().map(|observer| {
                observer.refused(RefusedCall {
                    tool: &p.name,
                    arguments,
                    principal: &principal,
                    request_id: id,
                    origin: origin.as_deref(),
                    refusal,
                })
            })
        };
        // A tool the caller may not use answers exactly as one that does not exist.
        let entry = match catalog.tool(&p.name) {
            Some(entry) if catalog.policy().allows_tool(&p.name, &principal) => entry,
            found => {
                if let Some(recorded) =
                    refused(if found.is_some() { Refusal::Denied } else { Refusal::UnknownTool }, &arguments)
                {
                    recorded.await;
                }
                return Err(ErrorObject::invalid_params(format!("unknown tool: {}", p.name)));
            }
        };
        catalog.policy().bind_arguments(&p.name, &principal, &mut arguments);
        // The digest binds sealed state to this call's params. Only the rare rounds that open or
        // seal state need it, so it is computed then (from the raw params; arguments move on).
        let digest = || {
            let args = params
                .and_then(|raw| serde_json::from_str::<CallToolParams>(raw.get()).ok())
                .and_then(|p| p.arguments)
                .unwrap_or_default();
            StateSealer::digest(&[&Value::String(p.name.clone()), &Value::Object(args)])
        };
        let bound = Binding { method: m, digest: &digest, principal: principal.id() };
        let (answers, state) = self.open_state(&mode, &bound, p.request_state.as_deref(), p.input_responses)?;
        let tasks = self.task_env(&mode, entry.tool(), p.task.as_ref(), &principal)?;
        let extras = Extras::mrtr(answers.clone(), state, Some(tasks)).with_catalog(catalog.clone());
        let ctx = self.context(handle, &mode, p.meta.as_ref(), extras);
        let call = match entry.call(arguments, ctx) {
            Ok(call) => call,
            Err(problems) => {
                if catalog.refusal_observer().is_some() {
                    // The arguments went into the validator; the rare refusal re-reads them.
                    let sent = params
                        .and_then(|raw| serde_json::from_str::<CallToolParams>(raw.get()).ok())
                        .and_then(|p| p.arguments)
                        .unwrap_or_default();
                    if let Some(recorded) = refused(Refusal::InvalidArguments, &sent) {
                        recorded.await;
                    }
                }
                // SEP-1303: argument errors are tool errors, so the model can correct itself.
                let result = CallToolResult::error(format!("invalid arguments for tool {}: {problems}", p.name));
                return Ok(self.encode(id, result, mode.version(), None));
            }
        };
        let outcome = call.await;
        match outcome {
            Ok(result) => {
                if result.is_error != Some(true) {
                    if let Err(problem) = entry.validate_output(result.structured_content.as_ref()) {
                        tracing::error!(target: "switchboard::server", tool = %p.name, %problem, "tool output violates its outputSchema");
                        return Err(ErrorObject::internal(format!(
                            "tool {} produced output that does not match its outputSchema: {problem}",
                            p.name
                        )));
                    }
                }
                Ok(self.encode(id, result, mode.version(), None))
            }
            Err(HandlerError {
                kind: ErrorKind::Tool(message) | ErrorKind::Timeout(message) | ErrorKind::Unavailable(message),
            }) => Ok(self.encode(id, CallToolResult::error(message), mode.version(), None)),
            Err(e) => self.non_result(id, e, &mode, &bound, answers),
        }
    }

    async fn read_resource(&self, id: &RequestId, params: Option<&RawValue>, handle: RequestHandle) -> Outcome {
        let m = methods::RESOURCES_READ;
        let p: ReadResourceParams = parse(m, params)?;
        let mode = self.feature(p.meta.as_ref(), m, self.server.capabilities.resources.is_some())?;
        let digest = || StateSealer::digest(&[&Value::String(p.uri.clone())]);
        let principal = self.principal_of(&handle).clone();
        let bound = Binding { method: m, digest: &digest, principal: principal.id() };
        let (answers, state) = self.open_state(&mode, &bound, p.request_state.as_deref(), p.input_responses)?;
        let catalog = self.server.catalog.load();
        let Some((service, variables)) = catalog.resource_for(&p.uri, Some(&principal)) else {
            return Err(ErrorObject::resource_not_found(&p.uri, mode.version()));
        };
        let ctx = self.context(handle, &mode, p.meta.as_ref(), Extras::mrtr(answers.clone(), state, None));
        let request = ResourceRequest { uri: p.uri.clone(), variables, ctx };
        match service.clone().oneshot(request).await {
            Ok(Some(contents)) if !contents.is_empty() => {
                let result = ReadResourceResult { contents, ..Default::default() };
                Ok(self.encode(id, result, mode.version(), Some(self.server.cache.read)))
            }
            Ok(_) => Err(ErrorObject::resource_not_found(&p.uri, mode.version())),
            Err(e) => self.non_result(id, e, &mode, &bound, answers),
        }
    }

    async fn get_prompt(&self, id: &RequestId, params: Option<&RawValue>, handle: RequestHandle) -> Outcome {
        let m = methods::PROMPTS_GET;
        let p: GetPromptParams = parse(m, params)?;
        let mode = self.feature(p.meta.as_ref(), m, self.server.capabilities.prompts.is_some())?;
        let catalog = self.server.catalog.load();
        let principal = self.principal_of(&handle).clone();
        let (prompt, service) = catalog
            .prompt(&p.name)
            .filter(|_| catalog.policy().allows_prompt(&p.name, &principal))
            .ok_or_else(|| ErrorObject::invalid_params(format!("unknown prompt: {}", p.name)))?;
        let arguments: BTreeMap<String, String> = p.arguments.unwrap_or_default();
        if let Some(missing) =
            prompt.arguments.iter().flatten().find(|a| a.required == Some(true) && !arguments.contains_key(&a.name))
        {
            return Err(ErrorObject::invalid_params(format!(
                "prompt {} needs the argument `{}`",
                p.name, missing.name
            )));
        }
        let digest_args = serde_json::to_value(&arguments).unwrap_or_default();
        let digest = || StateSealer::digest(&[&Value::String(p.name.clone()), &digest_args]);
        let bound = Binding { method: m, digest: &digest, principal: principal.id() };
        let (answers, state) = self.open_state(&mode, &bound, p.request_state.as_deref(), p.input_responses)?;
        let ctx = self.context(handle, &mode, p.meta.as_ref(), Extras::mrtr(answers.clone(), state, None));
        let request = PromptRequest { name: p.name.clone(), arguments, ctx };
        match service.clone().oneshot(request).await {
            Ok(result) => Ok(self.encode(id, result, mode.version(), None)),
            Err(e) => self.non_result(id, e, &mode, &bound, answers),
        }
    }

    async fn listen(&self, id: &RequestId, params: Option<&RawValue>, handle: RequestHandle) -> Outcome {
        let m = methods::SUBSCRIPTIONS_LISTEN;
        let p: ListenParams = parse(m, params)?;
        let mode = self.modern_only(p.meta.as_ref(), m)?;
        let caps = &self.server.capabilities;
        let wants =
            |asked: Option<bool>, offered: Option<bool>| (asked == Some(true) && offered == Some(true)).then_some(true);
        let honoured = SubscriptionFilter {
            tools_list_changed: wants(
                p.notifications.tools_list_changed,
                caps.tools.as_ref().and_then(|c| c.list_changed),
            ),
            prompts_list_changed: wants(
                p.notifications.prompts_list_changed,
                caps.prompts.as_ref().and_then(|c| c.list_changed),
            ),
            resources_list_changed: wants(
                p.notifications.resources_list_changed,
                caps.resources.as_ref().and_then(|c| c.list_changed),
            ),
            resource_subscriptions: p
                .notifications
                .resource_subscriptions
                .filter(|uris| !uris.is_empty() && caps.resources.as_ref().and_then(|r| r.subscribe) == Some(true)),
        };
        // Released (the unsubscribe hook) however this stream ends: dropped with it.
        let watched = crate::server::connection::Watched::default();
        if let Some(hook) = &self.server.on_subscribe {
            for uri in honoured.resource_subscriptions.iter().flatten() {
                hook.call(uri);
                watched.add(uri, self.server.on_unsubscribe.as_ref());
            }
        }
        // Subscribe before acknowledging, so no change in between is lost.
        let mut changes = self.server.notifier.subscribe();
        handle.deadline().disable();
        let tag = || Some(NotificationMeta { subscription_id: Some(id.clone()), other: JsonObject::new() });
        let ack = AcknowledgedParams { notifications: honoured.clone(), meta: tag() };
        let peer = handle.peer().clone();
        peer.notify(methods::NOTIFICATION_SUBSCRIPTIONS_ACKNOWLEDGED, Some(&ack))
            .await
            .map_err(|_| ErrorObject::internal("connection closed"))?;
        loop {
            let change = tokio::select! {
                _ = self.closing.cancelled() => break,
                change = changes.recv() => change,
            };
            let changes_to_send: Vec<Change> = match change {
                Ok(c) => vec![c],
                // Fell behind: tell the client everything it watches may have changed.
                Err(RecvError::Lagged(_)) => {
                    let mut all = vec![Change::Tools, Change::Prompts, Change::Resources];
                    all.extend(
                        honoured
                            .resource_subscriptions
                            .iter()
                            .flatten()
                            .map(|u| Change::ResourceUpdated(u.as_str().into())),
                    );
                    all
                }
                Err(RecvError::Closed) => break,
            };
            for change in changes_to_send {
                // The engine aborts this task on cancellation, but not instantly: a change that
                // arrives in between must not be sent for a cancelled request.
                if handle.is_cancelled() {
                    return Err(ErrorObject::internal("listen stream cancelled"));
                }
                let sent = match change {
                    Change::Tools if honoured.tools_list_changed == Some(true) => {
                        peer.notify(methods::NOTIFICATION_TOOLS_LIST_CHANGED, Some(&NotificationParams { meta: tag() }))
                            .await
                    }
                    Change::Prompts if honoured.prompts_list_changed == Some(true) => {
                        peer.notify(
                            methods::NOTIFICATION_PROMPTS_LIST_CHANGED,
                            Some(&NotificationParams { meta: tag() }),
                        )
                        .await
                    }
                    Change::Resources if honoured.resources_list_changed == Some(true) => {
                        peer.notify(
                            methods::NOTIFICATION_RESOURCES_LIST_CHANGED,
                            Some(&NotificationParams { meta: tag() }),
                        )
                        .await
                    }
                    Change::ResourceUpdated(uri)
                        if honoured.resource_subscriptions.iter().flatten().any(|u| **u == *uri) =>
                    {
                        let params = ResourceUpdatedParams { uri: uri.to_string(), meta: tag() };
                        peer.notify(methods::NOTIFICATION_RESOURCES_UPDATED, Some(&params)).await
                    }
                    _ => Ok(()),
                };
                if sent.is_err() || handle.is_cancelled() {
                    return Err(ErrorObject::internal("listen stream closed"));
                }
            }
        }
        let result = ListenResult {
            result_type: ResultType::Complete,
            meta: ListenResultMeta {
                subscription_id: id.clone(),
                server_info: Some(self.server.info.clone()),
                other: JsonObject::new(),
            },
        };
        let _ = mode;
        Ok(encode_value(id, &result))
    }

    /// Handler errors other than tool-level ones: protocol errors, and input requests (which
    /// become an `InputRequiredResult` with sealed state).
    fn non_result(
        &self,
        id: &RequestId,
        e: HandlerError,
        mode: &Mode,
        bound: &Binding<'_>,
        mut answers: InputResponses,
    ) -> Outcome {
        let Binding { method, digest, principal } = *bound;
        match e.kind {
            ErrorKind::TaskCreated(record) => Ok(self.encode_task(id, &record, mode, true)),
            ErrorKind::InputRequired(needed) if matches!(mode, Mode::Modern { .. }) => {
                // Carry earlier answers forward so a handler that re-runs finds them all.
                answers.retain(|k, _| !needed.requests.contains_key(k));
                let state = self.server.sealer.seal(method, digest(), principal, answers, needed.state);
                let result = InputRequiredResult {
                    result_type: Some(ResultType::InputRequired),
                    input_requests: Some(needed.requests),
                    request_state: Some(state),
                    meta: None,
                };
                Ok(self.encode(id, result, mode.version(), None))
            }
            _ => Err(into_rpc(e, method)),
        }
    }

    /// Verifies echoed request state and merges answers (modern era only).
    fn open_state(
        &self,
        mode: &Mode,
        bound: &Binding<'_>,
        request_state: Option<&str>,
        responses: Option<InputResponses>,
    ) -> Result<(InputResponses, Option<Value>), ErrorObject> {
        let Binding { method, digest, principal } = *bound;
        if !matches!(mode, Mode::Modern { .. }) {
            return Ok((InputResponses::new(), None));
        }
        let (mut answers, state) = match request_state {
            Some(token) => {
                let sealed = self.server.sealer.open(token, method, &digest(), principal)?;
                (sealed.a, sealed.s)
            }
            None => (InputResponses::new(), None),
        };
        answers.extend(responses.unwrap_or_default());
        Ok((answers, state))
    }

    fn context(
        &self,
        handle: RequestHandle,
        mode: &Mode,
        meta: Option<&RequestMeta>,
        extras: Extras,
    ) -> RequestContext {
        let Extras { answers, state, mrtr_allowed, tasks, catalog } = extras;
        let principal = self.principal_of(&handle).clone();
        let progress_token = meta.and_then(|m| m.progress_token.clone());
        let origin = handle.origin.clone().or_else(|| self.origin.clone());
        // The MCP convention (`_meta.traceparent`) names the caller's span more precisely than
        // the transport request that carried it.
        let trace_parent =
            meta.and_then(RequestMeta::trace_parent).or_else(|| origin.as_ref().and_then(|o| o.trace_parent));
        let parts = match mode {
            Mode::Modern { caps, client_info, log_level } => ContextParts {
                version: ProtocolVersion::LATEST,
                capabilities: caps.clone(),
                client_info: client_info.clone(),
                progress_token,
                log_level: *log_level,
                answers,
                state,
                mrtr_allowed,
                tasks,
                principal: principal.clone(),
                origin: origin.clone(),
                trace_parent,
                catalog: catalog.clone(),
            },
            Mode::Legacy(s) => ContextParts {
                version: s.version,
                capabilities: s.capabilities.clone(),
                client_info: Some(s.client_info.clone()),
                progress_token,
                log_level: s.log_level(),
                answers,
                state,
                mrtr_allowed,
                tasks,
                principal: principal.clone(),
                origin: origin.clone(),
                trace_parent,
                catalog,
            },
        };
        RequestContext::new(handle, parts)
    }

    /// Who a request acts for: the caller its transport authenticated for this request (stateless
    /// HTTP), else the connection's.
    fn principal_of<'a>(&'a self, handle: &'a RequestHandle) -> &'a super::Principal {
        handle.caller::<super::Principal>().unwrap_or(&self.principal)
    }

    /// The era for a feature method, refusing it when the server does not offer the feature.
    fn feature(&self, meta: Option<&RequestMeta>, method: &str, offered: bool) -> Result<Mode, ErrorObject> {
        let mode = self.mode(meta, method)?;
        if !offered {
            return Err(ErrorObject::method_not_found(method));
        }
        Ok(mode)
    }

    fn modern_only(&self, meta: Option<&RequestMeta>, method: &str) -> Result<Mode, ErrorObject> {
        match self.mode(meta, method)? {
            Mode::Legacy(s) => Err(ErrorObject::new(
                switchboard_protocol::ErrorCode::METHOD_NOT_FOUND,
                format!(
                    "{method} belongs to protocol {}; this session negotiated {}",
                    ProtocolVersion::LATEST,
                    s.version
                ),
            )),
            modern => Ok(modern),
        }
    }

    fn legacy_only(&self, meta: Option<&RequestMeta>, method: &str) -> Result<Arc<Session>, ErrorObject> {
        if meta.is_some_and(|m| m.protocol_version.is_some()) {
            return Err(not_in_modern(method));
        }
        match self.mode(meta, method)? {
            Mode::Legacy(s) => Ok(s),
            Mode::Modern { .. } => Err(not_in_modern(method)),
        }
    }

    fn page_bounds(
        &self,
        kind: &str,
        len: usize,
        cursor: Option<&str>,
    ) -> Result<(usize, Option<String>), ErrorObject> {
        let start = match cursor {
            Some(c) => cursor::decode(kind, c, len)?,
            None => 0,
        };
        let end = start + self.page_len(start, len);
        Ok((start, (end < len).then(|| cursor::encode(kind, end))))
    }

    fn page_len(&self, start: usize, len: usize) -> usize {
        self.server.page_size.min(len.saturating_sub(start))
    }

    /// Shapes a result for `version`, stamps the modern-era fields, and encodes the response.
    fn encode<R: Serialize + Shape + ResultFields>(
        &self,
        id: &RequestId,
        result: R,
        version: ProtocolVersion,
        cache: Option<CacheHint>,
    ) -> Frame {
        encode_value(id, &self.shaped(result, version, cache))
    }

    /// Shapes a result for `version` and stamps the modern-era fields.
    fn shaped<R: Shape + ResultFields>(&self, mut result: R, version: ProtocolVersion, cache: Option<CacheHint>) -> R {
        result.shape(version);
        if version.is_modern() {
            result.result_type_mut().get_or_insert(ResultType::Complete);
            result.meta_mut().get_or_insert_with(Default::default).server_info = Some(self.server.info.clone());
            if let (Some(hint), Some((ttl, scope))) = (cache, result.cache_mut()) {
                ttl.get_or_insert(hint.ttl_ms);
                scope.get_or_insert(hint.scope);
            }
        }
        result
    }
}

fn encode_value<T: Serialize>(id: &RequestId, value: &T) -> Frame {
    let mut frame = Vec::with_capacity(256);
    match jsonrpc::write_result(&mut frame, id, value) {
        Ok(()) => frame,
        Err(e) => error_frame(id, &ErrorObject::internal(format!("could not encode the result: {e}"))),
    }
}

/// A response around an already-encoded result.
fn encode_raw(id: &RequestId, result: &RawValue) -> Frame {
    let mut frame = Vec::with_capacity(result.get().len() + 64);
    match jsonrpc::write_result(&mut frame, id, result) {
        Ok(()) => frame,
        Err(e) => error_frame(id, &ErrorObject::internal(format!("could not encode the result: {e}"))),
    }
}

fn not_in_modern(method: &str) -> ErrorObject {
    ErrorObject::new(
        switchboard_protocol::ErrorCode::METHOD_NOT_FOUND,
        format!(
            "method not found: {method} is not part of protocol {} (it exists only in legacy sessions started with initialize)",
            ProtocolVersion::LATEST
        ),
    )
}

/// A handler error outside tools: a message becomes an internal error.
fn into_rpc(e: HandlerError, method: &str) -> ErrorObject {
    match e.kind {
        ErrorKind::Rpc(err) => err,
        ErrorKind::Tool(message) | ErrorKind::Timeout(message) | ErrorKind::Unavailable(message) => {
            ErrorObject::internal(format!("{method} failed: {message}"))
        }
        ErrorKind::InputRequired(_) => {
            ErrorObject::internal(format!("{method} asked for input outside a modern request"))
        }
        ErrorKind::TaskCreated(_) => ErrorObject::internal(format!("{method} cannot run as a task")),
    }
}

/// The entries of a listing that `allowed` lets the caller see (all of them, shared, when it
/// lets everything through).
fn visible<T: Clone>(all: &Arc<[T]>, allowed: impl Fn(&T) -> bool) -> Arc<[T]> {
    if all.iter().all(&allowed) {
        return all.clone();
    }
    all.iter().filter(|t| allowed(t)).cloned().collect::<Vec<_>>().into()
}

/// What sealed MRTR state is bound to: the method, a digest of the request's params, and the
/// principal it was issued to.
#[derive(Clone, Copy)]
struct Binding<'a> {
    method: &'a str,
    digest: &'a (dyn Fn() -> String + Sync),
    principal: &'a str,
}
