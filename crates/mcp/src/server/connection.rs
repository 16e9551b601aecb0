//! One connection of the server: era detection, the legacy session (if `initialize` started
//! one), and the forwarding of change notifications to legacy clients.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use switchboard_protocol::jsonrpc::{self, RawNotification, RawRequest, RequestId};
use switchboard_protocol::lifecycle::{ClientCapabilities, Implementation};
use switchboard_protocol::logging::LoggingLevel;
use switchboard_protocol::meta::RequestMeta;
use switchboard_protocol::notifications::{NotificationParams, ResourceUpdatedParams};
use switchboard_protocol::{methods, ErrorObject, ProtocolVersion};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::notify::Change;
use super::ServerInner;
use crate::engine::{Frame, Handler, PeerHandle, Reply, RequestHandle};

/// A legacy session, created by `initialize`. Immutable after creation but for the log level
/// and resource subscriptions.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) version: ProtocolVersion,
    pub(crate) capabilities: Arc<ClientCapabilities>,
    pub(crate) client_info: Arc<Implementation>,
    log_level: AtomicU8,
    pub(crate) initialized: AtomicBool,
    pub(crate) subscriptions: Mutex<HashSet<String>>,
    /// Unique within the process (an address could be reused by a later session).
    pub(crate) serial: u64,
    /// The session id, when replicas share the session: what names it in every process.
    pub(crate) shared_id: std::sync::OnceLock<String>,
    /// The subscriptions this copy of the session told the subscribe hook of.
    pub(crate) watched: Watched,
}

/// Resource subscriptions reported to the server's subscribe hook, each reported again to the
/// unsubscribe hook when it ends — by [`Watched::remove`], or all at once when this is dropped
/// (the session, or the listen stream, ended).
#[derive(Debug, Default)]
pub(crate) struct Watched {
    uris: Mutex<HashSet<String>>,
    release: std::sync::OnceLock<super::SubscribeHook>,
}

impl Watched {
    /// `uri` was reported to the subscribe hook; `release` is the unsubscribe hook, if any.
    pub(crate) fn add(&self, uri: &str, release: Option<&super::SubscribeHook>) {
        if let Some(release) = release {
            let _ = self.release.set(release.clone());
        }
        self.uris.lock().unwrap_or_else(|p| p.into_inner()).insert(uri.to_owned());
    }

    /// The subscription to `uri` ended.
    pub(crate) fn remove(&self, uri: &str) {
        if self.uris.lock().unwrap_or_else(|p| p.into_inner()).remove(uri) {
            if let Some(release) = self.release.get() {
                release.call(uri);
            }
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(release) = self.release.get() {
            for uri in self.uris.get_mut().unwrap_or_else(|p| p.into_inner()).drain() {
                release.call(&uri);
            }
        }
    }
}

/// Log levels as stored in the session (0 = off).
const LEVELS: [LoggingLevel; 8] = [
    LoggingLevel::Debug,
    LoggingLevel::Info,
    LoggingLevel::Notice,
    LoggingLevel::Warning,
    LoggingLevel::Error,
    LoggingLevel::Critical,
    LoggingLevel::Alert,
    LoggingLevel::Emergency,
];

impl Session {
    pub(crate) fn new(version: ProtocolVersion, capabilities: ClientCapabilities, client_info: Implementation) -> Self {
        Self {
            version,
            capabilities: Arc::new(capabilities),
            client_info: Arc::new(client_info),
            // Until the client sets a level, send info and above.
            log_level: AtomicU8::new(2),
            initialized: AtomicBool::new(false),
            subscriptions: Mutex::new(HashSet::new()),
            serial: {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
                NEXT.fetch_add(1, Ordering::Relaxed)
            },
            shared_id: std::sync::OnceLock::new(),
            watched: Watched::default(),
        }
    }

    /// Restores a session from stored state.
    pub(crate) fn restore(
        version: ProtocolVersion,
        capabilities: ClientCapabilities,
        client_info: Implementation,
        log_level: Option<LoggingLevel>,
        subscriptions: Vec<String>,
    ) -> Self {
        let s = Self::new(version, capabilities, client_info);
        match log_level {
            Some(level) => s.set_log_level(level),
            None => s.log_level.store(0, Ordering::Relaxed),
        }
        s.initialized.store(true, Ordering::Relaxed);
        if let Ok(mut subs) = s.subscriptions.lock() {
            subs.extend(subscriptions);
        }
        s
    }

    pub(crate) fn log_level(&self) -> Option<LoggingLevel> {
        match self.log_level.load(Ordering::Relaxed) {
            0 => None,
            n => LEVELS.get(usize::from(n) - 1).copied(),
        }
    }

    /// Follows a record changed by another replica sharing the session. Its
    /// `notifications/initialized` may have gone to another replica too: a stored session is an
    /// initialized one (as [`Session::restore`] assumes).
    pub(crate) fn sync(&self, log_level: Option<LoggingLevel>, subscriptions: Vec<String>) {
        self.initialized.store(true, Ordering::Relaxed);
        match log_level {
            Some(level) => self.set_log_level(level),
            None => self.log_level.store(0, Ordering::Relaxed),
        }
        if let Ok(mut subs) = self.subscriptions.lock() {
            *subs = subscriptions.into_iter().collect();
        }
    }

    pub(crate) fn set_log_level(&self, level: LoggingLevel) {
        let n = LEVELS.iter().position(|l| *l == level).unwrap_or(0) + 1;
        self.log_level.store(u8::try_from(n).unwrap_or(1), Ordering::Relaxed);
    }
}

/// How a request is to be served.
#[derive(Debug, Clone)]
pub(crate) enum Mode {
    /// Statelessly, from the request's own `_meta`.
    Modern { caps: Arc<ClientCapabilities>, client_info: Option<Arc<Implementation>>, log_level: Option<LoggingLevel> },
    /// Within the connection's legacy session.
    Legacy(Arc<Session>),
}

impl Mode {
    pub(crate) fn version(&self) -> ProtocolVersion {
        match self {
            Mode::Modern { .. } => ProtocolVersion::LATEST,
            Mode::Legacy(s) => s.version,
        }
    }
}

/// The engine handler for one server connection.
#[derive(Debug)]
pub(crate) struct ServerConnection {
    pub(crate) server: Arc<ServerInner>,
    pub(crate) session: OnceLock<Arc<Session>>,
    /// Fires when input ends: listen streams and forwarders stop.
    pub(crate) closing: CancellationToken,
    /// Where notifications unrelated to any request go (list changes, resource updates). Unset
    /// on stdio, where the connection itself is that channel; HTTP sets its standalone stream.
    pub(crate) unsolicited: OnceLock<PeerHandle>,
    /// Who this connection's requests act for (anonymous until a transport authenticates).
    pub(crate) principal: super::Principal,
    /// The transport request that opened the connection (WebSocket upgrade, SSE stream), for
    /// requests whose handle records none of their own.
    pub(crate) origin: Option<Arc<crate::engine::Origin>>,
}

impl ServerConnection {
    pub(crate) fn new(server: Arc<ServerInner>) -> Self {
        let closing = server.shutdown.child_token();
        Self {
            server,
            session: OnceLock::new(),
            closing,
            unsolicited: OnceLock::new(),
            principal: super::Principal::anonymous(),
            origin: None,
        }
    }

    /// Recreates a connection around an existing legacy session (HTTP, after a restart or on
    /// another replica).
    pub(crate) fn with_session(server: Arc<ServerInner>, session: Arc<Session>) -> Self {
        let this = Self::new(server);
        let _ = this.session.set(session);
        this
    }

    /// Decides the era of a request from its `_meta` and the connection's session.
    pub(crate) fn mode(&self, meta: Option<&RequestMeta>, method: &str) -> Result<Mode, ErrorObject> {
        if let Some(meta) = meta {
            if let Some(requested) = &meta.protocol_version {
                let supported = ProtocolVersion::strings_of(switchboard_protocol::Era::Modern);
                match requested.parse::<ProtocolVersion>() {
                    Ok(v) if v.is_modern() => {}
                    _ => return Err(ErrorObject::unsupported_protocol_version(requested, &supported)),
                }
                let Some(caps) = &meta.client_capabilities else {
                    return Err(ErrorObject::invalid_params(format!(
                        "{method}: params._meta[\"io.modelcontextprotocol/clientCapabilities\"] is required on every {} request (send {{}} to declare none)",
                        ProtocolVersion::LATEST
                    )));
                };
                return Ok(Mode::Modern {
                    caps: Arc::new(caps.clone()),
                    client_info: meta.client_info.clone().map(Arc::new),
                    log_level: meta.log_level,
                });
            }
        }
        if let Some(session) = self.session.get() {
            return Ok(Mode::Legacy(session.clone()));
        }
        Err(ErrorObject::invalid_params(format!(
            "{method}: params._meta[\"io.modelcontextprotocol/protocolVersion\"] is missing: send it (protocol {}) or `initialize` a session first (protocol {} and older)",
            ProtocolVersion::LATEST,
            ProtocolVersion::LATEST_LEGACY
        )))
    }

    /// Handles a client notification (other than cancellation, which transports handle).
    pub(crate) fn on_notification(&self, notification: &RawNotification) {
        match notification.method.as_str() {
            methods::INITIALIZED => {
                if let Some(s) = self.session.get() {
                    s.initialized.store(true, Ordering::Relaxed);
                }
            }
            other => debug!(target: "switchboard::server", method = other, "ignoring notification"),
        }
    }

    /// Forwards changes to a legacy client until the connection closes.
    pub(crate) fn spawn_legacy_forwarder(&self, session: Arc<Session>, peer: PeerHandle) {
        let mut changes = self.server.notifier.subscribe();
        let closing = self.closing.clone();
        let caps = self.server.capabilities.clone();
        tokio::spawn(async move {
            loop {
                let change = tokio::select! {
                    _ = closing.cancelled() => return,
                    change = changes.recv() => change,
                };
                let change = match change {
                    Ok(c) => c,
                    Err(RecvError::Lagged(_)) => Change::Tools,
                    Err(RecvError::Closed) => return,
                };
                if !session.initialized.load(Ordering::Relaxed) {
                    continue;
                }
                let sent = match &change {
                    Change::Tools if caps.tools.as_ref().and_then(|t| t.list_changed) == Some(true) => {
                        peer.notify(methods::NOTIFICATION_TOOLS_LIST_CHANGED, Some(&NotificationParams::default()))
                            .await
                    }
                    Change::Prompts if caps.prompts.as_ref().and_then(|t| t.list_changed) == Some(true) => {
                        peer.notify(methods::NOTIFICATION_PROMPTS_LIST_CHANGED, Some(&NotificationParams::default()))
                            .await
                    }
                    Change::Resources if caps.resources.as_ref().and_then(|t| t.list_changed) == Some(true) => {
                        peer.notify(methods::NOTIFICATION_RESOURCES_LIST_CHANGED, Some(&NotificationParams::default()))
                            .await
                    }
                    Change::ResourceUpdated(uri) => {
                        // A shared session may have subscribed through another replica since
                        // this copy last synced: its stream's writer checks the stored record.
                        let subscribed = session.shared_id.get().is_some()
                            || session.subscriptions.lock().map(|s| s.contains(&**uri)).unwrap_or(false);
                        if !subscribed {
                            continue;
                        }
                        peer.notify(
                            methods::NOTIFICATION_RESOURCES_UPDATED,
                            Some(&ResourceUpdatedParams { uri: uri.to_string(), meta: None }),
                        )
                        .await
                    }
                    _ => continue,
                };
                if sent.is_err() {
                    return;
                }
            }
        });
    }
}

impl Handler for ServerConnection {
    fn request(
        self: &Arc<Self>,
        request: RawRequest,
        handle: RequestHandle,
    ) -> impl Future<Output = Reply> + Send + 'static {
        let this = self.clone();
        async move {
            let id = request.id.clone();
            match this.dispatch(request, handle).await {
                Ok(frame) => Reply::result(frame),
                Err(error) => Reply::error(Some(&id), &error),
            }
        }
    }

    fn notification(&self, notification: RawNotification, _peer: &PeerHandle) {
        self.on_notification(&notification);
    }

    fn is_barrier(&self, method: &str) -> bool {
        method == methods::INITIALIZE
    }

    fn batch_allowed(&self) -> Result<(), ErrorObject> {
        match self.session.get() {
            Some(s) if s.version.allows_batches() => Ok(()),
            Some(s) => Err(ErrorObject::invalid_request(format!(
                "JSON-RPC batches are not allowed in protocol {} (only 2025-03-26 allowed them); send one message at a time",
                s.version
            ))),
            None => Err(ErrorObject::invalid_request(
                "JSON-RPC batches are not allowed here (only a 2025-03-26 session accepts them); send one message at a time",
            )),
        }
    }

    fn input_closed(&self) {
        self.closing.cancel();
    }

    fn closed(&self) {
        self.closing.cancel();
    }
}

/// Encodes an error response.
pub(crate) fn error_frame(id: &RequestId, error: &ErrorObject) -> Frame {
    let mut frame = Vec::with_capacity(96 + error.message.len());
    jsonrpc::write_error(&mut frame, Some(id), error);
    frame
}
