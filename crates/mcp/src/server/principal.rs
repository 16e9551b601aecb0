//! [`Principal`]: who a request acts for. Transports with authentication fill it from
//! credentials; it is never taken from arguments a client or model chose.

use std::sync::Arc;

use switchboard_protocol::JsonObject;

/// The identity a request acts for: an id, roles, and attributes (e.g. `customer_id`).
/// Cheap to clone. The default is the anonymous principal (empty id, no roles).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Principal {
    inner: Arc<Parts>,
}

#[derive(Debug, Default, PartialEq)]
struct Parts {
    id: String,
    roles: Vec<String>,
    attributes: JsonObject,
    /// The toolset the caller came through (`/mcp/<toolset>`), which narrows what it sees.
    toolset: Option<String>,
}

impl Principal {
    /// Nobody in particular: what unauthenticated transports (and stdio's local user, unless
    /// configured) act as.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// A principal with `id`, `roles` and `attributes`.
    pub fn new(id: impl Into<String>, roles: Vec<String>, attributes: JsonObject) -> Self {
        Self { inner: Arc::new(Parts { id: id.into(), roles, attributes, toolset: None }) }
    }

    /// The principal's id (empty when anonymous). State sealed for one principal (MRTR
    /// `requestState`) cannot be opened by another.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Whether this is the anonymous principal.
    pub fn is_anonymous(&self) -> bool {
        self.inner.id.is_empty()
    }

    /// The roles granted.
    pub fn roles(&self) -> &[String] {
        &self.inner.roles
    }

    /// Whether the principal has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.inner.roles.iter().any(|r| r == role)
    }

    /// Attributes from the credentials (claims, key metadata).
    pub fn attributes(&self) -> &JsonObject {
        &self.inner.attributes
    }

    /// The same caller, seeing only the tools of `toolset` (set by the server from the endpoint
    /// it was reached at, never from anything the client sends).
    pub fn with_toolset(&self, toolset: impl Into<String>) -> Self {
        let parts = Parts {
            id: self.inner.id.clone(),
            roles: self.inner.roles.clone(),
            attributes: self.inner.attributes.clone(),
            toolset: Some(toolset.into()),
        };
        Self { inner: Arc::new(parts) }
    }

    /// The toolset that narrows what this caller sees, if any.
    pub fn toolset(&self) -> Option<&str> {
        self.inner.toolset.as_deref()
    }
}
