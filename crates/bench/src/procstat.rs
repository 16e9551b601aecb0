//! The server's resource use, read from `/proc/<pid>/status` (RSS) and `/proc/<pid>/stat`
//! (user + system CPU time), and the whole machine's busy time from `/proc/stat`, so a run can
//! tell how much CPU went to processes other than the server and the load generator. Linux
//! only; elsewhere the reads fail and the report omits them.

use std::time::Instant;

/// Clock ticks per second of `/proc/<pid>/stat` times. `sysconf(_SC_CLK_TCK)` is 100 on every
/// Linux architecture we run on; reading it would need `libc` and `unsafe`.
const TICKS_PER_SECOND: f64 = 100.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Resident set size, in KiB.
    pub(crate) rss_kib: u64,
    /// User + system CPU time, in clock ticks.
    pub(crate) cpu_ticks: u64,
    /// When it was taken.
    pub(crate) at: Instant,
}

/// Reads `pid`'s RSS and CPU time, or `None` when the process is gone or this is not Linux.
pub(crate) fn sample(pid: u32) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: fields are counted from
    // the last `)`. After it come field 3 (state) … field 14 (utime) and 15 (stime).
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Sample { rss_kib, cpu_ticks: utime + stime, at: Instant::now() })
}

/// CPU use between two samples, in percent of one core.
pub(crate) fn cpu_percent(start: &Sample, end: &Sample) -> f64 {
    let wall = end.at.duration_since(start.at).as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    let cpu = end.cpu_ticks.saturating_sub(start.cpu_ticks) as f64 / TICKS_PER_SECOND;
    100.0 * cpu / wall
}

/// CPU seconds between two samples.
pub(crate) fn cpu_seconds(start: &Sample, end: &Sample) -> f64 {
    end.cpu_ticks.saturating_sub(start.cpu_ticks) as f64 / TICKS_PER_SECOND
}

/// CPU time all CPUs spent running processes (user, nice, system), in clock ticks. Interrupt
/// and softirq time (much of the loopback TCP work) is left out: no process is charged for it,
/// so it would show up as a stranger's CPU.
pub(crate) fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = line.split_whitespace().map(|v| v.parse().unwrap_or(0)).collect();
    // user nice system idle … (guest time is already in user).
    Some(f.iter().take(3).sum())
}

/// Ticks as seconds.
pub(crate) fn ticks_to_seconds(ticks: u64) -> f64 {
    ticks as f64 / TICKS_PER_SECOND
}
