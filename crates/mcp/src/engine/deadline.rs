//! Per-request deadlines: an idle timeout that progress resets, under a hard ceiling.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The deadline of one request. Cheap to share; [`Deadline::bump`] is a single atomic store.
#[derive(Debug)]
pub struct Deadline {
    start: Instant,
    idle: Duration,
    hard: Duration,
    /// Nanoseconds after `start` of the last sign of life.
    last_activity_ns: AtomicU64,
    /// Set for long-lived requests (subscription streams) that must never time out.
    disabled: AtomicBool,
}

impl Deadline {
    /// A deadline starting now.
    pub fn new(idle: Duration, hard: Duration) -> Self {
        Self {
            start: Instant::now(),
            idle,
            hard,
            last_activity_ns: AtomicU64::new(0),
            disabled: AtomicBool::new(false),
        }
    }

    /// Records progress: the idle timeout restarts from now (never past the hard ceiling).
    pub fn bump(&self) {
        let ns = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_activity_ns.store(ns, Ordering::Relaxed);
    }

    /// When the request expires, as things stand.
    pub fn due(&self) -> Instant {
        let last = Duration::from_nanos(self.last_activity_ns.load(Ordering::Relaxed));
        let idle_due = self.start + last + self.idle;
        let hard_due = self.start + self.hard;
        idle_due.min(hard_due)
    }

    /// How long the request has run.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Whether the hard ceiling (rather than idleness) is what expires first.
    pub fn hard_limit_reached(&self) -> bool {
        self.start.elapsed() >= self.hard
    }

    /// Turns the deadline off: the request may run until it ends or is cancelled.
    pub fn disable(&self) {
        self.disabled.store(true, Ordering::Relaxed);
    }

    /// Whether the deadline has passed (never, once disabled). A clock read; registers no timer.
    pub(crate) fn has_expired(&self) -> bool {
        !self.disabled.load(Ordering::Relaxed) && Instant::now() >= self.due()
    }

    /// Resolves when the deadline passes, following bumps that happen while waiting.
    pub async fn expired(&self) {
        loop {
            if self.disabled.load(Ordering::Relaxed) {
                return std::future::pending().await;
            }
            let due = self.due();
            if Instant::now() >= due {
                return;
            }
            tokio::time::sleep_until(due).await;
        }
    }

    /// The idle timeout.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// The hard ceiling.
    pub fn hard(&self) -> Duration {
        self.hard
    }
}
