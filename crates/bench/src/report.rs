//! The report: a table for people (stdout) or one JSON object for machines (`--json`).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use serde::Serialize;

use super::args::{BenchArgs, Era, Target};
use super::stats::{FailureCount, Stats};

/// Latency percentiles of successful requests, in milliseconds.
#[derive(Debug, Serialize)]
pub(crate) struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    p99_9: f64,
    max: f64,
    mean: f64,
}

/// The server's resource use over the run.
#[derive(Debug, Serialize)]
pub(crate) struct ServerUsage {
    /// The process measured.
    pub(crate) pid: u32,
    /// RSS when the clock started, KiB.
    pub(crate) rss_start_kib: u64,
    /// RSS at the end, KiB.
    pub(crate) rss_end_kib: u64,
    /// Highest RSS sampled (every 100 ms), KiB.
    pub(crate) rss_peak_kib: u64,
    /// User + system CPU seconds used.
    pub(crate) cpu_seconds: f64,
    /// CPU use in percent of one core.
    pub(crate) cpu_percent: f64,
}

/// Where the machine's CPU went during the run besides the server: the load generator, and
/// everything else (another process busy on the machine disturbs the measurement).
#[derive(Debug, Serialize)]
pub(crate) struct MachineUsage {
    /// CPU seconds of the load generator (this process).
    pub(crate) client_cpu_seconds: f64,
    /// CPU seconds of every other process and the kernel's interrupt work, all CPUs.
    pub(crate) other_cpu_seconds: f64,
    /// `other_cpu_seconds` per second of the run, in percent of one core.
    pub(crate) other_cpu_percent: f64,
}

/// The `--idle-sessions` measurement.
#[derive(Debug, Serialize)]
pub(crate) struct IdleReport {
    /// Sessions asked for.
    pub(crate) requested: u64,
    /// Sessions opened.
    pub(crate) opened: u64,
    /// Server RSS before, KiB.
    pub(crate) rss_before_kib: Option<u64>,
    /// Server RSS with every session open and idle, KiB.
    pub(crate) rss_after_kib: Option<u64>,
}

/// Everything a run measured.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    label: Option<String>,
    transport: &'static str,
    target: String,
    era: Era,
    scenario: String,
    connections: usize,
    elapsed_s: f64,
    ok: u64,
    failed: u64,
    throughput_rps: f64,
    latency_ms: Latency,
    failures: BTreeMap<String, FailureCount>,
    server: Option<ServerUsage>,
    machine: Option<MachineUsage>,
    idle_sessions: Option<IdleReport>,
}

impl Report {
    /// Summarizes `stats`.
    pub(crate) fn new(
        args: &BenchArgs,
        target: &Target,
        stats: &Stats,
        elapsed: Duration,
        server: Option<ServerUsage>,
        machine: Option<MachineUsage>,
        idle_sessions: Option<IdleReport>,
    ) -> Self {
        let (transport, target) = match target {
            Target::Http(u) => ("http", u.clone()),
            Target::Ws(u) => ("ws", u.clone()),
            Target::Stdio(argv) => ("stdio", argv.join(" ")),
            Target::ScriptedLlm(addr) => ("scripted-llm", addr.clone()),
        };
        let h = &stats.latency;
        let ms = |micros: u64| micros as f64 / 1000.0;
        let empty = h.is_empty();
        let q = |quantile: f64| if empty { 0.0 } else { ms(h.value_at_quantile(quantile)) };
        let secs = elapsed.as_secs_f64();
        Self {
            label: args.label.clone(),
            transport,
            target,
            era: args.era,
            scenario: args.scenario.to_string(),
            connections: args.connections,
            elapsed_s: secs,
            ok: stats.successes(),
            failed: stats.failed(),
            throughput_rps: if secs > 0.0 { stats.successes() as f64 / secs } else { 0.0 },
            latency_ms: Latency {
                p50: q(0.5),
                p90: q(0.9),
                p99: q(0.99),
                p99_9: q(0.999),
                max: if empty { 0.0 } else { ms(h.max()) },
                mean: if empty { 0.0 } else { h.mean() / 1000.0 },
            },
            failures: stats.failures.clone(),
            server,
            machine,
            idle_sessions,
        }
    }

    /// Prints the report on stdout. A closed stdout (`| head`) is not an error.
    pub(crate) fn print(&self, json: bool) -> anyhow::Result<()> {
        let text = if json { format!("{}\n", serde_json::to_string(self)?) } else { self.table() };
        match std::io::stdout().lock().write_all(text.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(()),
        }
    }

    fn table(&self) -> String {
        let mut t = String::new();
        let mut row = |k: &str, v: String| t.push_str(&format!("{k:<14} {v}\n"));
        if let Some(label) = &self.label {
            row("label", label.clone());
        }
        row("target", format!("{} {}", self.transport, self.target));
        row(
            "run",
            format!("{:?} era, {}, {} connections, {:.2} s", self.era, self.scenario, self.connections, self.elapsed_s)
                .to_lowercase(),
        );
        row("requests", format!("{} ok, {} failed", self.ok, self.failed));
        row("throughput", format!("{:.0} req/s", self.throughput_rps));
        let l = &self.latency_ms;
        row(
            "latency (ms)",
            format!(
                "p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  mean {:.3}",
                l.p50, l.p90, l.p99, l.p99_9, l.max, l.mean
            ),
        );
        for (kind, c) in &self.failures {
            row("failed", format!("{} × {kind}: {}", c.count, c.example));
        }
        if let Some(s) = &self.server {
            row(
                "server",
                format!(
                    "pid {}: RSS {:.1} MiB → {:.1} MiB (peak {:.1} MiB), CPU {:.2} s ({:.0} % of a core)",
                    s.pid,
                    kib_to_mib(s.rss_start_kib),
                    kib_to_mib(s.rss_end_kib),
                    kib_to_mib(s.rss_peak_kib),
                    s.cpu_seconds,
                    s.cpu_percent
                ),
            );
        }
        if let Some(m) = &self.machine {
            row(
                "machine",
                format!(
                    "load generator CPU {:.2} s; other processes {:.2} s ({:.0} % of a core{})",
                    m.client_cpu_seconds,
                    m.other_cpu_seconds,
                    m.other_cpu_percent,
                    if m.other_cpu_percent > 10.0 { ": the machine was busy, numbers are disturbed" } else { "" }
                ),
            );
        }
        if let Some(i) = &self.idle_sessions {
            let mem = match (i.rss_before_kib, i.rss_after_kib) {
                (Some(b), Some(a)) => format!(
                    ": server RSS {:.1} MiB → {:.1} MiB ({:.1} KiB per session)",
                    kib_to_mib(b),
                    kib_to_mib(a),
                    a.saturating_sub(b) as f64 / (i.opened.max(1)) as f64
                ),
                _ => " (pass --pid to measure the server's memory)".to_owned(),
            };
            row("idle sessions", format!("{} of {} opened{mem}", i.opened, i.requested));
        }
        t
    }
}

fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
