//! Changes announced on one replica reach every replica's clients: a list change raised by
//! application code, or a resource update from an upstream subscription that only one replica
//! holds, is published on `<prefix>:changes` and announced locally by every other replica. A
//! legacy session's notifications are still logged once, by the replica serving its
//! standalone stream. Config reloads and upstream list changes are not relayed: every replica
//! sees those itself.

use switchboard_mcp::server::{Change, Notifier};
use tokio::sync::mpsc;

use super::Redis;

/// Changes waiting to be published; beyond this they are dropped (and logged).
const OUTGOING: usize = 256;

fn encode(change: &Change) -> String {
    match change {
        Change::Tools => "tools".into(),
        Change::Prompts => "prompts".into(),
        Change::Resources => "resources".into(),
        Change::ResourceUpdated(uri) => format!("updated {uri}"),
    }
}

fn decode(text: &str) -> Option<Change> {
    match text {
        "tools" => Some(Change::Tools),
        "prompts" => Some(Change::Prompts),
        "resources" => Some(Change::Resources),
        other => other.strip_prefix("updated ").map(|uri| Change::ResourceUpdated(uri.into())),
    }
}

/// Relays `notifier`'s changes through `redis` to the other replicas, and theirs to this
/// process's clients. Starts two tasks on the current Tokio runtime.
pub fn relay_changes(redis: &Redis, notifier: &Notifier) {
    let mut me = [0u8; 8];
    let _ = getrandom::fill(&mut me);
    let me: String = me.iter().map(|b| format!("{b:02x}")).collect();
    let channel = redis.key(&["changes"]);
    let (tx, mut outgoing) = mpsc::channel::<Change>(OUTGOING);
    if !notifier.relay_to(move |change| {
        if tx.try_send(change.clone()).is_err() {
            tracing::warn!(target: "switchboard::shared", "too many changes waiting for Redis; one is not relayed to the other replicas");
        }
    }) {
        return; // Already relayed.
    }
    let (publisher, origin, to) = (redis.clone(), me.clone(), channel.clone());
    tokio::spawn(async move {
        while let Some(change) = outgoing.recv().await {
            let payload = format!("{origin}\n{}", encode(&change));
            let to = to.clone();
            let sent = publisher
                .run(|mut c| async move { redis::cmd("PUBLISH").arg(to).arg(payload).query_async::<i64>(&mut c).await })
                .await;
            if let Err(e) = sent {
                tracing::warn!(target: "switchboard::shared", error = %e, "a change was not relayed to the other replicas");
            }
        }
    });
    let mut messages = redis.subscribe(channel);
    let notifier = notifier.clone();
    tokio::spawn(async move {
        while let Some(payload) = messages.recv().await {
            let text = String::from_utf8_lossy(&payload);
            let Some((origin, change)) = text.split_once('\n') else { continue };
            // This process announced its own changes already.
            if origin == me {
                continue;
            }
            if let Some(change) = decode(change) {
                notifier.notify_local(change);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use switchboard_mcp::server::Change;

    #[test]
    fn every_change_survives_the_wire() {
        for change in [Change::Tools, Change::Prompts, Change::Resources, Change::ResourceUpdated("db://a b\nc".into())]
        {
            assert_eq!(super::decode(&super::encode(&change)), Some(change));
        }
        assert_eq!(super::decode("something else"), None);
    }
}
