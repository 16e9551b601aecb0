//! Actions waiting for the user's confirmation. The arguments are kept here, on the server: a
//! confirmation names an action by its id and runs exactly what was shown, for the same
//! principal, never arguments a client sends back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

/// How long a proposed action waits for its confirmation.
const TTL: Duration = Duration::from_secs(15 * 60);
/// At most this many actions wait at once (oldest dropped first).
const MAX_PENDING: usize = 10_000;

/// An action the model proposed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PendingAction {
    pub(crate) principal: String,
    /// The server's tool name.
    pub(crate) tool: String,
    /// The provider-side name the model used.
    pub(crate) provider_name: String,
    pub(crate) arguments: Map<String, Value>,
    created: Instant,
}

/// The pending actions of one agent.
#[derive(Debug, Default)]
pub(crate) struct PendingActions {
    actions: Mutex<HashMap<String, PendingAction>>,
}

impl PendingActions {
    /// Keeps an action; returns its id.
    pub(crate) fn propose(
        &self,
        principal: &str,
        tool: &str,
        provider_name: &str,
        arguments: Map<String, Value>,
    ) -> String {
        let id = random_id();
        let mut actions = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        actions.retain(|_, a| now.duration_since(a.created) < TTL);
        if actions.len() >= MAX_PENDING {
            if let Some(oldest) = actions.iter().min_by_key(|(_, a)| a.created).map(|(k, _)| k.clone()) {
                actions.remove(&oldest);
            }
        }
        let action = PendingAction {
            principal: principal.to_owned(),
            tool: tool.to_owned(),
            provider_name: provider_name.to_owned(),
            arguments,
            created: now,
        };
        actions.insert(id.clone(), action);
        id
    }

    /// Takes the action `id` if it is `principal`'s and still fresh: it runs (or is declined) once.
    pub(crate) fn take(&self, id: &str, principal: &str) -> Option<PendingAction> {
        let mut actions = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = actions.get(id).is_some_and(|a| a.principal == principal && a.created.elapsed() < TTL);
        if fresh {
            actions.remove(id)
        } else {
            None
        }
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 9];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source: still unique per process, just guessable (and bound to a principal).
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        return format!("act{nanos:x}");
    }
    format!("act{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The id of the action an assistant's text asked to confirm (`[confirm:act…]`).
pub(crate) fn mentioned_action(text: &str) -> Option<&str> {
    let start = text.rfind("[confirm:")? + "[confirm:".len();
    let rest = &text[start..];
    let end = rest.find(']')?;
    Some(rest[..end].trim()).filter(|id| id.starts_with("act") && id.len() < 64)
}

/// What the user's reply to a confirmation question means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    Yes,
    No,
    Other,
}

pub(crate) fn reply(text: &str) -> Reply {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    if words.len() <= 6 && has(&["no", "cancel", "don't", "stop", "nope", "abort"]) {
        Reply::No
    } else if words.len() <= 6 && has(&["yes", "y", "confirm", "confirmed", "ok", "okay", "proceed", "sure", "go"]) {
        Reply::Yes
    } else {
        Reply::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_runs_once_and_only_for_its_principal() {
        let pending = PendingActions::default();
        let id = pending.propose("alice", "process_refund", "process_refund", Map::new());
        assert!(pending.take(&id, "mallory").is_none());
        assert!(pending.take(&id, "alice").is_some());
        assert!(pending.take(&id, "alice").is_none());
    }

    #[test]
    fn replies_and_mentions_are_read() {
        assert_eq!(reply("Yes, please"), Reply::Yes);
        assert_eq!(reply("no"), Reply::No);
        assert_eq!(reply("What is the status of my order? yes I know it shipped late"), Reply::Other);
        assert_eq!(mentioned_action("Shall I? [confirm:act0a1b]"), Some("act0a1b"));
        assert_eq!(mentioned_action("nothing here"), None);
    }
}
