//! [`RequestContext`]: what a handler knows about the request it serves, and how it talks back
//! (progress, logs, input requests) in whichever era the request speaks.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use switchboard_protocol::client::{
    CreateMessageParams, CreateMessageResult, ElicitParams, ElicitResult, ListRootsResult,
};
use switchboard_protocol::lifecycle::{ClientCapabilities, Implementation};
use switchboard_protocol::logging::{LoggingLevel, LoggingMessageParams};
use switchboard_protocol::meta::ProgressToken;
use switchboard_protocol::mrtr::{InputRequest, InputRequests, InputResponse, InputResponses};
use switchboard_protocol::notifications::{progress_number, ProgressParams};
use switchboard_protocol::{jsonrpc, methods, Era, ErrorObject, ProtocolVersion};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::error::{ErrorKind, HandlerError, InputNeeded};
use super::tasks::{self, LiveTask, TaskRecord, TaskRuntime, TaskStore};
use crate::engine::{PeerError, RequestHandle};
use switchboard_protocol::tasks::TaskStatus;
use switchboard_protocol::tools::CallToolResult;

/// The context of one request, handed to every handler. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RequestContext {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    handle: RequestHandle,
    version: ProtocolVersion,
    capabilities: Arc<ClientCapabilities>,
    client_info: Option<Arc<Implementation>>,
    progress_token: Option<ProgressToken>,
    log_level: Option<LoggingLevel>,
    answers: InputResponses,
    state: Option<serde_json::Value>,
    mrtr_allowed: bool,
    last_progress: Mutex<Option<f64>>,
    tasks: Option<TaskEnv>,
    principal: super::Principal,
    origin: Option<Arc<crate::engine::Origin>>,
    trace_parent: Option<switchboard_protocol::meta::TraceParent>,
    catalog: Option<Arc<super::Catalog>>,
}

/// What a request knows about tasks.
#[derive(Debug, Clone)]
pub(crate) struct TaskEnv {
    pub(crate) store: Arc<dyn TaskStore>,
    pub(crate) runtime: Arc<TaskRuntime>,
    /// Whether (and how) the client can follow a task for this request.
    pub(crate) mode: TaskMode,
    /// The tool only runs as a task.
    pub(crate) required: bool,
    /// Who may see the task.
    pub(crate) owner: String,
    /// Set inside a running task.
    pub(crate) current: Option<(String, Arc<LiveTask>)>,
    /// The tool, for error messages.
    pub(crate) tool: String,
}

/// How a request's client follows tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskMode {
    /// It cannot.
    None,
    /// The modern extension was declared on this request.
    Modern,
    /// A legacy task-augmented request, with its requested ttl.
    Legacy(Option<u64>),
}

/// Everything the dispatcher learned about a request, used to build its context.
#[derive(Debug)]
pub(crate) struct ContextParts {
    pub(crate) version: ProtocolVersion,
    pub(crate) capabilities: Arc<ClientCapabilities>,
    pub(crate) client_info: Option<Arc<Implementation>>,
    pub(crate) progress_token: Option<ProgressToken>,
    pub(crate) log_level: Option<LoggingLevel>,
    pub(crate) answers: InputResponses,
    pub(crate) state: Option<serde_json::Value>,
    pub(crate) mrtr_allowed: bool,
    pub(crate) tasks: Option<TaskEnv>,
    pub(crate) principal: super::Principal,
    /// The transport request that carried this one.
    pub(crate) origin: Option<Arc<crate::engine::Origin>>,
    /// The caller's trace: `_meta.traceparent`, else the transport's.
    pub(crate) trace_parent: Option<switchboard_protocol::meta::TraceParent>,
    /// The snapshot a tools/call runs against.
    pub(crate) catalog: Option<Arc<super::Catalog>>,
}

impl RequestContext {
    pub(crate) fn new(handle: RequestHandle, parts: ContextParts) -> Self {
        Self {
            inner: Arc::new(Inner {
                handle,
                version: parts.version,
                capabilities: parts.capabilities,
                client_info: parts.client_info,
                progress_token: parts.progress_token,
                log_level: parts.log_level,
                answers: parts.answers,
                state: parts.state,
                mrtr_allowed: parts.mrtr_allowed,
                last_progress: Mutex::new(None),
                tasks: parts.tasks,
                principal: parts.principal,
                origin: parts.origin,
                trace_parent: parts.trace_parent,
                catalog: parts.catalog,
            }),
        }
    }

    /// Who the request acts for, from its credentials (anonymous without authentication).
    pub fn principal(&self) -> &super::Principal {
        &self.inner.principal
    }

    /// The transport request that carried this one (its correlation id and `traceparent`).
    pub fn origin(&self) -> Option<&crate::engine::Origin> {
        self.inner.origin.as_deref()
    }

    /// The correlation id of the transport request that carried this one (`X-Request-Id` on
    /// HTTP, that of the upgrade or stream request on WebSocket and HTTP+SSE); `None` on stdio.
    pub fn correlation_id(&self) -> Option<&str> {
        self.inner.origin.as_deref().map(|o| &*o.request_id)
    }

    /// The caller's W3C trace context: `_meta.traceparent`, else the transport request's
    /// `traceparent` header.
    pub fn trace_parent(&self) -> Option<&switchboard_protocol::meta::TraceParent> {
        self.inner.trace_parent.as_ref()
    }

    /// The request's JSON-RPC id.
    pub fn request_id(&self) -> &switchboard_protocol::jsonrpc::RequestId {
        self.inner.handle.id()
    }

    /// When the request times out if it makes no progress (reporting progress pushes it back,
    /// up to a hard ceiling).
    pub fn deadline(&self) -> tokio::time::Instant {
        self.inner.handle.deadline().due()
    }

    /// The protocol revision this request speaks.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.inner.version
    }

    /// The era of this request.
    pub fn era(&self) -> Era {
        self.inner.version.era()
    }

    /// The client's capabilities (declared on this request in the modern era, at `initialize`
    /// in the legacy era).
    pub fn client_capabilities(&self) -> &ClientCapabilities {
        &self.inner.capabilities
    }

    /// The client's self-reported identity, if it sent one. Never use it for security decisions.
    pub fn client_info(&self) -> Option<&Implementation> {
        self.inner.client_info.as_deref()
    }

    /// Whether the request was cancelled. Long loops should check it.
    pub fn is_cancelled(&self) -> bool {
        self.inner.handle.is_cancelled()
    }

    /// A token that fires on cancellation, for work spawned on behalf of this request.
    pub fn cancellation(&self) -> &CancellationToken {
        self.inner.handle.cancellation()
    }

    /// Application state echoed from a previous round (verified: it cannot have been forged).
    pub fn state(&self) -> Option<&serde_json::Value> {
        self.inner.state.as_ref()
    }

    /// The catalog snapshot a `tools/call` runs against (the one its tool was found in), so a
    /// tool can describe its siblings as this caller sees them (`Catalog::policy`); `None` for
    /// other requests.
    pub fn catalog(&self) -> Option<&super::Catalog> {
        self.inner.catalog.as_deref()
    }

    /// Whether the client asked for progress (sent a `progressToken`): without one,
    /// [`RequestContext::progress`] sends nothing, so work done only to report progress can be
    /// skipped.
    pub fn wants_progress(&self) -> bool {
        self.inner.progress_token.is_some()
    }

    /// Reports progress, if the client asked for it. Values that do not increase are dropped
    /// (the spec requires strictly increasing progress). Progress also restarts the request's
    /// idle timeout. Cancel-safe.
    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        self.inner.handle.deadline().bump();
        let Some(token) = &self.inner.progress_token else { return };
        {
            let mut last = self.inner.last_progress.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|l| progress <= l) || !progress.is_finite() {
                debug!(target: "switchboard::server", progress, "dropping non-increasing progress");
                return;
            }
            *last = Some(progress);
        }
        let params = ProgressParams {
            progress_token: token.clone(),
            progress: progress_number(progress),
            total: total.map(progress_number),
            message: if self.inner.version >= ProtocolVersion::V2025_03_26 { message.map(str::to_owned) } else { None },
            meta: None,
        };
        let mut frame = Vec::with_capacity(128);
        if jsonrpc::write_notification(&mut frame, methods::NOTIFICATION_PROGRESS, Some(&params)).is_ok() {
            let _ = self.inner.handle.send_scoped(frame).await;
        }
    }

    /// Sends a log message to the client if it opted in to `level` (per request in the modern
    /// era, with `logging/setLevel` in the legacy era). Cancel-safe.
    pub async fn log<T: Serialize>(&self, level: LoggingLevel, logger: Option<&str>, data: T) {
        let Some(threshold) = self.inner.log_level else { return };
        if level < threshold {
            return;
        }
        let Ok(data) = serde_json::to_value(data) else { return };
        let params = LoggingMessageParams { level, logger: logger.map(str::to_owned), data, meta: None };
        let mut frame = Vec::with_capacity(128);
        if jsonrpc::write_notification(&mut frame, methods::NOTIFICATION_MESSAGE, Some(&params)).is_ok() {
            let _ = self.inner.handle.send_scoped(frame).await;
        }
    }

    /// Asks the client for input (sampling, elicitation, roots) and returns its answers by key.
    ///
    /// One call works in both eras. In the legacy era the requests go to the client as
    /// server-to-client requests and this awaits the answers. In the modern era, if the retry
    /// already carries answers for every key they are returned at once; otherwise this returns
    /// an error that, propagated with `?`, becomes an `InputRequiredResult`, and the client
    /// retries the whole request with the answers. Handlers therefore re-run from the top on
    /// each round: keep keys unique across rounds and side effects after the last input.
    pub async fn request_input(&self, requests: InputRequests) -> Result<InputResponses, HandlerError> {
        self.request_input_with_state(requests, None).await
    }

    /// Like [`RequestContext::request_input`], carrying application `state` to the next round
    /// (modern era; sealed, so the client cannot alter it). Read it back with
    /// [`RequestContext::state`].
    pub async fn request_input_with_state(
        &self,
        requests: InputRequests,
        state: Option<serde_json::Value>,
    ) -> Result<InputResponses, HandlerError> {
        for request in requests.values() {
            self.check_capability(request)?;
        }
        if let Some((env, (id, live))) = self.inner.tasks.as_ref().and_then(|env| Some((env, env.current.as_ref()?))) {
            if self.inner.version.is_modern() {
                return self.task_input(env.clone(), id, live, requests).await;
            }
        }
        if self.inner.version.is_modern() {
            if !self.inner.mrtr_allowed {
                return Err(HandlerError::rpc(ErrorObject::internal(
                    "input requests are only allowed on tools/call, prompts/get and resources/read",
                )));
            }
            if requests.keys().all(|k| self.inner.answers.contains_key(k)) {
                return Ok(requests
                    .keys()
                    .filter_map(|k| Some((k.clone(), self.inner.answers.get(k)?.clone())))
                    .collect());
            }
            return Err(InputNeeded { requests, state }.into());
        }
        let mut answers = InputResponses::new();
        for (key, request) in requests {
            let raw = self.inner.handle.peer().request(&request.method, request.params.as_ref()).await.map_err(
                |e| match e {
                    PeerError::Rpc(err) => {
                        HandlerError::msg(format!("the client declined {}: {}", request.method, err.message))
                    }
                    other => HandlerError::msg(format!("{} failed: {other}", request.method)),
                },
            )?;
            let parsed = match request.method.as_str() {
                methods::SAMPLING_CREATE_MESSAGE => serde_json::from_str::<CreateMessageResult>(raw.get())
                    .map(|r| InputResponse::CreateMessage(Box::new(r))),
                methods::ROOTS_LIST => serde_json::from_str::<ListRootsResult>(raw.get()).map(InputResponse::ListRoots),
                _ => serde_json::from_str::<ElicitResult>(raw.get()).map(InputResponse::Elicit),
            }
            .map_err(|e| HandlerError::msg(format!("the client's answer to {} is malformed: {e}", request.method)))?;
            answers.insert(key, parsed);
        }
        Ok(answers)
    }

    /// Inside a modern task: park it as `input_required` until `tasks/update` answers every key.
    async fn task_input(
        &self,
        env: TaskEnv,
        id: &str,
        live: &LiveTask,
        requests: InputRequests,
    ) -> Result<InputResponses, HandlerError> {
        loop {
            let notified = live.input.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let answers = live.answers.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let outstanding: InputRequests = requests
                .iter()
                .filter(|(k, _)| !answers.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut record = match env.store.get(id).await {
                Ok(Some(record)) => record,
                Ok(None) => return Err(HandlerError::msg("the task expired")),
                Err(e) => return Err(HandlerError::msg(format!("the task store is unavailable: {e}"))),
            };
            if outstanding.is_empty() {
                if record.status == TaskStatus::InputRequired {
                    record.status = TaskStatus::Working;
                    record.input_requests = None;
                    record.updated_ms = tasks::now_ms();
                    save(&env, record).await;
                }
                return Ok(requests.keys().filter_map(|k| Some((k.clone(), answers.get(k)?.clone()))).collect());
            }
            if record.status != TaskStatus::InputRequired || record.input_requests.as_ref() != Some(&outstanding) {
                record.status = TaskStatus::InputRequired;
                record.input_requests = Some(outstanding);
                record.updated_ms = tasks::now_ms();
                save(&env, record).await;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = live.cancel.cancelled() => return Err(HandlerError::msg("cancelled")),
            }
        }
    }

    /// Runs `work` as a task when the client can follow one (the modern tasks extension was
    /// declared on this request, or a legacy request asked for a task), answering the request
    /// at once with the task; otherwise runs it inline — or, for a tool registered with
    /// [`TaskSupport::Required`](super::TaskSupport), refuses. Input requested inside the task
    /// parks it as `input_required` until the client answers (`tasks/update`).
    pub async fn run_as_task<F, Fut>(&self, work: F) -> Result<CallToolResult, HandlerError>
    where
        F: FnOnce(RequestContext) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<CallToolResult, HandlerError>> + Send + 'static,
    {
        // Most calls run inline: decide that before cloning the task environment.
        let Some(env) = self.inner.tasks.as_ref() else { return work(self.clone()).await };
        if env.current.is_some() || (matches!(env.mode, TaskMode::None) && !env.required) {
            return work(self.clone()).await;
        }
        let env = env.clone();
        let ttl = match env.mode {
            TaskMode::None if env.required => {
                return Err(if self.inner.version.is_modern() {
                    HandlerError::rpc(ErrorObject::missing_client_capability(
                        "extensions.io.modelcontextprotocol/tasks",
                        serde_json::json!({"extensions": {switchboard_protocol::tasks::EXTENSION: {}}}),
                    ))
                } else {
                    HandlerError::rpc(ErrorObject::method_not_found(&format!(
                        "{} runs only as a task: send params.task",
                        env.tool
                    )))
                });
            }
            TaskMode::None => return work(self.clone()).await,
            TaskMode::Modern => tasks::DEFAULT_TTL.as_millis() as u64,
            // The client's wish, up to the ceiling.
            TaskMode::Legacy(ttl) => {
                ttl.unwrap_or(tasks::DEFAULT_TTL.as_millis() as u64).min(tasks::MAX_TTL.as_millis() as u64)
            }
        };
        if env.runtime.running() >= tasks::MAX_RUNNING {
            return Err(HandlerError::rpc(ErrorObject::internal(format!(
                "{} tasks are already running on this server; try again when some have finished",
                tasks::MAX_RUNNING
            ))));
        }
        let id = tasks::new_task_id();
        let now = tasks::now_ms();
        let record = TaskRecord {
            id: id.clone(),
            owner: env.owner.clone(),
            status: TaskStatus::Working,
            status_message: Some("The operation is in progress.".into()),
            created_ms: now,
            updated_ms: now,
            ttl_ms: ttl,
            result: None,
            error: None,
            input_requests: None,
        };
        if let Err(e) = env.store.put(record.clone()).await {
            return Err(HandlerError::rpc(ErrorObject::internal(format!(
                "the task could not be created: its store is unavailable ({e})"
            ))));
        }
        env.runtime.listen(&env.store);
        let live = env.runtime.start(&id);
        let mut task_env = env.clone();
        task_env.current = Some((id.clone(), live.clone()));
        let task_ctx = Self {
            inner: Arc::new(Inner {
                handle: self.inner.handle.fork(live.cancel.clone()),
                version: self.inner.version,
                capabilities: self.inner.capabilities.clone(),
                client_info: self.inner.client_info.clone(),
                progress_token: None,
                log_level: None,
                answers: InputResponses::new(),
                state: None,
                mrtr_allowed: false,
                last_progress: Mutex::new(None),
                tasks: Some(task_env),
                principal: self.inner.principal.clone(),
                origin: self.inner.origin.clone(),
                trace_parent: self.inner.trace_parent,
                catalog: self.inner.catalog.clone(),
            }),
        };
        let version = self.inner.version;
        tokio::spawn(async move {
            // A panic fails the task (instead of leaving it working forever); so does outliving
            // its time to live, after which nobody could read its result anyway.
            let run = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(work(task_ctx)));
            let outcome = tokio::select! {
                r = run => Some(r.unwrap_or_else(|_| Err(HandlerError::rpc(ErrorObject::internal(
                    "the tool panicked while running as a task",
                ))))),
                _ = live.cancel.cancelled() => None,
                _ = tokio::time::sleep(std::time::Duration::from_millis(ttl)) => Some(Err(HandlerError::rpc(
                    ErrorObject::internal(format!("the task was stopped when its time to live ({ttl} ms) ran out")),
                ))),
            };
            let Ok(Some(mut record)) = env.store.get(&id).await else {
                env.runtime.finish(&id);
                return;
            };
            if record.status != TaskStatus::Cancelled {
                let (status, result, error) = match outcome {
                    None => (TaskStatus::Cancelled, None, None),
                    Some(Ok(r)) => (TaskStatus::Completed, Some(encode_result(r, version)), None),
                    Some(Err(HandlerError {
                        kind: ErrorKind::Tool(m) | ErrorKind::Timeout(m) | ErrorKind::Unavailable(m),
                    })) => (TaskStatus::Completed, Some(encode_result(CallToolResult::error(m), version)), None),
                    Some(Err(HandlerError { kind: ErrorKind::Rpc(e) })) => (TaskStatus::Failed, None, Some(e)),
                    Some(Err(other)) => (TaskStatus::Failed, None, Some(ErrorObject::internal(other.message()))),
                };
                record.status = status;
                record.status_message = None;
                record.result = result;
                record.error = error;
                record.input_requests = None;
                record.updated_ms = tasks::now_ms();
                save(&env, record).await;
            }
            env.runtime.finish(&id);
        });
        Err(HandlerError { kind: ErrorKind::TaskCreated(Box::new(record)) })
    }

    /// Elicits a form from the user (one input round keyed `key`).
    pub async fn elicit(&self, key: &str, params: ElicitParams) -> Result<ElicitResult, HandlerError> {
        match self.single(key, InputRequest::elicit(&params)).await? {
            InputResponse::Elicit(r) => Ok(r),
            _ => Err(HandlerError::invalid_params(format!("inputResponses[{key:?}] is not an elicitation result"))),
        }
    }

    /// Asks the client to sample from its model (one input round keyed `key`).
    pub async fn sample(&self, key: &str, params: CreateMessageParams) -> Result<CreateMessageResult, HandlerError> {
        match self.single(key, InputRequest::create_message(&params)).await? {
            InputResponse::CreateMessage(r) => Ok(*r),
            _ => Err(HandlerError::invalid_params(format!("inputResponses[{key:?}] is not a sampling result"))),
        }
    }

    /// Asks the client for its roots (one input round keyed `key`).
    pub async fn list_roots(&self, key: &str) -> Result<ListRootsResult, HandlerError> {
        match self.single(key, InputRequest::list_roots()).await? {
            InputResponse::ListRoots(r) => Ok(r),
            _ => Err(HandlerError::invalid_params(format!("inputResponses[{key:?}] is not a roots result"))),
        }
    }

    async fn single(&self, key: &str, request: InputRequest) -> Result<InputResponse, HandlerError> {
        let mut requests = InputRequests::new();
        requests.insert(key.to_owned(), request);
        let mut answers = self.request_input(requests).await?;
        answers.remove(key).ok_or_else(|| HandlerError::msg(format!("no answer for input {key:?}")))
    }

    fn check_capability(&self, request: &InputRequest) -> Result<(), HandlerError> {
        let caps = &self.inner.capabilities;
        let declared = match request.method.as_str() {
            methods::SAMPLING_CREATE_MESSAGE => caps.sampling.is_some(),
            methods::ROOTS_LIST => caps.roots.is_some(),
            methods::ELICITATION_CREATE => {
                let url_mode =
                    request.params.as_ref().and_then(|p| p.get("mode")).and_then(|m| m.as_str()) == Some("url");
                match &caps.elicitation {
                    None => false,
                    Some(e) if url_mode => e.url.is_some(),
                    Some(_) => true,
                }
            }
            other => {
                return Err(HandlerError::rpc(ErrorObject::internal(format!(
                    "{other} cannot be requested from a client"
                ))))
            }
        };
        if declared {
            return Ok(());
        }
        let (name, fragment) = request.required_capability();
        if self.inner.version.is_modern() {
            Err(HandlerError::rpc(ErrorObject::missing_client_capability(name, fragment)))
        } else {
            Err(HandlerError::msg(format!(
                "this tool needs the client capability `{name}`, which the client did not declare at initialize"
            )))
        }
    }
}

/// A tool result as a task returns it: shaped for the revision, `resultType` set in the modern era.
fn encode_result(mut r: CallToolResult, version: ProtocolVersion) -> serde_json::Value {
    use switchboard_protocol::result::ResultFields;
    use switchboard_protocol::Shape;
    r.shape(version);
    if version.is_modern() {
        r.result_type_mut().get_or_insert(switchboard_protocol::ResultType::Complete);
    }
    serde_json::to_value(&r).unwrap_or_default()
}

/// Saves a task's new state; a store that fails is logged (the task goes on, and a later save
/// may land).
async fn save(env: &TaskEnv, record: TaskRecord) {
    if let Err(e) = env.store.put(record).await {
        tracing::warn!(target: "switchboard::server", error = %e, "could not save a task's state");
    }
}
