//! Running one command: its own process group, a cleared environment, stdout and stderr read
//! under a byte cap, and the whole group killed on timeout or when the call is cancelled.
//!
//! The group is only signalled while its ID is known to be ours: before the leader is reaped
//! (it cannot be reused while the leader is a zombie), or while the output pipes are still held
//! open after the leader exited (then some member is alive, and keeps the ID in use).

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use crate::config::Secret;

/// How long output may keep flowing after the program exits (from children it left behind)
/// before the rest of its group is killed.
const LINGER: Duration = Duration::from_millis(250);
/// How long to wait for the pipes to close once the group is killed.
const AFTER_KILL: Duration = Duration::from_millis(500);

/// What a command needs besides its argv.
#[derive(Debug)]
pub(super) struct Spec<'a> {
    pub(super) program: &'a Path,
    pub(super) cwd: &'a Path,
    pub(super) env: &'a [(String, Secret)],
    pub(super) timeout: Duration,
    pub(super) max_output: usize,
}

/// What a command did.
#[derive(Debug)]
pub(super) struct Outcome {
    pub(super) status: ExitStatus,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
    pub(super) truncated: bool,
    pub(super) timed_out: bool,
}

/// Runs `spec.program` with `argv` to completion, timeout or cancellation (dropping the future
/// kills the process group).
pub(super) async fn run(spec: &Spec<'_>, argv: &[String]) -> std::io::Result<Outcome> {
    let mut command = tokio::process::Command::new(spec.program);
    command.args(argv).current_dir(spec.cwd).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command
        .envs(spec.env.iter().map(|(k, v)| (k, v.expose())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command.spawn()?;
    // The leader's PID is the group's ID (`process_group(0)`).
    let group_id = child.id();
    let mut group = Group(group_id);
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let (mut out, mut err) = (Capture::new(spec.max_output), Capture::new(spec.max_output));
    let deadline = Instant::now() + spec.timeout;
    let mut status = None;
    let mut timed_out = false;
    {
        let pump = async { tokio::join!(out.fill(stdout.as_mut()), err.fill(stderr.as_mut())) };
        tokio::pin!(pump);
        let mut pumped = false;
        // Until the program exits or time is up, read its output as it comes.
        while status.is_none() {
            tokio::select! {
                s = child.wait() => {
                    status = Some(s?);
                    // Reaped: from here the group is only signalled while its pipes prove it alive.
                    group.0 = None;
                }
                _ = &mut pump, if !pumped => pumped = true,
                _ = tokio::time::sleep_until(deadline) => {
                    timed_out = true;
                    break;
                }
            }
        }
        if timed_out {
            group.kill();
            status = Some(child.wait().await?);
            group.0 = None;
        } else if !pumped {
            // The program exited, but something it started still holds its output open.
            let linger = deadline.min(Instant::now() + LINGER);
            if tokio::time::timeout_at(linger, &mut pump).await.is_ok() {
                pumped = true;
            } else {
                kill_group(group_id);
            }
        }
        if !pumped {
            let _ = tokio::time::timeout(AFTER_KILL, &mut pump).await;
        }
    }
    let status = match status {
        Some(s) => s,
        None => child.wait().await?,
    };
    Ok(Outcome { status, truncated: out.dropped || err.dropped, stdout: out.kept, stderr: err.kept, timed_out })
}

/// Sends SIGKILL to the process group `id`.
fn kill_group(id: Option<u32>) {
    #[cfg(unix)]
    if let Some(id) = id.and_then(|id| i32::try_from(id).ok()) {
        // ESRCH (already gone) is the only expected failure, and harmless.
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(id), nix::sys::signal::Signal::SIGKILL);
    }
    #[cfg(not(unix))]
    let _ = id;
}

/// The process group, killed when this is dropped (a cancelled call) while it is `Some`.
struct Group(Option<u32>);

impl Group {
    fn kill(&self) {
        kill_group(self.0);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Output kept up to a cap; the rest is read and dropped, so the program never blocks on a full
/// pipe.
struct Capture {
    kept: Vec<u8>,
    cap: usize,
    dropped: bool,
}

impl Capture {
    fn new(cap: usize) -> Self {
        Self { kept: Vec::new(), cap, dropped: false }
    }

    /// Reads `reader` to its end. Cancel-safe: what was read so far stays in `kept`.
    async fn fill(&mut self, reader: Option<&mut (impl AsyncRead + Unpin)>) {
        let Some(reader) = reader else { return };
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let take = n.min(self.cap - self.kept.len());
                    self.kept.extend_from_slice(&buf[..take]);
                    self.dropped |= take < n;
                }
            }
        }
    }
}
