//! The answer cache: only for deterministic requests (temperature 0), only answers that ran no
//! tool (a tool's data may change), and never shared between principals — an entry holds its
//! principal and the whole conversation, compared exactly.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(10 * 60);
const MAX_ENTRIES: usize = 1_000;

#[derive(Debug)]
struct Entry<T> {
    principal: String,
    conversation: String,
    output: T,
    at: Instant,
}

/// Answers by principal and conversation.
#[derive(Debug)]
pub(crate) struct AnswerCache<T> {
    entries: Mutex<HashMap<u64, Entry<T>>>,
}

impl<T> Default for AnswerCache<T> {
    fn default() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }
}

fn key(principal: &str, conversation: &str) -> u64 {
    let mut h = DefaultHasher::new();
    principal.hash(&mut h);
    conversation.hash(&mut h);
    h.finish()
}

impl<T: Clone> AnswerCache<T> {
    pub(crate) fn get(&self, principal: &str, conversation: &str) -> Option<T> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(&key(principal, conversation))?;
        let fresh = entry.at.elapsed() < TTL;
        (fresh && entry.principal == principal && entry.conversation == conversation).then(|| entry.output.clone())
    }

    /// Keeps an answer (the caller decides what may be cached).
    pub(crate) fn put(&self, principal: &str, conversation: String, output: &T) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.at.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let entry = Entry { principal: principal.to_owned(), conversation, output: output.clone(), at: Instant::now() };
        entries.insert(key(principal, &entry.conversation), entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_never_served_to_another_principal() {
        let cache = AnswerCache::<String>::default();
        cache.put("alice", "[User(\"hi\")]".into(), &"hello alice".to_owned());
        assert_eq!(cache.get("alice", "[User(\"hi\")]").as_deref(), Some("hello alice"));
        assert_eq!(cache.get("bob", "[User(\"hi\")]"), None);
        assert_eq!(cache.get("alice", "[User(\"hi!\")]"), None);
    }
}
