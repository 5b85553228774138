//! Per-phase timings of create and destroy, kept only when the config asks for them
//! (benchmarks), so a long-running cell does not accumulate them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Named phases in the order they ran, each with its wall time; `overlapped` are
/// phases that ran concurrently inside one of `phases` (not part of `total`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhaseTimings {
    pub phases: Vec<(&'static str, Duration)>,
    pub overlapped: Vec<(&'static str, Duration)>,
}

impl PhaseTimings {
    pub fn total(&self) -> Duration {
        self.phases.iter().map(|(_, d)| *d).sum()
    }
}

/// Measures consecutive phases: each `mark` closes the phase that started at the
/// previous mark.
pub(crate) struct Stopwatch {
    last: Instant,
    timings: PhaseTimings,
}

impl Stopwatch {
    pub(crate) fn start() -> Self {
        Self {
            last: Instant::now(),
            timings: PhaseTimings::default(),
        }
    }

    pub(crate) fn mark(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.timings.phases.push((phase, now - self.last));
        self.last = now;
    }

    /// Adds phases measured by another stopwatch that ran inside the current phase.
    pub(crate) fn overlapped(&mut self, inner: PhaseTimings) {
        self.timings.overlapped.extend(inner.phases);
    }

    pub(crate) fn finish(self) -> PhaseTimings {
        self.timings
    }
}

/// The create and destroy timings of each container, by guid.
#[derive(Default)]
pub(crate) struct TimingLog {
    enabled: bool,
    create: Mutex<HashMap<String, PhaseTimings>>,
    destroy: Mutex<HashMap<String, PhaseTimings>>,
}

impl TimingLog {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Default::default()
        }
    }

    pub(crate) fn record_create(&self, guid: &str, t: PhaseTimings) {
        tracing::debug!(guid, phases = ?t.phases, "container created");
        if self.enabled {
            self.create
                .lock()
                .expect("timing log poisoned")
                .insert(guid.to_string(), t);
        }
    }

    pub(crate) fn record_destroy(&self, guid: &str, t: PhaseTimings) {
        tracing::debug!(guid, phases = ?t.phases, "container destroyed");
        if self.enabled {
            self.destroy
                .lock()
                .expect("timing log poisoned")
                .insert(guid.to_string(), t);
        }
    }

    /// Removes and returns what was recorded for `guid`: (create, destroy).
    pub(crate) fn take(&self, guid: &str) -> (Option<PhaseTimings>, Option<PhaseTimings>) {
        (
            self.create
                .lock()
                .expect("timing log poisoned")
                .remove(guid),
            self.destroy
                .lock()
                .expect("timing log poisoned")
                .remove(guid),
        )
    }
}
