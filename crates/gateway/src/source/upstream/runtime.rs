//! The running side of upstreams: one [`Upstream`] per configured server, kept across reloads
//! while its settings stay the same (so a reload never restarts a server it did not change),
//! each with a supervisor task that retries a server that is down (backing off), restarts a
//! crashed stdio server, stops an idle one, and re-lists one that announced a change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use switchboard_mcp::client::{Client, ClientError, ClientOptions, EraChoice, HttpAuth, Target};
use switchboard_mcp::server::Notifier;
use switchboard_protocol::lifecycle::Implementation;
use switchboard_protocol::prompts::Prompt;
use switchboard_protocol::resources::{Resource, ResourceTemplate};
use switchboard_protocol::subscriptions::SubscriptionFilter;
use switchboard_protocol::tools::Tool;
use switchboard_protocol::ProtocolVersion;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::bridge::{Bridge, Calls, UpstreamEvents};
use crate::config::{StartMode, UpstreamEra, UpstreamSpec, DEFAULT_INIT_TIMEOUT_MS, DEFAULT_UPSTREAM_TIMEOUT_MS};

/// Longest wait between two attempts to reach a server that is down.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// First wait after a failure (doubled per consecutive failure).
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// How often the supervisor looks at its upstream when nothing wakes it.
const TICK: Duration = Duration::from_secs(1);

/// What an upstream offers, as it last listed it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Discovery {
    /// Its tools.
    pub tools: Vec<Tool>,
    /// Its prompts.
    pub prompts: Vec<Prompt>,
    /// Its concrete resources.
    pub resources: Vec<Resource>,
    /// Its resource templates.
    pub templates: Vec<ResourceTemplate>,
    /// Whether it completes prompt arguments and template variables.
    pub completions: bool,
}

/// How an upstream is doing, for `/readyz` and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not contacted yet.
    Starting,
    /// Connected.
    Up,
    /// A stdio server stopped on purpose (lazy, or idle); the next call starts it.
    Stopped,
    /// Unreachable, or crashed; the reason.
    Down(String),
}

impl Status {
    /// `starting`, `up`, `stopped` or `down`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Up => "up",
            Status::Stopped => "stopped",
            Status::Down(_) => "down",
        }
    }
}

/// Why an upstream request failed, worded for the caller (it names the upstream).
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// It could not be reached, started, or it died.
    #[error("upstream {name} is unavailable: {reason}")]
    Unavailable {
        /// The upstream.
        name: String,
        /// Why.
        reason: String,
    },
    /// It did not answer in time.
    #[error("upstream {name} did not answer within {ms} ms")]
    Timeout {
        /// The upstream.
        name: String,
        /// The limit.
        ms: u128,
    },
    /// It answered with an error or broke the protocol.
    #[error("upstream {name}: {reason}")]
    Failed {
        /// The upstream.
        name: String,
        /// What it said.
        reason: String,
        /// Its JSON-RPC error, when it sent one.
        rpc: Option<switchboard_protocol::ErrorObject>,
    },
}

/// Every upstream of the served config, by name; cheap to clone. Outlives reloads.
#[derive(Clone, Default)]
pub struct Upstreams {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    map: Mutex<BTreeMap<String, Arc<Upstream>>>,
    /// Fired when an upstream's offer changed (it came up, or announced a list change): the
    /// catalog must be rebuilt.
    changed: Notify,
    notifier: Mutex<Option<Notifier>>,
    /// The OAuth credential files in use.
    credentials: super::auth::CredentialFiles,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.statuses().iter().map(|(n, s)| format!("{n}: {}", s.as_str()))).finish()
    }
}

impl Upstreams {
    /// No upstreams yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where upstreams' `notifications/resources/updated` are announced to our clients.
    pub fn set_notifier(&self, notifier: Notifier) {
        *self.shared.notifier.lock().unwrap_or_else(|p| p.into_inner()) = Some(notifier);
    }

    /// Makes the set of upstreams match `specs`: an unchanged upstream is kept as it is
    /// (running process, discovered lists), a changed or new one is created, a removed or
    /// replaced one is stopped. Returns the upstreams in `specs`' order.
    /// `data_dir` holds the default OAuth credentials file.
    pub(crate) fn sync(
        &self,
        specs: &indexmap::IndexMap<String, UpstreamSpec>,
        base_dir: &Path,
        data_dir: &Path,
    ) -> Vec<Arc<Upstream>> {
        let mut map = self.shared.map.lock().unwrap_or_else(|p| p.into_inner());
        let mut kept = BTreeMap::new();
        let mut result = Vec::with_capacity(specs.len());
        for (name, spec) in specs {
            let upstream = match map.remove(name) {
                Some(existing) if existing.spec == *spec && existing.base_dir == base_dir => existing,
                previous => {
                    if let Some(previous) = previous {
                        tracing::info!(target: "switchboard::upstream", upstream = %name, "settings changed; replacing it");
                        previous.stop();
                    }
                    let auth = self.auth(name, spec, base_dir, data_dir);
                    Upstream::start(name, spec, base_dir, auth, Arc::downgrade(&self.shared))
                }
            };
            kept.insert(name.clone(), upstream.clone());
            result.push(upstream);
        }
        for (name, removed) in std::mem::replace(&mut *map, kept) {
            tracing::info!(target: "switchboard::upstream", upstream = %name, "removed from the config; stopping it");
            removed.stop();
        }
        result
    }

    /// The OAuth client of a protected upstream. A credentials file that cannot be opened is
    /// logged; the upstream then goes without (and its server's refusal says why).
    fn auth(&self, name: &str, spec: &UpstreamSpec, base_dir: &Path, data_dir: &Path) -> Option<Arc<dyn HttpAuth>> {
        let settings = spec.oauth.as_ref()?;
        let path = super::auth::credentials_path(settings, base_dir, data_dir);
        let built = self.shared.credentials.open(&path).and_then(|store| {
            let agent = Arc::new(super::auth::NeedsLogin::new(name, settings, &path));
            super::auth::oauth(spec.url.as_deref().unwrap_or_default(), settings, store, agent)
        });
        match built {
            Ok(oauth) => Some(Arc::new(oauth)),
            Err(e) => {
                tracing::error!(target: "switchboard::upstream", upstream = %name, error = %e, "cannot set up OAuth");
                None
            }
        }
    }

    /// A client of ours subscribed to the resource `served` (our URI): the upstream serving it
    /// is subscribed too. Unknown URIs are ignored (our own resources need nothing).
    pub fn watch_resource(&self, served: &str) {
        self.first_owning(|upstream| upstream.watch(served));
    }

    /// A subscription of one of our clients to `served` ended (see [`Upstreams::watch_resource`]).
    pub fn unwatch_resource(&self, served: &str) {
        self.first_owning(|upstream| upstream.unwatch(served));
    }

    /// Offers the call to each upstream until one says the URI was its own.
    fn first_owning(&self, apply: impl FnMut(&Arc<Upstream>) -> bool) {
        let all: Vec<Arc<Upstream>> =
            self.shared.map.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        let _ = all.iter().any(apply);
    }

    /// Waits until an upstream's offer changed since the last call.
    pub async fn changed(&self) {
        self.shared.changed.notified().await;
    }

    /// Each upstream's name and status.
    pub fn statuses(&self) -> Vec<(String, Status)> {
        let map = self.shared.map.lock().unwrap_or_else(|p| p.into_inner());
        map.iter().map(|(name, u)| (name.clone(), u.status())).collect()
    }

    /// Stops every upstream (their processes end; their supervisors too) and waits for the
    /// stdio ones to be gone.
    pub async fn shutdown(&self) {
        let all: Vec<Arc<Upstream>> =
            std::mem::take(&mut *self.shared.map.lock().unwrap_or_else(|p| p.into_inner())).into_values().collect();
        for upstream in all {
            upstream.stop.cancel();
            if let Some(client) = upstream.client.swap(None) {
                client.close().await;
            }
        }
    }
}

/// One upstream server.
pub(crate) struct Upstream {
    pub(crate) name: String,
    pub(crate) spec: UpstreamSpec,
    base_dir: PathBuf,
    /// Its OAuth client, kept across reconnections (it holds the tokens).
    auth: Option<Arc<dyn HttpAuth>>,
    client: ArcSwapOption<Client>,
    /// Held while connecting, so concurrent callers wait for one start.
    connect_lock: tokio::sync::Mutex<()>,
    discovery: Mutex<Option<Arc<Discovery>>>,
    /// Set by a list-change notification: the next look re-lists.
    dirty: AtomicBool,
    status: Mutex<Status>,
    in_flight: AtomicUsize,
    /// Milliseconds since `epoch` of the last call's end (for idle stops).
    last_use: AtomicU64,
    epoch: Instant,
    /// No new connection attempt before this (after failures).
    retry_at: Mutex<Option<Instant>>,
    failures: AtomicU64,
    wake: Notify,
    stop: CancellationToken,
    shared: Weak<Shared>,
    /// The calls in flight, for routing the server's requests (elicitation, sampling) to the
    /// right caller.
    pub(crate) calls: Calls,
    /// How its resource URIs are served (set when it is registered).
    uris: Mutex<super::names::Uris>,
    /// Its list-change notifications (a `subscriptions/listen` stream on a modern server), for
    /// as long as its connection lives.
    listener: Mutex<Option<switchboard_mcp::client::Listener>>,
    /// The upstream's URIs our clients subscribed to, with how many subscriptions each has:
    /// subscribed at the upstream on every connection, unsubscribed when the count reaches zero.
    watched: Mutex<std::collections::BTreeMap<String, usize>>,
    /// Turns for calls when `max_concurrent_calls` is set.
    turns: Option<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("name", &self.name).field("status", &self.status()).finish_non_exhaustive()
    }
}

/// Marks a call in flight until dropped.
pub(crate) struct InFlight<'a>(&'a Upstream);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Upstream {
    fn start(
        name: &str,
        spec: &UpstreamSpec,
        base_dir: &Path,
        auth: Option<Arc<dyn HttpAuth>>,
        shared: Weak<Shared>,
    ) -> Arc<Self> {
        let upstream = Arc::new(Self {
            name: name.to_owned(),
            spec: spec.clone(),
            base_dir: base_dir.to_owned(),
            auth,
            client: ArcSwapOption::empty(),
            connect_lock: tokio::sync::Mutex::new(()),
            discovery: Mutex::new(None),
            dirty: AtomicBool::new(false),
            status: Mutex::new(Status::Starting),
            in_flight: AtomicUsize::new(0),
            last_use: AtomicU64::new(0),
            epoch: Instant::now(),
            retry_at: Mutex::new(None),
            failures: AtomicU64::new(0),
            wake: Notify::new(),
            stop: CancellationToken::new(),
            shared,
            calls: Default::default(),
            uris: Mutex::default(),
            listener: Mutex::new(None),
            watched: Mutex::default(),
            turns: spec.max_concurrent_calls.map(|n| tokio::sync::Semaphore::new(n as usize)),
        });
        tokio::spawn(supervise(Arc::downgrade(&upstream), upstream.stop.clone()));
        upstream
    }

    /// The upstream's name (its namespace unless `prefix:` says otherwise).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// How it is doing.
    pub(crate) fn status(&self) -> Status {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_status(&self, status: Status) {
        let mut current = self.status.lock().unwrap_or_else(|p| p.into_inner());
        if *current != status {
            match &status {
                Status::Down(reason) => {
                    tracing::warn!(target: "switchboard::upstream", upstream = %self.name, %reason, "upstream down")
                }
                other => {
                    tracing::info!(target: "switchboard::upstream", upstream = %self.name, status = other.as_str(), "upstream status")
                }
            }
            *current = status;
        }
    }

    fn is_stdio(&self) -> bool {
        self.spec.command.is_some()
    }

    fn init_timeout(&self) -> Duration {
        Duration::from_millis(self.spec.init_timeout_ms.unwrap_or(DEFAULT_INIT_TIMEOUT_MS))
    }

    /// The time one request may take.
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.spec.timeout_ms.unwrap_or(DEFAULT_UPSTREAM_TIMEOUT_MS))
    }

    fn target(&self) -> Target {
        super::target::target(&self.name, &self.spec, &self.base_dir, self.auth.clone())
    }

    fn stop(&self) {
        self.stop.cancel();
        if let Some(client) = self.client.swap(None) {
            tokio::spawn(async move { client.close().await });
        }
    }

    fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_use.store(now, Ordering::Relaxed);
    }

    /// Waits for a turn to call it (with `max_concurrent_calls`), until `deadline` (the
    /// caller's); the turn lasts until the permit is dropped.
    pub(crate) async fn turn(
        &self,
        deadline: tokio::time::Instant,
    ) -> Result<Option<tokio::sync::SemaphorePermit<'_>>, UpstreamError> {
        let Some(turns) = &self.turns else { return Ok(None) };
        let within = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout_at(deadline, turns.acquire()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            Ok(Err(_)) => Err(self.unavailable("it was removed from the config".into())),
            Err(_) => Err(self.unavailable(format!(
                "all {} of its calls at once (max_concurrent_calls) stayed busy for {} ms",
                self.spec.max_concurrent_calls.unwrap_or_default(),
                within.as_millis()
            ))),
        }
    }

    /// Counts a call in flight (idle stops wait for it) until the guard is dropped.
    pub(crate) fn begin(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        InFlight(self)
    }

    /// A list changed at the upstream: re-list it soon.
    pub(crate) fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    pub(crate) fn set_uris(&self, uris: super::names::Uris) {
        *self.uris.lock().unwrap_or_else(|p| p.into_inner()) = uris;
    }

    /// The upstream's own URI for our `served`, when the resource is this upstream's.
    fn original_uri(&self, served: &str) -> Option<String> {
        let uris = self.uris.lock().unwrap_or_else(|p| p.into_inner());
        match uris.original(served) {
            Some(original) if uris.is_prefixed() => Some(original.to_owned()),
            // Without a namespace, only a URI it listed is known to be its.
            Some(original) if self.lists_resource(original) => Some(original.to_owned()),
            _ => None,
        }
    }

    /// A client of ours subscribed to `served`: when it is one of this upstream's resources,
    /// subscribe at the upstream too (now if connected, else on connection). Returns whether it was.
    pub(crate) fn watch(self: &Arc<Self>, served: &str) -> bool {
        let Some(original) = self.original_uri(served) else { return false };
        let first = {
            let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
            let count = watched.entry(original).or_insert(0);
            *count += 1;
            *count == 1
        };
        if first {
            if let Some(client) = self.client.load_full() {
                let upstream = self.clone();
                // The listener is renewed with every watched URI (a modern `subscriptions/listen`
                // names them all; a legacy session subscribes each).
                tokio::spawn(async move { upstream.listen(&client).await });
            }
        }
        true
    }

    /// One subscription of ours to `served` ended: when it was the last, the upstream is
    /// unsubscribed (a legacy session's `resources/unsubscribe`; a modern listen stream opened
    /// again without it). Returns whether `served` is this upstream's.
    pub(crate) fn unwatch(self: &Arc<Self>, served: &str) -> bool {
        let Some(original) = self.original_uri(served) else { return false };
        let last = {
            let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
            match watched.get_mut(&original) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                Some(_) => watched.remove(&original).is_some(),
                // Subscribed through another replica's gateway, or before a restart.
                None => false,
            }
        };
        if last {
            if let Some(client) = self.client.load_full() {
                let upstream = self.clone();
                tokio::spawn(async move {
                    if client.is_modern() {
                        upstream.listen(&client).await;
                    } else if let Err(e) = client.unsubscribe_resource(&original).await {
                        tracing::debug!(target: "switchboard::upstream", upstream = %upstream.name, error = %e, "could not unsubscribe");
                    }
                });
            }
        }
        true
    }

    fn lists_resource(&self, uri: &str) -> bool {
        self.discovery
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|d| d.resources.iter().any(|r| r.uri == uri))
    }

    /// The upstream says a resource changed: our subscribers hear of it under our URI.
    pub(crate) fn resource_updated(&self, uri: &str) {
        let served = self.uris.lock().unwrap_or_else(|p| p.into_inner()).served(uri);
        if let Some(shared) = self.shared.upgrade() {
            if let Some(notifier) = shared.notifier.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                notifier.resource_updated(&served);
            }
        }
    }

    /// The connected client, starting or connecting the server if it is not running. Fails fast
    /// (naming the upstream) while it is backing off after failures.
    pub(crate) async fn client(self: &Arc<Self>) -> Result<Arc<Client>, UpstreamError> {
        if let Some(client) = self.client.load_full() {
            return Ok(client);
        }
        let _serial = self.connect_lock.lock().await;
        if let Some(client) = self.client.load_full() {
            return Ok(client);
        }
        if self.stop.is_cancelled() {
            return Err(self.unavailable("it was removed from the config".into()));
        }
        let waiting = self.retry_at.lock().unwrap_or_else(|p| p.into_inner()).filter(|at| *at > Instant::now());
        if let Some(at) = waiting {
            let reason = match self.status() {
                Status::Down(reason) => reason,
                _ => "it failed recently".into(),
            };
            let ms = at.saturating_duration_since(Instant::now()).as_millis();
            return Err(self.unavailable(format!("{reason} (next attempt in {ms} ms)")));
        }
        let options = ClientOptions {
            client_info: Implementation::new("switchboard-gateway", env!("CARGO_PKG_VERSION")),
            request_timeout: self.request_timeout(),
            era: match self.spec.era {
                UpstreamEra::Auto => EraChoice::Auto,
                UpstreamEra::Modern => EraChoice::Modern(ProtocolVersion::LATEST),
                UpstreamEra::Legacy => EraChoice::Legacy(ProtocolVersion::LATEST_LEGACY),
            },
            ..ClientOptions::default()
        };
        let events: Arc<dyn UpstreamEvents> = self.clone();
        let bridge = Bridge::new(Arc::downgrade(&events));
        let connect = Client::connect(self.target(), bridge, options);
        let outcome = match tokio::time::timeout(self.init_timeout(), connect).await {
            Ok(Ok(client)) => Ok(Arc::new(client)),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no handshake within {} ms (init_timeout_ms)", self.init_timeout().as_millis())),
        };
        match outcome {
            Ok(client) => {
                self.failures.store(0, Ordering::Relaxed);
                *self.retry_at.lock().unwrap_or_else(|p| p.into_inner()) = None;
                self.client.store(Some(client.clone()));
                self.listen(&client).await;
                self.set_status(Status::Up);
                tracing::info!(target: "switchboard::upstream", upstream = %self.name, version = %client.protocol_version().as_str(), "connected");
                Ok(client)
            }
            Err(reason) => {
                self.failed(reason.clone());
                Err(self.unavailable(reason))
            }
        }
    }

    /// Asks the server for its list changes (modern servers send them only on a listen stream).
    async fn listen(&self, client: &Client) {
        let caps = serde_json::to_value(client.capabilities()).unwrap_or_default();
        let announces =
            |what: &str| caps.pointer(&format!("/{what}/listChanged")) == Some(&serde_json::Value::Bool(true));
        let subscribes = caps.pointer("/resources/subscribe") == Some(&serde_json::Value::Bool(true));
        let watched: Vec<String> = self.watched.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
        let filter = SubscriptionFilter {
            tools_list_changed: announces("tools").then_some(true),
            prompts_list_changed: announces("prompts").then_some(true),
            resources_list_changed: announces("resources").then_some(true),
            resource_subscriptions: (subscribes && !watched.is_empty()).then_some(watched),
        };
        if filter.tools_list_changed.is_none()
            && filter.prompts_list_changed.is_none()
            && filter.resources_list_changed.is_none()
            && filter.resource_subscriptions.is_none()
        {
            // Nothing to hear any more: a stream opened for earlier subscriptions ends.
            *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = None;
            return;
        }
        match client.listen(filter).await {
            Ok(listener) => *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(listener),
            Err(e) => {
                tracing::warn!(target: "switchboard::upstream", upstream = %self.name, error = %e, "cannot listen for its list changes")
            }
        }
    }

    /// Records a failure to reach the server and when to try again.
    fn failed(&self, reason: String) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed);
        let backoff = FIRST_BACKOFF.saturating_mul(1 << n.min(8)).min(MAX_BACKOFF);
        *self.retry_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + backoff);
        self.set_status(Status::Down(reason));
    }

    fn unavailable(&self, reason: String) -> UpstreamError {
        UpstreamError::Unavailable { name: self.name.clone(), reason }
    }

    /// Turns a client error into ours; a lost stdio server is dropped (the supervisor or the
    /// next call starts it again).
    pub(crate) fn error(&self, client: &Arc<Client>, error: ClientError) -> UpstreamError {
        match error {
            ClientError::Timeout { timeout, .. } => {
                UpstreamError::Timeout { name: self.name.clone(), ms: timeout.as_millis() }
            }
            e if e.is_connection_failure() => {
                let reason = e.to_string();
                if self.is_stdio() {
                    let current = self.client.load();
                    if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, client)) {
                        self.client.store(None);
                        let client = client.clone();
                        tokio::spawn(async move { client.close().await });
                        // The first restart after a crash is immediate; repeated ones back off.
                        if self.failures.load(Ordering::Relaxed) > 0 {
                            self.failed(reason.clone());
                        } else {
                            self.failures.store(1, Ordering::Relaxed);
                            self.set_status(Status::Down(reason.clone()));
                        }
                        self.wake.notify_one();
                    }
                } else {
                    self.set_status(Status::Down(reason.clone()));
                }
                self.unavailable(reason)
            }
            ClientError::Rpc { error, .. } => UpstreamError::Failed {
                name: self.name.clone(),
                reason: format!("{} (code {})", error.message, error.code.0),
                rpc: Some(error),
            },
            other => UpstreamError::Failed { name: self.name.clone(), reason: other.to_string(), rpc: None },
        }
    }

    /// What the upstream offers: the lists from the last look, or fresh ones when it has not
    /// been listed yet or announced a change. Bounded by `init_timeout_ms`.
    pub(crate) async fn discovery(self: &Arc<Self>) -> Result<Arc<Discovery>, UpstreamError> {
        let cached = self.discovery.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(d) = cached.filter(|_| !self.dirty.load(Ordering::Acquire)) {
            return Ok(d);
        }
        let timeout = self.init_timeout();
        let listed = match tokio::time::timeout(timeout, self.list()).await {
            Ok(r) => r,
            Err(_) => {
                let reason = format!("its lists did not arrive within {} ms (init_timeout_ms)", timeout.as_millis());
                self.failed(reason.clone());
                Err(self.unavailable(reason))
            }
        }?;
        let listed = Arc::new(listed);
        *self.discovery.lock().unwrap_or_else(|p| p.into_inner()) = Some(listed.clone());
        if self.spec.start == StartMode::Lazy && self.in_flight.load(Ordering::Acquire) == 0 {
            self.park();
        }
        Ok(listed)
    }

    async fn list(self: &Arc<Self>) -> Result<Discovery, UpstreamError> {
        let client = self.client().await?;
        self.dirty.store(false, Ordering::Release);
        let caps = client.capabilities();
        let mut found = Discovery {
            tools: if caps.tools.is_some() || client.is_modern() {
                client.list_all_tools().await.map_err(|e| self.error(&client, e))?
            } else {
                Vec::new()
            },
            completions: caps.completions.is_some(),
            ..Discovery::default()
        };
        if caps.prompts.is_some() {
            found.prompts = client.list_all_prompts().await.map_err(|e| self.error(&client, e))?;
        }
        if caps.resources.is_some() {
            found.resources = client.list_all_resources().await.map_err(|e| self.error(&client, e))?;
            found.templates = client.list_all_resource_templates().await.map_err(|e| self.error(&client, e))?;
        }
        tracing::info!(
            target: "switchboard::upstream",
            upstream = %self.name,
            tools = found.tools.len(),
            prompts = found.prompts.len(),
            resources = found.resources.len(),
            templates = found.templates.len(),
            "listed"
        );
        Ok(found)
    }

    /// Stops a stdio server that is not needed now (lazy start, idle).
    fn park(&self) {
        if let Some(client) = self.client.swap(None) {
            tokio::spawn(async move { client.close().await });
            self.set_status(Status::Stopped);
        }
    }

    fn idle_for(&self) -> Duration {
        let last = self.last_use.load(Ordering::Relaxed);
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(now.saturating_sub(last))
    }

    fn needs_attention(&self) -> bool {
        let undiscovered = self.discovery.lock().unwrap_or_else(|p| p.into_inner()).is_none();
        let crashed = self.is_stdio()
            && self.spec.start == StartMode::Eager
            && self.client.load().is_none()
            && matches!(self.status(), Status::Down(_));
        undiscovered || self.dirty.load(Ordering::Acquire) || crashed
    }

    fn announce_change(&self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.changed.notify_one();
        }
    }
}

impl UpstreamEvents for Upstream {
    fn name(&self) -> &str {
        &self.name
    }

    fn calls(&self) -> &Calls {
        &self.calls
    }

    fn mark_dirty(&self) {
        Upstream::mark_dirty(self);
    }

    fn resource_updated(&self, uri: &str) {
        Upstream::resource_updated(self, uri);
    }
}

/// The supervisor: retries what is down (with the upstream's backoff), restarts an eager stdio
/// server after a crash, re-lists after a change, stops idle stdio servers.
async fn supervise(upstream: Weak<Upstream>, stop: CancellationToken) {
    loop {
        let Some(u) = upstream.upgrade() else { return };
        let idle = u.spec.idle_timeout_ms.map(Duration::from_millis);
        let tick = idle.map_or(TICK, |i| (i / 4).clamp(Duration::from_millis(50), TICK));
        let wait = {
            let retry_at = *u.retry_at.lock().unwrap_or_else(|p| p.into_inner());
            retry_at
                .map_or(tick, |at| at.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(10), tick))
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = u.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
        let ready = u.retry_at.lock().unwrap_or_else(|p| p.into_inner()).is_none_or(|at| at <= Instant::now());
        if ready && u.needs_attention() {
            let had_discovery = u.discovery.lock().unwrap_or_else(|p| p.into_inner()).is_some();
            let was_dirty = u.dirty.load(Ordering::Acquire);
            match u.discovery().await {
                Ok(_) => {
                    // An upstream that announced a change gets its announcement passed on even when
                    // its lists look the same (what changed may be behaviour, not shape).
                    if !had_discovery || was_dirty {
                        u.announce_change();
                    }
                }
                Err(e) => {
                    tracing::debug!(target: "switchboard::upstream", upstream = %u.name, error = %e, "still unavailable")
                }
            }
        }
        if let Some(idle) = idle {
            if u.is_stdio()
                && u.in_flight.load(Ordering::Acquire) == 0
                && u.idle_for() >= idle
                && u.client.load().is_some()
            {
                tracing::info!(target: "switchboard::upstream", upstream = %u.name, idle_ms = idle.as_millis(), "idle; stopping it");
                u.park();
            }
        }
    }
}
