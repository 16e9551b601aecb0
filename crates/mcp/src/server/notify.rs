//! Change fan-out: application code reports that lists or resources changed, and every listen
//! stream (modern) and legacy session forwards what its client asked for. With replicas, a
//! relay carries the changes one process announces to the others.

use std::sync::{Arc, OnceLock};

use tokio::sync::broadcast;

/// Something that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The tool list changed.
    Tools,
    /// The prompt list changed.
    Prompts,
    /// The resource list changed.
    Resources,
    /// One resource's contents changed.
    ResourceUpdated(Arc<str>),
}

type Relay = Arc<dyn Fn(&Change) + Send + Sync>;

/// A cloneable handle for announcing changes. Announcing with no listener is a no-op.
#[derive(Clone)]
pub struct Notifier {
    tx: broadcast::Sender<Change>,
    /// Where [`Notifier::notify`] also sends a change (the other replicas), shared by clones.
    relay: Arc<OnceLock<Relay>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("relayed", &self.relay.get().is_some()).finish_non_exhaustive()
    }
}

impl Default for Notifier {
    fn default() -> Self {
        Self { tx: broadcast::channel(256).0, relay: Arc::default() }
    }
}

impl Notifier {
    /// Announces a change to this process's clients and, through the relay if one is set, to
    /// every other replica's.
    pub fn notify(&self, change: Change) {
        if let Some(relay) = self.relay.get() {
            relay(&change);
        }
        self.notify_local(change);
    }

    /// Announces a change to this process's clients only: for a change every replica sees for
    /// itself (a reload of the config they all watch, an upstream's announcement) and for one
    /// another replica relayed here.
    pub fn notify_local(&self, change: Change) {
        let _ = self.tx.send(change);
    }

    /// Sends every change announced with [`Notifier::notify`] (on this handle or any clone) to
    /// `relay` as well. Set once; returns whether this call set it.
    pub fn relay_to(&self, relay: impl Fn(&Change) + Send + Sync + 'static) -> bool {
        self.relay.set(Arc::new(relay)).is_ok()
    }

    /// The tool list changed.
    pub fn tools_changed(&self) {
        self.notify(Change::Tools);
    }

    /// The prompt list changed.
    pub fn prompts_changed(&self) {
        self.notify(Change::Prompts);
    }

    /// The resource list changed.
    pub fn resources_changed(&self) {
        self.notify(Change::Resources);
    }

    /// A resource's contents changed.
    pub fn resource_updated(&self, uri: &str) {
        self.notify(Change::ResourceUpdated(uri.into()));
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }
}
