//! `switchboard migrate`: creates or brings up to date every database a config uses — each SQL
//! source (its init scripts, once), the audit log, the agent's conversations — then prints the
//! migrations each database records.

use std::io::Write as _;
use std::sync::Arc;

use anyhow::Context;
use switchboard_gateway::config::SourceKind;
use switchboard_gateway::policy::{audit, Metrics};
use switchboard_gateway::source::sql::{self, Database};

use crate::cli::ConfigAt;

/// Runs `switchboard migrate`.
pub async fn run(at: ConfigAt) -> anyhow::Result<()> {
    let config = crate::config_file::load(&at.config)?;
    let data_dir = crate::config_file::data_dir(&config, at.data_dir.as_deref());
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let mut out = std::io::stdout().lock();
    for (name, source) in config.sources.iter().filter(|(_, s)| s.kind != SourceKind::Http) {
        let db = sql::connect(name, source, &data_dir, &config.base_dir)
            .await
            .with_context(|| format!("migrating source {name}"))?;
        print_records(&mut out, &format!("source {name}"), &format!("source:{name}"), &db).await?;
    }
    if config.audit.is_enabled() {
        let log = audit::AuditLog::open(&config.audit, &data_dir, Arc::new(Metrics::new()))
            .await
            .context("migrating the audit log")?;
        print_records(&mut out, "audit log", "audit", log.database()).await?;
        log.close(std::time::Duration::from_secs(1)).await;
    }
    if let Some(agent) = &config.agent {
        let url = crate::agents::conversations_url(agent, &data_dir);
        switchboard_agent::store::ConversationStore::open(&url)
            .await
            .context("migrating the agent's conversation store")?;
        writeln!(out, "conversations: up to date")?;
    }
    Ok(())
}

/// Prints `component`'s recorded migrations (a database shared by several components holds
/// the others' records too).
async fn print_records(
    out: &mut impl std::io::Write,
    what: &str,
    component: &str,
    db: &Database,
) -> anyhow::Result<()> {
    let records = db.migrations().await.with_context(|| format!("reading the migrations of {what}"))?;
    writeln!(out, "{what}: up to date")?;
    for r in records.iter().filter(|r| r.component == component) {
        let how = if r.adopted { "recorded (the database already had tables)" } else { "applied" };
        writeln!(out, "  {} v{} {}: {how} at {}", r.component, r.version, r.name, r.applied_at)?;
    }
    Ok(())
}
