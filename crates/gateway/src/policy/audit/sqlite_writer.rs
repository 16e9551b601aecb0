//! The SQLite audit writer: one thread of its own with one connection and a prepared insert,
//! a transaction per batch. No hand-off to another thread per batch and no statement text
//! built per batch — this is what keeps the audit log's cost per call small.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::row::{AuditRow, COLUMN_NAMES};
use super::{Rows, BATCH, LINGER, MAX_BACKOFF};
use crate::policy::metrics::Metrics;

/// Starts the writer thread for the database at `path`; the returned receiver fires when every
/// row queued before the order to close has been written.
pub(super) fn start(path: PathBuf, rows: Rows, metrics: Arc<Metrics>) -> std::io::Result<oneshot::Receiver<()>> {
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new().name("audit-writer".into()).spawn(move || {
        run(&path, rows, &metrics);
        let _ = done_tx.send(());
    })?;
    Ok(done_rx)
}

fn run(path: &std::path::Path, mut rows: Rows, metrics: &Metrics) {
    let mut conn: Option<rusqlite::Connection> = None;
    let mut batch = Vec::with_capacity(BATCH);
    while rows.next_blocking(&mut batch) {
        if batch.len() < BATCH / 4 && !rows.closing() {
            // Let a small batch fill for a moment: a commit per handful of rows is what costs
            // most. Callers do not wait for this; only their rows do.
            std::thread::sleep(LINGER);
            rows.fill(&mut batch);
        }
        metrics.audit_queued(i64::try_from(rows.len()).unwrap_or(i64::MAX));
        let mut backoff = Duration::from_millis(100);
        loop {
            let written = match &mut conn {
                Some(c) => write(c, &batch),
                None => open(path).and_then(|mut c| {
                    let r = write(&mut c, &batch);
                    conn = Some(c);
                    r
                }),
            };
            match written {
                Ok(()) => break,
                Err(e) => {
                    metrics.audit_write_failed();
                    tracing::warn!(target: "switchboard::audit", error = %e, rows = batch.len(), queued = rows.len(), "audit rows not written yet; retrying");
                    // A fresh connection next time: the file may have been replaced or fixed.
                    conn = None;
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        rows.written();
        batch.clear();
    }
}

fn open(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // The same settings the migration chose: WAL is a property of the file, sync of the connection.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

fn write(conn: &mut rusqlite::Connection, rows: &[AuditRow]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let placeholders = vec!["?"; COLUMN_NAMES.len()].join(", ");
        let mut insert = tx
            .prepare_cached(&format!("INSERT INTO tool_calls ({}) VALUES ({placeholders})", COLUMN_NAMES.join(", ")))?;
        for row in rows {
            let c = row.columns();
            insert.execute(rusqlite::params![
                c.id,
                c.at,
                c.principal,
                c.request_id,
                c.correlation_id,
                c.trace_id,
                c.tool,
                c.arguments,
                c.outcome,
                c.error_kind,
                c.duration_ms,
                c.result_bytes,
            ])?;
        }
    }
    tx.commit()
}
