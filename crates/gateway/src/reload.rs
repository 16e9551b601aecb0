//! Hot reload: watch a config file and, on each valid change, build a whole new catalog snapshot
//! and swap it in at once; an invalid change is logged with its precise error and the previous
//! snapshot keeps serving. Requests already running finish on the snapshot they started with.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use switchboard_mcp::server::{Catalog as Snapshot, CatalogHandle, Notifier};
use tokio_util::sync::CancellationToken;

use crate::catalog::{build, BuildError};
use crate::config::{Config, ConfigError};
use crate::source::native::NativeTools;

/// How often the file's modification time is checked.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Why a changed config was not swapped in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The file does not read, parse or validate.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Its sources could not be opened or its definitions are invalid.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A tool schema does not compile.
    #[error("compiling tool schemas: {0}")]
    Schemas(#[from] switchboard_mcp::server::RouterError),
}

/// What a reload needs: where the config is, how to read it (the caller owns file and
/// environment access), and what it builds into.
#[derive(Debug, Clone)]
pub struct Watch {
    /// The config file.
    pub path: PathBuf,
    /// Where embedded databases live.
    pub data_dir: PathBuf,
    /// Reads, interpolates and checks the config at a path.
    pub load: fn(&Path) -> Result<Config, ConfigError>,
    /// The native tools configs may name.
    pub natives: NativeTools,
    /// The guardrails each new snapshot's tools are wrapped in (shared with the first one).
    pub guardrails: std::sync::Arc<crate::policy::Guardrails>,
    /// The upstream MCP servers' connections (shared with the first snapshot); a change an
    /// upstream announces rebuilds the snapshot too.
    pub upstreams: crate::Upstreams,
}

impl Watch {
    /// Builds a fresh snapshot from the file as it is now.
    pub async fn rebuild(&self) -> Result<Snapshot, ReloadError> {
        let config = (self.load)(&self.path)?;
        let catalog = build(&config, &self.data_dir, &self.natives, &self.upstreams).await?;
        Ok(catalog.compile(&config, &self.guardrails)?)
    }

    /// Polls the file until `stop` fires; each valid change, and each change an upstream
    /// announces, is stored in `slot` and announced through `notifier`.
    pub fn spawn(self, slot: CatalogHandle, notifier: Notifier, stop: CancellationToken) {
        tokio::spawn(async move {
            let mut seen = modified(&self.path);
            loop {
                let upstream_changed = tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(POLL_INTERVAL) => false,
                    _ = self.upstreams.changed() => true,
                };
                let now = modified(&self.path);
                if now == seen && !upstream_changed {
                    continue;
                }
                seen = now;
                let config = self.path.display();
                match self.rebuild().await {
                    Ok(snapshot) => {
                        slot.store(snapshot);
                        notifier.tools_changed();
                        notifier.prompts_changed();
                        notifier.resources_changed();
                        if upstream_changed {
                            tracing::info!(target: "switchboard", %config, "an upstream's offer changed; catalog rebuilt");
                        } else {
                            tracing::info!(target: "switchboard", %config, "config reloaded");
                        }
                    }
                    Err(e) => {
                        tracing::error!(target: "switchboard", %config, error = %e, "config change rejected; still serving the previous version")
                    }
                }
            }
        });
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
