//! `switchboard audit tail|query`: reads the `tool_calls` table of a config's audit database
//! and prints one JSON object per row, newest first.

use std::io::Write as _;

use anyhow::Context;
use switchboard_gateway::policy::{audit, AuditQuery, Metrics};

use crate::cli::{AuditCommand, ConfigAt};

/// Runs an `audit` subcommand.
pub async fn run(command: AuditCommand) -> anyhow::Result<()> {
    let (at, query) = match command {
        AuditCommand::Tail { at, lines } => (at, AuditQuery { limit: lines, ..AuditQuery::default() }),
        AuditCommand::Query { at, tool, principal, request_id, since, limit } => {
            (at, AuditQuery { tool, principal, correlation_id: request_id, since, limit })
        }
    };
    let ConfigAt { config: path, data_dir } = at;
    let config = crate::config_file::load(&path)?;
    if !config.audit.is_enabled() {
        anyhow::bail!("{}: audit.enabled is false; this server keeps no audit log", path.display());
    }
    let data_dir = crate::config_file::data_dir(&config, data_dir.as_deref());
    let log = audit::AuditLog::open(&config.audit, &data_dir, std::sync::Arc::new(Metrics::new()))
        .await
        .context("opening the audit log")?;
    let rows = audit::query(log.database(), &query).await.context("reading the audit log")?;
    let mut out = std::io::stdout().lock();
    for row in rows {
        // A closed pipe (`| head`) ends the listing, not an error.
        if writeln!(out, "{}", serde_json::Value::Object(row)).is_err() {
            break;
        }
    }
    log.close(std::time::Duration::from_secs(1)).await;
    Ok(())
}
