//! What the load measured: a latency histogram of successful requests and failures by kind, kept
//! per virtual client and merged at the end (no shared lock on the request path), plus the live
//! counters the progress bar reads.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::message::Failure;

/// Latencies are recorded in microseconds, up to this ceiling (longer ones are clamped).
const MAX_MICROS: u64 = 3_600_000_000;

/// One failure kind: how many, and the first example.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct FailureCount {
    /// How many requests failed this way.
    pub(crate) count: u64,
    /// What the first one said.
    pub(crate) example: String,
}

/// One virtual client's (or the whole run's) measurements.
#[derive(Debug)]
pub(crate) struct Stats {
    /// Latencies of successful requests, in microseconds.
    pub(crate) latency: Histogram<u64>,
    /// Failures by kind.
    pub(crate) failures: BTreeMap<String, FailureCount>,
}

impl Stats {
    /// Empty measurements.
    pub(crate) fn new() -> Self {
        // Three significant figures up to an hour: a fixed-size histogram (no allocation later).
        let latency = Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant histogram bounds are valid");
        Self { latency, failures: BTreeMap::new() }
    }

    /// Records a success that took `elapsed`.
    pub(crate) fn ok(&mut self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(MAX_MICROS).clamp(1, MAX_MICROS);
        self.latency.saturating_record(micros);
    }

    /// Records a failure.
    pub(crate) fn fail(&mut self, failure: Failure) {
        self.failures
            .entry(failure.kind)
            .and_modify(|c| c.count += 1)
            .or_insert(FailureCount { count: 1, example: failure.detail });
    }

    /// Adds `other` into `self`.
    pub(crate) fn merge(&mut self, other: Stats) {
        // Same bounds on both sides, so adding cannot fail; a failure would only lose samples.
        let _ = self.latency.add(&other.latency);
        for (kind, c) in other.failures {
            self.failures.entry(kind).and_modify(|mine| mine.count += c.count).or_insert(c);
        }
    }

    /// Successful requests.
    pub(crate) fn successes(&self) -> u64 {
        self.latency.len()
    }

    /// Failed requests.
    pub(crate) fn failed(&self) -> u64 {
        self.failures.values().map(|c| c.count).sum()
    }
}

/// Counters shared with the progress display.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// Successes so far.
    pub(crate) ok: AtomicU64,
    /// Failures so far.
    pub(crate) failed: AtomicU64,
}

/// When the run stops: a deadline, a request budget, or both.
#[derive(Debug)]
pub(crate) struct Budget {
    deadline: Option<Instant>,
    remaining: Option<AtomicU64>,
}

impl Budget {
    /// Stops at `deadline` and/or after `requests`.
    pub(crate) fn new(deadline: Option<Instant>, requests: Option<u64>) -> Self {
        Self { deadline, remaining: requests.map(AtomicU64::new) }
    }

    /// Takes the right to send one more request; `false` once the run is over.
    pub(crate) fn take(&self) -> bool {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        match &self.remaining {
            None => true,
            Some(r) => r.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok(),
        }
    }

    /// The deadline, if the run has one.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}
