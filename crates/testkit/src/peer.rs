//! [`StdioPeer`]: runs a server process over stdio and checks every message it emits.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_protocol::ProtocolVersion;

use crate::schema::SchemaValidator;

/// How long to wait for one message before failing the test.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// The `_meta` every modern request carries.
pub fn modern_meta(capabilities: Value) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": ProtocolVersion::LATEST.as_str(),
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "switchboard-tests", "version": "0"},
    })
}

/// A server process spoken to over stdin/stdout. Every line it prints is parsed as JSON and
/// validated against the schema of the revision in use; a violation fails the test at once.
pub struct StdioPeer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// The revision responses are checked against when the request did not say.
    pub version: ProtocolVersion,
    pending: HashMap<String, (String, ProtocolVersion)>,
    next_id: i64,
    /// Notifications received while waiting for responses.
    pub notifications: Vec<Value>,
}

impl std::fmt::Debug for StdioPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdioPeer").field("pid", &self.child.id()).finish_non_exhaustive()
    }
}

impl StdioPeer {
    /// Starts `program args…`; stderr is inherited so failures show the server's logs.
    pub fn spawn(program: &std::path::Path, args: &[&str]) -> Self {
        Self::spawn_with_env(program, args, &[])
    }

    /// Like [`StdioPeer::spawn`], with extra environment variables.
    pub fn spawn_with_env(program: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn_with_stderr(program, args, env, Stdio::inherit())
    }

    /// Like [`StdioPeer::spawn_with_env`], with the server's stderr (its logs) sent to `stderr`,
    /// e.g. a file a test reads afterwards.
    pub fn spawn_with_stderr(
        program: &std::path::Path,
        args: &[&str],
        env: &[(&str, &str)],
        stderr: impl Into<Stdio>,
    ) -> Self {
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
            version: ProtocolVersion::LATEST,
            pending: HashMap::new(),
            next_id: 1000,
            notifications: Vec::new(),
        }
    }

    /// Writes raw bytes followed by a newline. Requests among them (one per line, or in a
    /// batch) are remembered so their responses can be checked.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        for line in bytes.split(|b| *b == b'\n') {
            if let Ok(msg) = serde_json::from_slice::<Value>(line) {
                self.remember(&msg);
            }
        }
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin
            .write_all(bytes)
            .and_then(|_| stdin.write_all(b"\n"))
            .and_then(|_| stdin.flush())
            .expect("writing to the server");
    }

    /// Sends a message; a request's method is remembered to validate its response.
    pub fn send(&mut self, msg: &Value) {
        self.send_raw(msg.to_string().as_bytes());
    }

    fn remember(&mut self, msg: &Value) {
        if let Value::Array(items) = msg {
            items.iter().for_each(|m| self.remember(m));
            return;
        }
        if let (Some(id), Some(method)) = (msg.get("id"), msg.get("method").and_then(Value::as_str)) {
            let v = request_version(msg, self.version);
            // An id already in flight keeps its entry: the duplicate is answered with an error,
            // which needs no method to be checked.
            self.pending.entry(id.to_string()).or_insert((method.to_owned(), v));
        }
    }

    /// The next message from the server, validated. Panics after `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Value {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => self.accept(&line),
            Err(RecvTimeoutError::Timeout) => panic!("no message from the server within {timeout:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed stdout"),
        }
    }

    /// Parses and validates one line the server printed.
    fn accept(&mut self, line: &str) -> Value {
        let msg: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("server printed a non-JSON line {line:?}: {e}"));
        match &msg {
            Value::Array(items) => {
                assert!(self.version.allows_batches(), "server sent a batch in {}: {msg}", self.version);
                items.iter().for_each(|m| self.check(m));
            }
            single => self.check(single),
        }
        msg
    }

    fn check(&mut self, msg: &Value) {
        let answered = match (msg.get("id"), msg.get("result")) {
            (Some(id), Some(_)) => self.pending.remove(&id.to_string()),
            (Some(id), None) => self.pending.get(&id.to_string()).cloned(),
            _ => None,
        };
        let v = answered.as_ref().map_or(self.version, |(method, v)| negotiated(method, msg).unwrap_or(*v));
        let v = if msg.pointer("/params/_meta/io.modelcontextprotocol~1subscriptionId").is_some() {
            ProtocolVersion::LATEST
        } else {
            v
        };
        if let Err(e) = SchemaValidator::global().check_message(v, msg, answered.as_ref().map(|(m, _)| m.as_str())) {
            panic!("server sent a message that violates the {v} schema:\n  {msg}\n  {e}");
        }
    }

    /// The next message, with the default timeout.
    pub fn recv(&mut self) -> Value {
        self.recv_timeout(DEFAULT_TIMEOUT)
    }

    /// Whether a message arrives within `wait` (consumed and validated if so).
    pub fn try_recv(&mut self, wait: Duration) -> Option<Value> {
        match self.lines.recv_timeout(wait) {
            Ok(line) => Some(self.accept(&line)),
            Err(_) => None,
        }
    }

    /// Reads until the response with `id`, collecting notifications on the way.
    pub fn response_to(&mut self, id: &Value) -> Value {
        let deadline = Instant::now() + DEFAULT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = self.recv_timeout(left.max(Duration::from_millis(1)));
            if msg.get("id") == Some(id) && msg.get("method").is_none() {
                return msg;
            }
            self.notifications.push(msg);
        }
    }

    /// Sends a request with a fresh numeric id and returns its response.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response_to(&id)
    }

    /// A modern request: `params` plus the modern `_meta` with `capabilities`.
    pub fn modern(&mut self, method: &str, mut params: Value, capabilities: Value) -> Value {
        if let Value::Object(o) = &mut params {
            o.insert("_meta".into(), modern_meta(capabilities));
        }
        self.request(method, params)
    }

    /// Performs the legacy handshake at `version`; later responses are checked against it.
    pub fn initialize(&mut self, version: ProtocolVersion, capabilities: Value) -> Value {
        let response = self.request(
            "initialize",
            json!({"protocolVersion": version.as_str(), "capabilities": capabilities, "clientInfo": {"name": "switchboard-tests", "version": "0"}}),
        );
        if let Some(v) =
            response.pointer("/result/protocolVersion").and_then(Value::as_str).and_then(|s| s.parse().ok())
        {
            self.version = v;
        }
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        response
    }

    /// Closes stdin and waits for the process to exit (killing it after `timeout`).
    pub fn close(mut self, timeout: Duration) -> Option<ExitStatus> {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }

    /// Closes stdin and returns every message printed until stdout closes (validated).
    pub fn close_input_and_drain(&mut self, timeout: Duration) -> Vec<Value> {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while Instant::now() < deadline {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => out.push(self.accept(&line)),
                Err(_) => break,
            }
        }
        out
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for StdioPeer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The revision a request speaks: modern when it carries modern `_meta`; for `initialize`, the
/// legacy revision it asks for; otherwise the session's.
pub fn request_version(msg: &Value, session: ProtocolVersion) -> ProtocolVersion {
    if msg.pointer("/params/_meta/io.modelcontextprotocol~1protocolVersion").is_some() {
        return ProtocolVersion::LATEST;
    }
    if msg.get("method").and_then(Value::as_str) == Some("initialize") {
        return ProtocolVersion::LATEST_LEGACY;
    }
    session
}

/// For an `initialize` response, the revision the server chose (its result must validate
/// against that revision's schema).
pub fn negotiated(method: &str, response: &Value) -> Option<ProtocolVersion> {
    if method != "initialize" {
        return None;
    }
    response.pointer("/result/protocolVersion").and_then(Value::as_str).and_then(|s| s.parse().ok())
}
