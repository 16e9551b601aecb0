//! A server run as a child process speaking newline-delimited JSON-RPC on stdin/stdout.
//!
//! The child gets its own process group so that everything it spawns (an `npx` wrapper's node,
//! a shell's children) is stopped with it: close stdin → wait → SIGTERM to the group → wait →
//! SIGKILL. Its stderr is read into our logs (never inherited) and its last lines are kept to
//! explain a crash. With a [`RestartPolicy`], a dead server is started again on the next call.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use super::channel::{Channel, Outgoing};
use super::inbound::Inbound;
use super::stream::{StreamConnection, WhyClosed};
use super::ClientError;
use crate::transport::stdio::{LineReader, LineWriter};
use crate::transport::{FrameReader, ReadFrame};

/// How long a server has to exit by itself once its stdin is closed, and again after SIGTERM.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How many stderr lines are kept to explain a crash.
const STDERR_TAIL: usize = 20;

/// A server to launch.
#[derive(Debug, Clone)]
pub struct StdioTarget {
    /// The program.
    pub command: String,
    /// Its arguments (no shell is involved).
    pub args: Vec<String>,
    /// Extra environment variables (the rest is inherited).
    pub env: Vec<(String, String)>,
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// The name used in logs and errors (default: the program's file name).
    pub name: Option<String>,
    /// Start the server again when it dies.
    pub restart: Option<RestartPolicy>,
    /// The largest message accepted from the server.
    pub max_message_bytes: usize,
}

impl StdioTarget {
    /// A program with arguments.
    pub fn new(command: impl Into<String>, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            command: command.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            cwd: None,
            name: None,
            restart: None,
            max_message_bytes: 16 * 1024 * 1024,
        }
    }

    /// Splits a command line the way a POSIX shell would (quotes and backslashes), without
    /// running a shell.
    pub fn parse(command_line: &str) -> Result<Self, String> {
        let words = shell_words(command_line)?;
        let (command, args) = words.split_first().ok_or("the command line is empty")?;
        Ok(Self::new(command.clone(), args.iter().cloned()))
    }

    fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            let program = std::path::Path::new(&self.command)
                .file_name()
                .map_or_else(|| self.command.clone(), |n| n.to_string_lossy().into_owned());
            match self.args.first() {
                Some(first) if matches!(program.as_str(), "npx" | "node" | "python" | "python3" | "uvx" | "uv") => {
                    format!("{program} {first}")
                }
                _ => program,
            }
        })
    }
}

/// When and how often a dead server is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Restarts allowed within [`RestartPolicy::window`] before giving up.
    pub max_restarts: u32,
    /// The period over which restarts are counted.
    pub window: Duration,
    /// The wait before the first restart; doubled for each further one in the window.
    pub initial_backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_restarts: 5,
            window: Duration::from_secs(60),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Asks the kernel to SIGKILL the server when this process dies, however it dies (a SIGKILL of
/// ours included, when no cleanup of ours can run). Its own children see their stdin close.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    let parent = nix::unistd::getpid();
    #[allow(unsafe_code)]
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // calls are allowed: prctl(2) and getppid(2) are system calls that allocate nothing and
    // take no lock.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)?;
            // The parent may have died between fork and prctl: then nobody would send it.
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::other("the parent exited while the server was starting"));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut Command) {}

/// The group leader while it is unreaped. An unreaped leader (running or a zombie) keeps its pid,
/// and so the group's id, from being given to another process: signalling the group is safe
/// exactly while this holds a child. Once the leader is reaped the group is never signalled again.
type Leader = Arc<Mutex<Option<tokio::process::Child>>>;

/// One running child process.
struct Process {
    pgid: i32,
    leader: Leader,
    /// Set once we start stopping it, so an exit before that is reported as unexpected.
    stopping: Arc<std::sync::atomic::AtomicBool>,
    exit: watch::Receiver<Option<ExitStatus>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl Process {
    fn spawn(target: &StdioTarget, server: &str) -> Result<(Self, LineReaderOf, LineWriterOf), ClientError> {
        let mut cmd = Command::new(&target.command);
        cmd.args(&target.args)
            .envs(target.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &target.cwd {
            cmd.current_dir(dir);
        }
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| ClientError::Connect {
            server: server.to_owned(),
            reason: format!("cannot start {:?}: {e}", target.command),
        })?;
        let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ClientError::Connect {
                server: server.to_owned(),
                reason: "the child's pipes are missing".into(),
            });
        };
        let stderr_tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
        let tail = stderr_tail.clone();
        let name = server.to_owned();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::info!(target: "switchboard::client::stderr", server = %name, "{line}");
                let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        let (exit_tx, exit) = watch::channel(None);
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let leader: Leader = Arc::new(Mutex::new(Some(child)));
        let watcher = LeaderWatcher {
            pid,
            leader: leader.clone(),
            expected: stopping.clone(),
            server: server.to_owned(),
            exit: exit_tx,
        };
        // A thread, not a task: `waitid` blocks, and a detached thread never holds up a runtime's
        // shutdown (the child's kill-on-drop ends the wait then anyway).
        std::thread::Builder::new()
            .name(format!("stdio-wait-{pid}"))
            .stack_size(256 * 1024)
            .spawn(move || watcher.run())
            .map_err(|e| ClientError::Connect {
                server: server.to_owned(),
                reason: format!("cannot start the thread that waits for the server: {e}"),
            })?;
        let reader = DrainingReader::spawn(LineReader::new(BufReader::new(stdout), target.max_message_bytes));
        let writer = LineWriter::new(stdin);
        Ok((Self { pgid: pid, leader, stopping, exit, stderr_tail }, reader, writer))
    }

    fn exited(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    async fn wait_exit(&self, within: Duration) -> Option<ExitStatus> {
        let mut exit = self.exit.clone();
        let waited = tokio::time::timeout(within, exit.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(status)) => *status,
            _ => None,
        }
    }

    /// Signals the whole group, only while the leader is unreaped (see [`Leader`]); the lock is
    /// held across the signal so the leader cannot be reaped in between.
    fn signal_group(&self, signal: Signal) -> bool {
        let leader = self.leader.lock().unwrap_or_else(|p| p.into_inner());
        leader.is_some() && self.pgid > 0 && killpg(Pid::from_raw(self.pgid), signal).is_ok()
    }

    /// Whether processes the leader left behind are still running in its group.
    fn stragglers_alive(&self) -> bool {
        self.leader.lock().unwrap_or_else(|p| p.into_inner()).is_some() && group_has_others(self.pgid)
    }

    /// Marks the exit that follows as expected.
    fn stopping(&self) {
        self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops the process group after stdin was closed.
    async fn stop(&self) {
        self.stopping();
        if self.wait_exit(EXIT_GRACE).await.is_none() {
            self.signal_group(Signal::SIGTERM);
            if self.wait_exit(EXIT_GRACE).await.is_none() {
                self.signal_group(Signal::SIGKILL);
                self.wait_exit(EXIT_GRACE).await;
            }
        }
        // The leader is gone; stragglers it left in the group go too. Its zombie was kept for
        // this, so the group id is still ours to signal.
        if self.stragglers_alive() {
            self.signal_group(Signal::SIGTERM);
            let deadline = Instant::now() + EXIT_GRACE;
            while self.stragglers_alive() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if self.stragglers_alive() {
                self.signal_group(Signal::SIGKILL);
                let deadline = Instant::now() + EXIT_GRACE;
                while self.stragglers_alive() && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        if self.exited().is_some() {
            reap(&self.leader);
        }
    }

    /// Why the process's connection ended: its exit status and last stderr line.
    fn why_closed(&self) -> WhyClosed {
        let exit = self.exit.clone();
        let tail = self.stderr_tail.clone();
        Arc::new(move || {
            let mut exit = exit.clone();
            let tail = tail.clone();
            Box::pin(async move {
                // Stdout closes a moment before the exit is reaped.
                let status =
                    match tokio::time::timeout(Duration::from_millis(500), exit.wait_for(Option::is_some)).await {
                        Ok(Ok(s)) => *s,
                        _ => None,
                    };
                let mut reason = match status {
                    Some(s) => format!("the server process exited ({})", describe_status(s)),
                    None => "the server closed its output".to_owned(),
                };
                let tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(last) = tail.iter().rev().find(|l| !l.trim().is_empty()) {
                    reason.push_str(&format!("; last stderr line: {}", last.trim()));
                }
                reason
            })
        })
    }
}

type LineReaderOf = DrainingReader;

/// Reads the child's stdout in a task of its own that keeps draining it after the connection
/// stops listening, so a server still writing while it shuts down never gets EPIPE.
pub(crate) struct DrainingReader {
    frames: tokio::sync::mpsc::Receiver<std::io::Result<Option<ReadFrame>>>,
}

impl DrainingReader {
    fn spawn<R: FrameReader>(mut inner: R) -> Self {
        let (tx, frames) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let mut listening = true;
            loop {
                let frame = inner.read_frame().await;
                let end = !matches!(frame, Ok(Some(_)));
                if listening && tx.send(frame).await.is_err() {
                    listening = false;
                }
                if end {
                    return;
                }
            }
        });
        Self { frames }
    }
}

impl FrameReader for DrainingReader {
    async fn read_frame(&mut self) -> std::io::Result<Option<ReadFrame>> {
        self.frames.recv().await.unwrap_or(Ok(None))
    }
}
type LineWriterOf = LineWriter<tokio::process::ChildStdin>;

/// Waits on its own thread for the group leader to exit, without reaping it, then reaps it at
/// once unless it left processes running in its group: those keep the zombie (and so the group
/// id) until [`Process::stop`] has ended them.
struct LeaderWatcher {
    pid: i32,
    leader: Leader,
    expected: Arc<std::sync::atomic::AtomicBool>,
    server: String,
    exit: watch::Sender<Option<ExitStatus>>,
}

impl LeaderWatcher {
    fn run(self) {
        let status = loop {
            match waitid(Id::Pid(Pid::from_raw(self.pid)), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
                Ok(status) => break exit_status_of(status),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    // Not our child any more (reaped by the child's own drop): nothing to keep.
                    tracing::debug!(target: "switchboard::client", server = %self.server, error = %e, "waiting for the server failed");
                    break exit_status_unknown();
                }
            }
        };
        let server = &self.server;
        if self.expected.load(std::sync::atomic::Ordering::SeqCst) {
            tracing::debug!(target: "switchboard::client", server = %server, status = %describe_status(status), "server exited");
        } else {
            tracing::warn!(target: "switchboard::client", server = %server, status = %describe_status(status), "the server exited unexpectedly");
        }
        if group_has_others(self.pid) {
            tracing::debug!(target: "switchboard::client", server = %server, "the server left processes in its group; they are stopped with it");
        } else {
            // Nothing else is in the group and nothing can join it: reap now, signal never again.
            reap(&self.leader);
        }
        let _ = self.exit.send(Some(status));
    }
}

/// Reaps an exited leader through its `Child` (never a raw `waitpid`, so the child's own drop
/// cannot later signal a pid that was reaped behind its back).
fn reap(leader: &Leader) {
    let mut slot = leader.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(child) = slot.as_mut() {
        if !matches!(child.try_wait(), Ok(None)) {
            *slot = None;
        }
    }
}

fn exit_status_of(status: WaitStatus) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match status {
        WaitStatus::Exited(_, code) => ExitStatus::from_raw((code & 0xff) << 8),
        WaitStatus::Signaled(_, sig, core) => ExitStatus::from_raw(sig as i32 | if core { 0x80 } else { 0 }),
        _ => exit_status_unknown(),
    }
}

/// Whether a live process other than the leader is in process group `pgid` (read from `/proc`;
/// zombies count as gone: they cannot run, and their own parent reaps them).
fn group_has_others(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else { return false };
    entries.flatten().any(|entry| {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { return false };
        if pid == pgid {
            return false;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { return false };
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else { return false };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
        pgrp == Some(pgid) && state != "Z" && state != "X"
    })
}

fn exit_status_unknown() -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    ExitStatus::from_raw(0)
}

/// `exit status 3`, `killed by signal 9 (SIGKILL)`.
fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => match Signal::try_from(sig) {
            Ok(s) => format!("killed by signal {sig} ({s})"),
            Err(_) => format!("killed by signal {sig}"),
        },
        _ => status.to_string(),
    }
}

/// The live pair: the child and the engine loop over its pipes.
struct Live {
    process: Process,
    conn: StreamConnection,
}

/// The channel to a child process.
pub(crate) struct StdioChannel {
    target: StdioTarget,
    server: String,
    inbound: Arc<Inbound>,
    live: tokio::sync::RwLock<Option<Arc<Live>>>,
    restarts: Mutex<VecDeque<Instant>>,
}

impl StdioChannel {
    pub(crate) async fn spawn(target: StdioTarget, inbound: Arc<Inbound>) -> Result<Self, ClientError> {
        let server = target.display_name();
        let live = Self::start(&target, &server, &inbound).await?;
        Ok(Self {
            target,
            server,
            inbound,
            live: tokio::sync::RwLock::new(Some(Arc::new(live))),
            restarts: Mutex::new(VecDeque::new()),
        })
    }

    async fn start(target: &StdioTarget, server: &str, inbound: &Arc<Inbound>) -> Result<Live, ClientError> {
        let (process, reader, writer) = Process::spawn(target, server)?;
        let why = process.why_closed();
        let conn =
            StreamConnection::start(server.to_owned(), reader, writer, inbound.clone(), target.max_message_bytes, why)
                .await;
        Ok(Live { process, conn })
    }

    async fn live(&self) -> Result<Arc<Live>, ClientError> {
        match &*self.live.read().await {
            Some(live) => Ok(live.clone()),
            None => Err(ClientError::Disconnected {
                server: self.server.clone(),
                reason: "the connection was closed".into(),
            }),
        }
    }
}

impl Channel for StdioChannel {
    fn server(&self) -> &str {
        &self.server
    }

    fn request(&self, out: Outgoing) -> BoxFuture<'_, Result<Value, ClientError>> {
        Box::pin(async move {
            let live = self.live().await?;
            if let Some(status) = live.process.exited() {
                let reason = format!("the server process exited ({})", describe_status(status));
                return Err(ClientError::Disconnected { server: self.server.clone(), reason });
            }
            live.conn.request(out).await
        })
    }

    fn notify(
        &self,
        method: &str,
        params: Value,
        _headers: Vec<(String, String)>,
    ) -> BoxFuture<'_, Result<(), ClientError>> {
        let method = method.to_owned();
        Box::pin(async move { self.live().await?.conn.notify(&method, params).await })
    }

    fn can_reconnect(&self) -> bool {
        self.target.restart.is_some()
    }

    fn reconnect(&self) -> BoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async move {
            let Some(policy) = self.target.restart else {
                return Err(ClientError::Disconnected { server: self.server.clone(), reason: "restart is off".into() });
            };
            let mut slot = self.live.write().await;
            if let Some(old) = slot.as_ref() {
                if old.process.exited().is_none() {
                    return Ok(()); // Another caller restarted it already.
                }
                old.conn.close().await;
                old.process.stop().await;
            }
            let attempt = {
                let mut restarts = self.restarts.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                restarts.retain(|t| now.duration_since(*t) < policy.window);
                if restarts.len() as u32 >= policy.max_restarts {
                    return Err(ClientError::Disconnected {
                        server: self.server.clone(),
                        reason: format!(
                            "the server died {} times within {:?}; not restarting",
                            restarts.len(),
                            policy.window
                        ),
                    });
                }
                restarts.push_back(now);
                restarts.len() as u32 - 1
            };
            let backoff = policy.initial_backoff.saturating_mul(1 << attempt.min(16)).min(policy.max_backoff);
            tracing::warn!(target: "switchboard::client", server = %self.server, ?backoff, "server died; restarting");
            tokio::time::sleep(backoff).await;
            let live = Self::start(&self.target, &self.server, &self.inbound).await?;
            *slot = Some(Arc::new(live));
            Ok(())
        })
    }

    fn era_key(&self) -> String {
        format!("stdio:{} {}", self.target.command, self.target.args.join(" "))
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let live = self.live.write().await.take();
            if let Some(live) = live {
                live.process.stopping();
                live.conn.close().await;
                live.process.stop().await;
            }
        })
    }
}

impl Drop for StdioChannel {
    fn drop(&mut self) {
        // A client dropped without `close()`: the group still must not outlive us.
        if let Ok(mut slot) = self.live.try_write() {
            if let Some(live) = slot.take() {
                match tokio::runtime::Handle::try_current() {
                    // The whole stop (stragglers included, then the reap) in the background.
                    Ok(runtime) => {
                        runtime.spawn(async move {
                            live.process.stopping();
                            live.conn.close().await;
                            live.process.stop().await;
                        });
                    }
                    Err(_) => {
                        live.process.signal_group(Signal::SIGTERM);
                    }
                }
            }
        }
    }
}

/// POSIX-shell-like word splitting (the `shell-words` crate): whitespace separates words; single
/// quotes keep everything; double quotes keep everything but `\"`, `\\`, `\$` and `` \` ``; a
/// backslash outside quotes escapes the next character; a `#` that starts a word starts a comment.
/// Nothing is expanded and no shell runs.
pub fn shell_words(line: &str) -> Result<Vec<String>, String> {
    ::shell_words::split(line).map_err(|e| format!("cannot split the command line: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_split_like_a_shell() {
        assert_eq!(
            shell_words("npx -y 'a b' \"c \\\"d\\\"\" e\\ f").unwrap_or_default(),
            ["npx", "-y", "a b", "c \"d\"", "e f"]
        );
        assert_eq!(shell_words("  ").unwrap_or_default(), Vec::<String>::new());
        assert_eq!(shell_words("x ''").unwrap_or_default(), ["x", ""]);
        assert!(shell_words("'open").is_err());
        assert_eq!(shell_words("run a#b # the rest").unwrap_or_default(), ["run", "a#b"]);
    }

    /// `R` running, `Z` zombie, `None` gone (reaped).
    fn proc_state(pid: i32) -> Option<String> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).map(str::to_owned)
    }

    async fn until(what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ok() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_leader_that_exits_alone_is_reaped_at_once() {
        let target = StdioTarget::new("sh", ["-c", "exit 3"]);
        let (process, _reader, _writer) = Process::spawn(&target, "t").expect("spawns");
        let status = process.wait_exit(Duration::from_secs(10)).await.expect("exits");
        assert_eq!(status.code(), Some(3));
        assert!(process.leader.lock().unwrap_or_else(|p| p.into_inner()).is_none(), "reaped");
        assert_eq!(proc_state(process.pgid), None, "no zombie left");
        assert!(!process.signal_group(Signal::SIGTERM), "a reaped group is never signalled");
    }

    #[tokio::test]
    async fn a_leader_that_leaves_its_group_running_is_kept_until_the_group_is_stopped() {
        // The shell exits at once; its background sleep stays in the group.
        let target = StdioTarget::new("sh", ["-c", "sleep 30 & echo $! >&2; exit 0"]);
        let (process, _reader, _writer) = Process::spawn(&target, "t").expect("spawns");
        process.wait_exit(Duration::from_secs(10)).await.expect("exits");
        let tail = process.stderr_tail.clone();
        let mut straggler = 0;
        until("the straggler's pid is printed", || {
            let tail = tail.lock().unwrap_or_else(|p| p.into_inner());
            straggler = tail.front().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
            straggler > 0
        })
        .await;
        // Its zombie keeps the group id from being reused while the sleep lives.
        assert_eq!(proc_state(process.pgid).as_deref(), Some("Z"));
        assert!(proc_state(straggler).is_some_and(|s| s != "Z"), "the straggler runs");

        process.stop().await;
        assert!(proc_state(straggler).is_none_or(|s| s == "Z"), "the straggler was stopped");
        assert_eq!(proc_state(process.pgid), None, "the leader was reaped after it");
        assert!(!process.signal_group(Signal::SIGTERM), "and the group is never signalled again");
    }
}
