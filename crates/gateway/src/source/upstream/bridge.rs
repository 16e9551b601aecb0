//! What an upstream sends us unprompted, passed on: its requests (elicitation, sampling, roots)
//! go to the downstream client whose call they belong to, through that call's
//! [`RequestContext`] (so they reach a legacy client as a server→client request and a modern
//! one as MRTR input); its list changes make us re-list it; its log messages go to our log,
//! tagged with the upstream; its resource updates go to our subscribers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use futures_util::future::BoxFuture;
use serde_json::Value;
use switchboard_mcp::client::{full_capabilities, ClientHandler};
use switchboard_mcp::server::{HandlerError, RequestContext};
use switchboard_protocol::client::{
    CreateMessageParams, CreateMessageResult, ElicitParams, ElicitResult, ListRootsResult,
};
use switchboard_protocol::lifecycle::ClientCapabilities;
use switchboard_protocol::{methods, ErrorCode, ErrorObject};

tokio::task_local! {
    /// The call being made from this task (a modern upstream's input requests are answered
    /// in the calling task).
    static CURRENT: Arc<CallSlot>;
}

/// One downstream call in flight to an upstream.
pub(crate) struct CallSlot {
    ctx: RequestContext,
    /// Numbers this call's input requests, so an MRTR retry asks under the same keys.
    seq: AtomicUsize,
    /// Set when the downstream client must be asked first (modern era): the call stops and
    /// answers with it.
    input: Mutex<Option<HandlerError>>,
    pub(crate) abort: tokio::sync::Notify,
}

/// The calls in flight to one upstream.
#[derive(Default)]
pub(crate) struct Calls {
    next: AtomicU64,
    map: Mutex<BTreeMap<u64, Arc<CallSlot>>>,
}

/// Removes its call from [`Calls`] when dropped.
pub(crate) struct CallGuard<'a> {
    calls: &'a Calls,
    id: u64,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        self.calls.map.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

impl Calls {
    /// Registers a call; its slot is also made current for the future run with
    /// [`CallSlot::scope`].
    pub(crate) fn enter(&self, ctx: RequestContext) -> (CallGuard<'_>, Arc<CallSlot>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(CallSlot {
            ctx,
            seq: AtomicUsize::new(0),
            input: Mutex::new(None),
            abort: tokio::sync::Notify::new(),
        });
        self.map.lock().unwrap_or_else(|p| p.into_inner()).insert(id, slot.clone());
        (CallGuard { calls: self, id }, slot)
    }

    /// The one call in flight, if there is exactly one: a request from a server that cannot
    /// say which call it belongs to (stdio, legacy) can only be routed when that is certain,
    /// since sending it to another caller would show one user's question to another.
    fn only(&self) -> Option<Arc<CallSlot>> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() == 1 {
            map.values().next().cloned()
        } else {
            None
        }
    }
}

impl CallSlot {
    /// Runs `fut` with this call current.
    pub(crate) async fn scope<F: std::future::Future>(self: Arc<Self>, fut: F) -> F::Output {
        CURRENT.scope(self, fut).await
    }

    /// Waits until the downstream must be asked for input first; then the input error.
    pub(crate) async fn needs_input(&self) -> HandlerError {
        loop {
            self.abort.notified().await;
            if let Some(e) = self.take_input() {
                return e;
            }
        }
    }

    /// The input error, if the downstream must be asked first.
    pub(crate) fn take_input(&self) -> Option<HandlerError> {
        self.input.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// What the bridge tells the upstream it serves, and asks of it (implemented by the runtime's
/// `Upstream`; a trait so that this module does not reach back into the runtime that owns it).
pub(crate) trait UpstreamEvents: Send + Sync + 'static {
    /// Its name, for logs and input keys.
    fn name(&self) -> &str;
    /// Its calls in flight.
    fn calls(&self) -> &Calls;
    /// One of its lists changed: list it again.
    fn mark_dirty(&self);
    /// One of its resources changed (its own URI).
    fn resource_updated(&self, uri: &str);
}

/// The client handler of one upstream's connection.
pub(crate) struct Bridge {
    upstream: Weak<dyn UpstreamEvents>,
}

impl Bridge {
    pub(crate) fn new(upstream: Weak<dyn UpstreamEvents>) -> Self {
        Self { upstream }
    }

    /// The call an upstream request belongs to.
    fn call(&self, what: &str) -> Result<(Arc<dyn UpstreamEvents>, Arc<CallSlot>), ErrorObject> {
        let upstream = self
            .upstream
            .upgrade()
            .ok_or_else(|| ErrorObject::new(ErrorCode::INTERNAL_ERROR, "the gateway no longer serves this upstream"))?;
        let slot = CURRENT.try_with(Arc::clone).ok().or_else(|| upstream.calls().only()).ok_or_else(|| {
            ErrorObject::new(
                ErrorCode::INVALID_REQUEST,
                format!(
                    "the gateway cannot tell which of its calls this {what} belongs to: it can route one only while a single call is in flight (set max_concurrent_calls: 1 on upstream {})",
                    upstream.name()
                ),
            )
        })?;
        Ok((upstream, slot))
    }

    /// Asks the downstream client through `ask`, keyed per call so MRTR retries line up.
    fn relay<T: Send + 'static>(
        &self,
        what: &'static str,
        ask: impl FnOnce(RequestContext, String) -> BoxFuture<'static, Result<T, HandlerError>> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, ErrorObject>> {
        let found = self.call(what);
        Box::pin(async move {
            let (upstream, slot) = found?;
            let n = slot.seq.fetch_add(1, Ordering::Relaxed);
            let key = format!("{}-{what}-{n}", upstream.name());
            match ask(slot.ctx.clone(), key).await {
                Ok(answer) => Ok(answer),
                Err(e) if e.kind_name() == "input_required" => {
                    *slot.input.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    slot.abort.notify_one();
                    Err(ErrorObject::new(
                        ErrorCode::INTERNAL_ERROR,
                        "the client is being asked; the call will be made again",
                    ))
                }
                Err(e) => Err(ErrorObject::new(e.error_code().unwrap_or(ErrorCode::INTERNAL_ERROR), e.message())),
            }
        })
    }
}

impl ClientHandler for Bridge {
    fn capabilities(&self) -> ClientCapabilities {
        full_capabilities()
    }

    fn create_message(
        &self,
        params: CreateMessageParams,
    ) -> BoxFuture<'static, Result<CreateMessageResult, ErrorObject>> {
        self.relay("sampling", move |ctx, key| Box::pin(async move { ctx.sample(&key, params).await }))
    }

    fn elicit(&self, params: ElicitParams) -> BoxFuture<'static, Result<ElicitResult, ErrorObject>> {
        self.relay("elicitation", move |ctx, key| Box::pin(async move { ctx.elicit(&key, params).await }))
    }

    fn list_roots(&self) -> BoxFuture<'static, Result<ListRootsResult, ErrorObject>> {
        // Outside a call (servers ask at start), the gateway has no roots of its own to offer.
        if self.call("roots").is_err() {
            return Box::pin(async { Ok(ListRootsResult { roots: Vec::new(), meta: None }) });
        }
        self.relay("roots", move |ctx, key| Box::pin(async move { ctx.list_roots(&key).await }))
    }

    fn apply_elicitation_defaults(&self) -> bool {
        // The downstream client applies them (or not) itself; the answer passes through as given.
        false
    }

    fn notification(&self, method: &str, params: &Value) {
        let Some(upstream) = self.upstream.upgrade() else { return };
        match method {
            methods::NOTIFICATION_TOOLS_LIST_CHANGED
            | methods::NOTIFICATION_PROMPTS_LIST_CHANGED
            | methods::NOTIFICATION_RESOURCES_LIST_CHANGED => {
                tracing::info!(target: "switchboard::upstream", upstream = %upstream.name(), %method, "upstream lists changed; listing again");
                upstream.mark_dirty();
            }
            methods::NOTIFICATION_RESOURCES_UPDATED => {
                if let Some(uri) = params.get("uri").and_then(Value::as_str) {
                    upstream.resource_updated(uri);
                }
            }
            methods::NOTIFICATION_MESSAGE => {
                let level = params.get("level").and_then(Value::as_str).unwrap_or("info");
                let logger = params.get("logger").and_then(Value::as_str).unwrap_or_default();
                let data = params.get("data").map(Value::to_string).unwrap_or_default();
                match level {
                    "debug" => {
                        tracing::debug!(target: "switchboard::upstream", upstream = %upstream.name(), logger, "{data}")
                    }
                    "info" | "notice" => {
                        tracing::info!(target: "switchboard::upstream", upstream = %upstream.name(), logger, "{data}")
                    }
                    "warning" => {
                        tracing::warn!(target: "switchboard::upstream", upstream = %upstream.name(), logger, "{data}")
                    }
                    _ => {
                        tracing::error!(target: "switchboard::upstream", upstream = %upstream.name(), logger, level, "{data}")
                    }
                }
            }
            _ => {}
        }
    }
}
