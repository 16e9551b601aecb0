//! Wiring for `serve`: building servers and running them over a transport until the peer
//! leaves or a signal arrives.

use anyhow::Context;
use switchboard_mcp::server::{Notifier, Server};
use switchboard_mcp::transport::stdio;
use switchboard_mcp::transport::tap::WireLog;
use switchboard_mcp::Limits;

use crate::fixture;

/// The demonstration server (see [`fixture`]).
pub fn demo_server(name: &str, limits: Limits) -> anyhow::Result<Server> {
    let notifier = Notifier::default();
    let router = fixture::router(notifier.clone()).context("building the demonstration tools")?;
    Ok(Server::builder(name, env!("CARGO_PKG_VERSION"))
        .instructions("A demonstration server: every kind of tool, resource and prompt Switchboard supports.")
        .limits(limits)
        .notifier(notifier)
        .router(router)
        .context("compiling tool schemas")?
        .build())
}

/// Serves stdin/stdout until stdin closes or SIGTERM/SIGINT arrives; with `wire_log`, every
/// frame is also appended to that file.
pub async fn serve_stdio(server: &Server, wire_log: Option<&std::path::Path>) -> anyhow::Result<()> {
    let stop = server.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!(target: "switchboard", "shutting down on signal");
        stop.shutdown();
    });
    let (reader, writer) = stdio::stdio(server.limits().max_message_bytes);
    let result = match wire_log {
        Some(path) => {
            let log = WireLog::create(path).with_context(|| format!("creating the wire log {}", path.display()))?;
            server.serve(log.reader(reader), log.writer(writer)).await
        }
        None => server.serve(reader, writer).await,
    };
    result.context("serving stdio")
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
