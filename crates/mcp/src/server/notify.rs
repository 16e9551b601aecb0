//! Change fan-out: application code reports that lists or resources changed, and every listen
//! stream (modern) and legacy session forwards what its client asked for.

use std::sync::Arc;

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

/// A cloneable handle for announcing changes. Announcing with no listener is a no-op.
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: broadcast::Sender<Change>,
}

impl Default for Notifier {
    fn default() -> Self {
        Self { tx: broadcast::channel(256).0 }
    }
}

impl Notifier {
    /// Announces a change.
    pub fn notify(&self, change: Change) {
        let _ = self.tx.send(change);
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
