//! Native tools: Rust tools a config names with `native: <name>`. The gateway knows none by
//! itself: whoever builds the catalog passes a [`NativeTools`] registry (the binary registers the
//! ones it ships), and a config naming a tool that is not registered is refused when the catalog
//! is built.

use std::collections::BTreeMap;
use std::sync::Arc;

use switchboard_mcp::server::Router;

use crate::config;
use crate::source::sql::Database;

/// What a native tool's constructor is given.
#[derive(Debug)]
#[non_exhaustive]
pub struct NativeTool<'a> {
    /// The tool's name in the catalog (its key under `tools:`).
    pub name: &'a str,
    /// The registered name it was chosen by (`native: <name>`).
    pub native: &'a str,
    /// Its config entry (description, title, params, ...).
    pub config: &'a config::Tool,
    /// The database its `source` names, if it names one.
    pub database: Option<Database>,
}

impl NativeTool<'_> {
    /// The tool's database, or a message saying that the tool needs a `source`.
    pub fn database(&self) -> Result<Database, String> {
        self.database.clone().ok_or_else(|| format!("tools.{}: native tool {} needs `source`", self.name, self.native))
    }
}

/// A native tool's constructor: registers the tool on the router, or says why it cannot.
type Constructor = dyn Fn(Router, &NativeTool<'_>) -> Result<Router, String> + Send + Sync;

/// The native tools a config may name, by name.
#[derive(Clone, Default)]
pub struct NativeTools {
    constructors: BTreeMap<String, Arc<Constructor>>,
}

impl std::fmt::Debug for NativeTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.constructors.keys()).finish()
    }
}

impl NativeTools {
    /// An empty registry: a config that names a native tool fails to build.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the native tool `native`.
    pub fn with(
        mut self,
        native: impl Into<String>,
        constructor: impl Fn(Router, &NativeTool<'_>) -> Result<Router, String> + Send + Sync + 'static,
    ) -> Self {
        self.constructors.insert(native.into(), Arc::new(constructor));
        self
    }

    /// Adds every tool of `other` (replacing same-named ones).
    pub fn merge(mut self, other: NativeTools) -> Self {
        self.constructors.extend(other.constructors);
        self
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.constructors.keys().map(String::as_str)
    }

    /// Registers `tool` on `router` with the constructor its `native` name picks.
    pub fn register(&self, router: Router, tool: &NativeTool<'_>) -> Result<Router, String> {
        match self.constructors.get(tool.native) {
            Some(constructor) => constructor(router, tool),
            None => {
                let known: Vec<&str> = self.names().collect();
                let known = if known.is_empty() { "none are registered".to_owned() } else { known.join(", ") };
                Err(format!("tools.{}: unknown native tool {:?} (known: {known})", tool.name, tool.native))
            }
        }
    }
}
