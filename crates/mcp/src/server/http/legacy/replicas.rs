//! What keeps a process's legacy sessions in step with the store and with other replicas:
//! idle sessions ended, client messages routed to the replica whose request waits for them, and
//! a session's notifications logged once, by the replica serving its standalone stream.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use switchboard_protocol::jsonrpc::{self, Decoded};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::{deliver, Live, Unapplied};
use crate::engine::Frame;
use crate::server::http::session::SessionStore;
use crate::server::http::HttpState;

/// Hands a message this process could not apply to the replica that holds its request (a
/// shared store routes it; a store of one process has nowhere to send it).
pub(super) fn route(state: &HttpState, live: &Live, what: Unapplied, message: Bytes) {
    let store = state.sessions.store.clone();
    if !store.is_shared() {
        return;
    }
    let id = live.id.clone();
    tokio::spawn(async move {
        if let Err(e) = store.route(&id, message).await {
            warn!(target: "switchboard::http", error = %e, kind = ?what, "could not route a client message to its replica");
        }
    });
}

/// Applies the messages other replicas routed here to the sessions this process holds (a
/// message for a session or request not here is dropped: it was meant for another replica).
pub(crate) fn spawn_routed(state: &HttpState) {
    let Some(mut routed) = state.sessions.store.routed() else { return };
    let sessions = state.sessions.clone();
    tokio::spawn(async move {
        while let Some((id, message)) = routed.recv().await {
            let Some(live) = sessions.lock().get(&id).cloned() else { continue };
            if let Ok(Decoded::Single(inbound)) = jsonrpc::decode(&message, &Default::default()) {
                let _ = deliver(&live, inbound);
            }
        }
    });
}

/// Ends idle sessions periodically.
pub(crate) fn spawn_expiry(state: HttpState) {
    spawn_routed(&state);
    let period = (state.sessions.idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let shutdown = state.server.shutdown_token();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
            // A client listening on its GET stream is not idle, however long nothing is posted.
            let listening: Vec<String> = state
                .sessions
                .lock()
                .values()
                .filter(|l| l.standalone_open.load(Ordering::Acquire))
                .map(|l| l.id.clone())
                .collect();
            for id in listening {
                let _ = state.sessions.store.load(&id).await;
            }
            let expired = state.sessions.store.expire(state.sessions.idle).await.unwrap_or_default();
            for id in expired {
                if let Some(live) = state.sessions.remove(&id) {
                    debug!(target: "switchboard::http", session = %id, "idle session ended");
                    live.close();
                }
            }
        }
    });
}

impl Live {
    /// Appends what `rx` yields (unsolicited messages: list changes, resource updates) to
    /// stream `g` until the session closes.
    pub(super) fn pump_standalone(self: &Arc<Self>, store: Arc<dyn SessionStore>, mut rx: mpsc::Receiver<Frame>) {
        let live = self.clone();
        let stream = self.stream("g");
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = live.closed.cancelled() => return,
                    frame = rx.recv() => match frame {
                        // Every replica holding the session sees the same notifications; only the
                        // one that claimed the session's stream `g` logs them.
                        Some(frame) => {
                            if store.claim_unsolicited(&live.id, false).await.unwrap_or(false)
                                && subscribed(store.as_ref(), &live, &frame).await
                            {
                                let _ = store.append(&live.id, "g", Bytes::from(frame)).await;
                                stream.notify.notify_waiters();
                            }
                        }
                        None => return,
                    },
                }
            }
        });
    }
}

/// Whether `frame` is for the session: anything but a resource update is; an update of a shared
/// session is checked against its stored subscriptions (made through any replica).
async fn subscribed(store: &dyn SessionStore, live: &Live, frame: &[u8]) -> bool {
    if !store.is_shared() {
        return true;
    }
    #[derive(serde::Deserialize)]
    struct Updated {
        method: String,
        params: switchboard_protocol::notifications::ResourceUpdatedParams,
    }
    let Ok(update) = serde_json::from_slice::<Updated>(frame) else { return true };
    if update.method != switchboard_protocol::methods::NOTIFICATION_RESOURCES_UPDATED {
        return true;
    }
    match store.load(&live.id).await {
        Ok(Some(record)) => {
            let yes = record.subscriptions.contains(&update.params.uri);
            live.session.sync(record.log_level, record.subscriptions);
            yes
        }
        _ => false,
    }
}
