//! What keeps a process's legacy sessions in step with the store and with other replicas:
//! idle sessions ended, and client messages routed to the replica whose request waits for them.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use switchboard_protocol::jsonrpc::{self, Decoded};
use tracing::{debug, warn};

use super::{deliver, Live, Unapplied};
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
