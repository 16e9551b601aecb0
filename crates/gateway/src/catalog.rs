//! Turns a [`Config`] into a served catalog. It only orchestrates: it opens each source
//! (databases, HTTP APIs), then hands every tool, resource, resource template and prompt to the
//! source that serves it (see [`crate::source`]), all onto one SDK `Router`.

use std::collections::BTreeMap;
use std::path::Path;

use switchboard_mcp::server::{Router, RouterError};

use crate::config::{Config, ConfigError, Env, SourceKind, ToolKind};
use crate::source::http::{self, SetupError, Upstream};
use crate::source::native::{NativeTool, NativeTools};
use crate::source::sql::{self, Database, DbError};
use crate::source::upstream::{self, Naming, Upstreams};
use crate::source::{command, prompt, resource, RegisterError};

/// Everything a config serves.
#[derive(Debug)]
pub struct Catalog {
    /// The handlers.
    pub router: Router,
    /// The connected databases, by source name.
    pub databases: BTreeMap<String, Database>,
    /// What is served from upstream MCP servers, and from which.
    pub upstream: crate::access::UpstreamOrigins,
}

/// Why a catalog could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A database could not be reached or initialized.
    #[error(transparent)]
    Database(#[from] DbError),
    /// An HTTP API source or tool could not be set up.
    #[error(transparent)]
    Http(#[from] SetupError),
    /// A definition is invalid.
    #[error("{0}")]
    Invalid(String),
    /// A resource template does not parse, or a tool schema does not compile.
    #[error(transparent)]
    Router(#[from] RouterError),
    /// The `roles:`/`from_principal:` keys do not fit the tools.
    #[error("{0}")]
    Policy(String),
}

impl From<RegisterError> for BuildError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::Invalid(message) => Self::Invalid(message),
            RegisterError::Router(e) => Self::Router(e),
        }
    }
}

impl Catalog {
    /// The snapshot to serve: the tools' schemas compiled, under the config's access policy,
    /// every tool wrapped in `guardrails`' layers.
    pub fn compile(
        self,
        config: &Config,
        guardrails: &crate::policy::Guardrails,
    ) -> Result<switchboard_mcp::server::Catalog, BuildError> {
        let catalog = self.router.build()?;
        let policy = crate::access::policy(config, &catalog, &self.upstream).map_err(BuildError::Policy)?;
        let databases = self.databases.into_values().collect();
        guardrails
            .apply(catalog.with_policy(policy), config, databases, &self.upstream.tools)
            .map_err(BuildError::Policy)
    }
}

/// Connects every source and builds the catalog. `data_dir` holds embedded databases; `natives`
/// are the native tools the config may name; `upstreams` keeps the upstream MCP servers'
/// connections across builds (an upstream that cannot be reached is left out and announced
/// through [`Upstreams::changed`] once it comes up).
pub async fn build(
    config: &Config,
    data_dir: &Path,
    natives: &NativeTools,
    upstreams: &Upstreams,
) -> Result<Catalog, BuildError> {
    let mut databases = BTreeMap::new();
    let mut apis = BTreeMap::new();
    for (name, source) in &config.sources {
        if source.kind == SourceKind::Http {
            apis.insert(name.clone(), Upstream::new(name, source)?);
        } else {
            databases.insert(name.clone(), sql::connect(name, source, data_dir, &config.base_dir).await?);
        }
    }
    let mut router = Router::new();
    for (name, tool) in config.tools.iter() {
        let kind = tool.kind().map_err(|m| BuildError::Invalid(format!("tools.{name}: {m}")))?;
        router = match kind {
            ToolKind::Native(native) => {
                let database = tool.source.as_ref().and_then(|s| databases.get(s)).cloned();
                let native = NativeTool { name, native, config: tool, database };
                natives.register(router, &native).map_err(BuildError::Invalid)?
            }
            ToolKind::Http(spec) => {
                let source = tool.source.as_deref().unwrap_or_default();
                let upstream = apis
                    .get(source)
                    .ok_or_else(|| BuildError::Invalid(format!("tools.{name}: {source:?} is not an http source")))?;
                http::register(router, name, tool, spec, upstream)?
            }
            ToolKind::Command(spec) => command::register(router, config, name, tool, spec)?,
            ToolKind::Sql => sql::register(router, name, tool, &databases)?,
        };
    }
    for r in &config.resources {
        router = resource::register(router, r, config, &databases)?;
    }
    for db in databases.values() {
        router = sql::schema_resource(router, db);
    }
    for t in &config.resource_templates {
        router = sql::resource_template(router, t, &databases)?;
    }
    for (name, p) in config.prompts.iter() {
        router = prompt::register(router, name, p, &databases)?;
    }
    let (mut router, upstream) = add_upstreams(router, config, data_dir, upstreams).await?;
    if config.find_tools {
        if config.tools.contains_key(crate::source::find_tools::NAME) {
            return Err(BuildError::Invalid(format!(
                "find_tools: true adds a tool named {:?}, and tools.{0} exists too",
                crate::source::find_tools::NAME
            )));
        }
        router = crate::source::find_tools::register(router);
    }
    Ok(Catalog { router, databases, upstream })
}

/// Lists every upstream at once (each bounded by its `init_timeout_ms`, so one that is down
/// delays nothing beyond that) and registers what each offers; a served name given twice is
/// an error naming both sides.
async fn add_upstreams(
    mut router: Router,
    config: &Config,
    data_dir: &Path,
    upstreams: &Upstreams,
) -> Result<(Router, crate::access::UpstreamOrigins), BuildError> {
    let running = upstreams.sync(&config.upstreams, &config.base_dir, data_dir);
    let mut origins = crate::access::UpstreamOrigins::default();
    if running.is_empty() {
        return Ok((router, origins));
    }
    let naming = Naming::new(&config.namespacing);
    let listed = futures_util::future::join_all(running.iter().map(|u| u.discovery())).await;
    let mut taken: BTreeMap<String, String> =
        config.tools.keys().map(|name| (name.clone(), format!("tools.{name} of the config"))).collect();
    let mut prompts: BTreeMap<String, String> =
        config.prompts.keys().map(|name| (name.clone(), format!("prompts.{name} of the config"))).collect();
    for (upstream, listed) in running.iter().zip(listed) {
        let discovery = match listed {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(target: "switchboard::upstream", upstream = %upstream.name(), error = %e, "serving without it until it answers");
                continue;
            }
        };
        let (next, offered) = upstream::register(router, upstream, &discovery, &naming)?;
        router = next;
        for (served, from) in upstream::origins(upstream.name(), &offered) {
            if let Some(other) = taken.insert(served.clone(), from.clone()) {
                return Err(BuildError::Invalid(format!(
                    "the tool name {served:?} is offered by both {other} and {from}; give one a prefix, a rename \
                     (upstreams.<name>.tools.<tool>.name) or exclude it"
                )));
            }
            origins.tools.insert(served, upstream.name().to_owned());
        }
        for (served, original) in &offered.prompts {
            let from = format!("upstream {} (its prompt {original:?})", upstream.name());
            if let Some(other) = prompts.insert(served.clone(), from.clone()) {
                return Err(BuildError::Invalid(format!(
                    "the prompt name {served:?} is offered by both {other} and {from}"
                )));
            }
            origins.prompts.insert(served.clone(), upstream.name().to_owned());
        }
        for served in offered.resources {
            origins.resources.insert(served, upstream.name().to_owned());
        }
    }
    Ok((router, origins))
}

/// Starts and lists every upstream of `config` and checks the names they offer against each other
/// and the config's own tools and prompts — what [`build`] does when serving, without connecting
/// any other source (`switchboard config check --upstreams`). Returns each upstream's status; they
/// keep running until [`Upstreams::shutdown`].
pub async fn check_upstreams(
    config: &Config,
    data_dir: &Path,
    upstreams: &Upstreams,
) -> Result<Vec<(String, upstream::Status)>, BuildError> {
    add_upstreams(Router::new(), config, data_dir, upstreams).await?;
    Ok(upstreams.statuses())
}

/// Parses the config (see [`Config::parse`]) and checks what only this machine can tell: the
/// command allow-list's programs and directories. `config check`, `serve` and reloads all come
/// through here, so they refuse the same configs with the same located messages.
pub fn check(text: &str, path: &Path, env: &Env) -> Result<Config, ConfigError> {
    let config = Config::parse(text, path, env)?;
    command::check(&config).map_err(|problem| ConfigError::invalid(text, path, &config.substituted, &problem))?;
    Ok(config)
}
