//! The TCP side: an accept loop that sets `TCP_NODELAY` (without it a multi-write SSE answer
//! stalls ~40 ms under load), bounds header size and the time a client may take to send its
//! headers (slowloris), caps open connections, and shuts down gracefully: stop accepting, let
//! in-flight requests finish within a deadline, then drop what is left.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

/// Limits of the listener. Every field has a default.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ListenerConfig {
    /// How long a client may take to send a request's headers (including the first one after
    /// connecting, so idle connections are closed). Default 10 s.
    pub header_read_timeout: Duration,
    /// The largest request head (request line + headers). Default 64 KiB (at least 8 KiB).
    pub max_header_bytes: usize,
    /// How many connections may be open at once; more are closed on accept. Default 10 000.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests. Default 10 s.
    pub shutdown_grace: Duration,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_connections: 10_000,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl ListenerConfig {
    /// Sets the header read timeout.
    pub fn with_header_read_timeout(mut self, d: Duration) -> Self {
        self.header_read_timeout = d;
        self
    }

    /// Sets the shutdown grace period.
    pub fn with_shutdown_grace(mut self, d: Duration) -> Self {
        self.shutdown_grace = d;
        self
    }

    /// Sets the connection cap.
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then shuts down gracefully.
/// Not cancel-safe: drop it only to abandon every connection at once.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: ListenerConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // Connections watch this to shut down gracefully; the slots tell when all have ended.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let slots = Arc::new(Semaphore::new(config.max_connections));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(target: "switchboard::http", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            debug!(target: "switchboard::http", %peer, "connection refused: too many open connections");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .max_buf_size(config.max_header_bytes.max(8192))
            .keep_alive(true);
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone())).with_upgrades();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let result = tokio::select! {
                r = connection.as_mut() => r,
                _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                debug!(target: "switchboard::http", %peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    info!(target: "switchboard::http", "no longer accepting; waiting for in-flight requests");
    let _ = stop_tx.send(true);
    let all = u32::try_from(config.max_connections).unwrap_or(u32::MAX);
    tokio::select! {
        _ = slots.acquire_many(all) => {}
        _ = tokio::time::sleep(config.shutdown_grace) => {
            warn!(target: "switchboard::http", "shutdown grace period over; dropping the remaining connections");
        }
    }
    Ok(())
}
