//! Hot reload: watch a config file and, on each valid change, build a whole new catalog snapshot
//! and swap it in at once; an invalid change is logged with its precise error and the previous
//! snapshot keeps serving. Requests already running finish on the snapshot they started with.
//!
//! With replicas, each watches its own copy of the config. The digest of the file a process
//! serves is a metric (`switchboard_config_info`) and, with Redis, is announced on
//! `<prefix>:config` at start and after each reload: the others look at their own file at once
//! (not at their next poll), and one whose file still differs says so in its log.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use switchboard_mcp::server::{Catalog as Snapshot, CatalogHandle, Change, Notifier};
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
            let me = replica_id();
            let mut seen = modified(&self.path);
            // What the first snapshot was built from.
            let mut served = digest(&self.path);
            let mut warned: Option<String> = None;
            let mut announced = match self.guardrails.redis() {
                Some(redis) => redis.subscribe(redis.key(&["config"])),
                None => tokio::sync::mpsc::channel(1).1,
            };
            self.served(&me, served.as_deref()).await;
            loop {
                let (upstream_changed, elsewhere) = tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(POLL_INTERVAL) => (false, None),
                    _ = self.upstreams.changed() => (true, None),
                    Some(payload) = announced.recv() => match parse_announcement(&payload, &me) {
                        Some(other) if Some(&other) != served.as_ref() => (false, Some(other)),
                        _ => continue,
                    },
                };
                let now = modified(&self.path);
                let current = if now != seen || elsewhere.is_some() { digest(&self.path) } else { served.clone() };
                if now == seen && !upstream_changed && current == served {
                    // Another replica serves a file this one does not have.
                    if let Some(other) = elsewhere.filter(|o| warned.as_ref() != Some(o)) {
                        let (config, this) = (self.path.display(), served.as_deref().unwrap_or("unreadable"));
                        tracing::warn!(target: "switchboard", %config, this_replica = this, another_replica = %other, "replicas serve different config files");
                        warned = Some(other);
                    }
                    continue;
                }
                seen = now;
                let config = self.path.display();
                match self.rebuild().await {
                    Ok(snapshot) => {
                        slot.store(snapshot);
                        // Every replica watches its own config and upstreams, and announces
                        // its own rebuild: nothing to relay.
                        for change in [Change::Tools, Change::Prompts, Change::Resources] {
                            notifier.notify_local(change);
                        }
                        if current != served {
                            served = current;
                            warned = None;
                            self.served(&me, served.as_deref()).await;
                        }
                        let digest = served.as_deref().unwrap_or("unreadable");
                        if upstream_changed {
                            tracing::info!(target: "switchboard", %config, "an upstream's offer changed; catalog rebuilt");
                        } else {
                            tracing::info!(target: "switchboard", %config, digest, "config reloaded");
                        }
                    }
                    Err(e) => {
                        tracing::error!(target: "switchboard", %config, error = %e, "config change rejected; still serving the previous version")
                    }
                }
            }
        });
    }

    /// Records the digest of the file now served, and tells the other replicas.
    async fn served(&self, me: &str, digest: Option<&str>) {
        let Some(digest) = digest else { return };
        self.guardrails.metrics().config_served(digest);
        let Some(redis) = self.guardrails.redis() else { return };
        let (channel, payload) = (redis.key(&["config"]), format!("{me}\n{digest}"));
        let sent = redis
            .run(
                |mut c| async move { redis::cmd("PUBLISH").arg(channel).arg(payload).query_async::<i64>(&mut c).await },
            )
            .await;
        if let Err(e) = sent {
            tracing::warn!(target: "switchboard", error = %e, "could not tell the other replicas which config this one serves");
        }
    }
}

/// The digest another replica announced, unless this process announced it.
fn parse_announcement(payload: &[u8], me: &str) -> Option<String> {
    let text = std::str::from_utf8(payload).ok()?;
    let (origin, digest) = text.split_once('\n')?;
    (origin != me).then(|| digest.to_owned())
}

/// The first 16 hex digits of the SHA-256 of the file's bytes (`None`: unreadable).
fn digest(path: &Path) -> Option<String> {
    use sha2::Digest;
    let bytes = std::fs::read(path).ok()?;
    Some(sha2::Sha256::digest(&bytes)[..8].iter().map(|b| format!("{b:02x}")).collect())
}

/// A random name for this process among the replicas.
fn replica_id() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
