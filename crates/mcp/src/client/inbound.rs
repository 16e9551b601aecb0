//! Where what the server sends unprompted goes: notifications to the handler, the cache and
//! any listener; progress to the call that asked for it; requests to the handler.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use switchboard_protocol::notifications::ProgressParams;
use switchboard_protocol::{methods, ErrorObject};
use tokio::sync::{broadcast, mpsc};

use super::cache::ResponseCache;
use super::handler::{self, ClientHandler};

/// A notification from the server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerNotification {
    /// The method, e.g. `notifications/tools/list_changed`.
    pub method: String,
    /// The params (`null` when absent).
    pub params: Value,
}

/// The shared sink for one client's inbound traffic; every channel delivers into it.
pub(crate) struct Inbound {
    handler: Arc<dyn ClientHandler>,
    progress: Mutex<HashMap<String, mpsc::UnboundedSender<ProgressParams>>>,
    listeners: broadcast::Sender<ServerNotification>,
    pub(crate) cache: ResponseCache,
}

impl Inbound {
    pub(crate) fn new(handler: Arc<dyn ClientHandler>) -> Self {
        Self {
            handler,
            progress: Mutex::new(HashMap::new()),
            listeners: broadcast::channel(256).0,
            cache: ResponseCache::default(),
        }
    }

    pub(crate) fn handler(&self) -> &dyn ClientHandler {
        &*self.handler
    }

    /// Routes one notification.
    pub(crate) fn notification(&self, method: &str, params: Value) {
        if method == methods::NOTIFICATION_PROGRESS {
            if let Ok(progress) = serde_json::from_value::<ProgressParams>(params.clone()) {
                let key = token_key(&serde_json::to_value(&progress.progress_token).unwrap_or_default());
                if let Some(tx) = self.lock().get(&key) {
                    let _ = tx.send(progress);
                }
            }
        }
        self.cache.invalidate(method, &params);
        self.handler.notification(method, &params);
        let _ = self.listeners.send(ServerNotification { method: method.to_owned(), params });
    }

    /// Answers one server-to-client request (legacy era).
    pub(crate) async fn request(&self, method: &str, params: Option<Value>) -> Result<Value, ErrorObject> {
        handler::answer(&*self.handler, method, params).await
    }

    /// Receives the progress notifications carrying `token` until the guard is dropped.
    pub(crate) fn watch_progress(
        self: &Arc<Self>,
        token: &Value,
    ) -> (ProgressGuard, mpsc::UnboundedReceiver<ProgressParams>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let key = token_key(token);
        self.lock().insert(key.clone(), tx);
        (ProgressGuard { inbound: self.clone(), key }, rx)
    }

    /// Every notification from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<ServerNotification> {
        self.listeners.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<ProgressParams>>> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn token_key(token: &Value) -> String {
    token.to_string()
}

/// Stops routing a progress token when the call ends.
pub(crate) struct ProgressGuard {
    inbound: Arc<Inbound>,
    key: String,
}

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        self.inbound.lock().remove(&self.key);
    }
}
