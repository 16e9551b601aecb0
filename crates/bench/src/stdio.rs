//! The stdio target: one spawned server process, requests pipelined on its stdin (one writer
//! task), replies routed back by id from its stdout (one reader task). Each virtual client keeps
//! one request in flight, so `--connections N` is the pipeline depth.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

use super::args::Era;
use super::message::{self, Failure, Outgoing, INITIALIZED};

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Vec<u8>>>>>;

/// The spawned server and the two pipe tasks.
#[derive(Debug)]
pub(crate) struct StdioServer {
    child: Child,
    conn: StdioConn,
}

/// A handle to send requests through the pipe (cheap to clone: one per virtual client).
#[derive(Debug, Clone)]
pub(crate) struct StdioConn {
    lines: mpsc::Sender<String>,
    pending: Pending,
}

impl StdioServer {
    /// Spawns `argv` (its stderr is discarded) and, in the legacy era, performs the handshake.
    pub(crate) async fn spawn(argv: &[String], era: Era) -> anyhow::Result<Self> {
        let (program, args) = argv.split_first().context("--stdio needs a command")?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        let mut stdin = child.stdin.take().context("the child's stdin")?;
        let stdout = child.stdout.take().context("the child's stdout")?;
        let (lines, mut rx) = mpsc::channel::<String>(1024);
        tokio::spawn(async move {
            while let Some(mut line) = rx.recv().await {
                line.push('\n');
                if stdin.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let routes = Arc::clone(&pending);
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let Some(id) = message::reply_id(line.as_bytes()) else { continue };
                let waiter = routes.lock().ok().and_then(|mut p| p.remove(&id));
                if let Some(tx) = waiter {
                    let _ = tx.send(line.into_bytes());
                }
            }
            // The server is gone: fail everything still waiting.
            if let Ok(mut p) = routes.lock() {
                p.clear();
            }
        });
        let conn = StdioConn { lines, pending };
        // Wait until the server answers before the clock starts (any reply to a ping will do).
        let ping = match era {
            Era::Modern => {
                format!(r#"{{"jsonrpc":"2.0","id":0,"method":"ping","params":{{{}}}}}"#, message::modern_meta())
            }
            Era::Legacy => message::initialize(),
        };
        let ready = conn.round_trip(0, ping).await.map_err(|f| anyhow::anyhow!("{program}: {}", f.detail))?;
        if era == Era::Legacy {
            message::check_initialize(&ready).map_err(|f| anyhow::anyhow!("initialize: {}", f.detail))?;
            conn.lines.send(INITIALIZED.to_owned()).await.context("the server closed its stdin")?;
        }
        Ok(Self { child, conn })
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// A handle for one virtual client.
    pub(crate) fn conn(&self) -> StdioConn {
        self.conn.clone()
    }

    /// Closes stdin (the stdio contract for "stop") and kills the process if it lingers.
    pub(crate) async fn stop(mut self) {
        drop(self.conn);
        let wait = tokio::time::timeout(std::time::Duration::from_secs(2), self.child.wait()).await;
        if wait.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

impl StdioConn {
    /// Sends one request down the pipe and waits for the reply with its id.
    ///
    /// Cancel-safe: dropping the future forgets the request (a late reply is discarded).
    pub(crate) async fn call(&self, out: Outgoing) -> Result<bytes::Bytes, Failure> {
        let id = out.id;
        let result = self.round_trip(id, out.body).await.map(bytes::Bytes::from);
        if result.is_err() {
            self.forget(id);
        }
        result
    }

    /// Drops the waiter for `id` (after a timeout).
    pub(crate) fn forget(&self, id: u64) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&id);
        }
    }

    async fn round_trip(&self, id: u64, body: String) -> Result<Vec<u8>, Failure> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, tx);
        }
        self.lines.send(body).await.map_err(|_| Failure::new("closed", "the server's stdin is closed"))?;
        rx.await.map_err(|_| Failure::new("closed", "the server exited before answering"))
    }
}
