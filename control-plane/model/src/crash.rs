//! The crash restart policy with the exact numbers of spec §4.3.

use crate::{TimeNs, NS_PER_S};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Crash counts below this restart at once (Diego: 3).
    pub immediate_restarts: i32,
    pub max_backoff_ns: i64,
    pub min_backoff_ns: i64,
    /// From this count on an instance is never restarted (Diego: 200).
    pub max_restart_attempts: i32,
    /// A crash after running this long counts as the first (Diego: 5 min).
    pub crash_reset_window_ns: i64,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            immediate_restarts: 3,
            max_backoff_ns: 16 * 60 * NS_PER_S,
            min_backoff_ns: 30 * NS_PER_S,
            max_restart_attempts: 200,
            crash_reset_window_ns: 5 * 60 * NS_PER_S,
        }
    }
}

impl RestartPolicy {
    /// floor(log2(ceil(max / min))): 5 with Diego's numbers.
    pub fn max_backoff_exponent(&self) -> u32 {
        if self.min_backoff_ns <= 0 || self.max_backoff_ns <= 0 {
            return 0;
        }
        let ratio = (self.max_backoff_ns + self.min_backoff_ns - 1) / self.min_backoff_ns;
        63 - (ratio.max(1) as u64).leading_zeros()
    }

    /// The immediate rule the BBS applies at crash time.
    pub fn restart_immediately(&self, crash_count: i32) -> bool {
        crash_count < self.immediate_restarts
    }

    /// How long to wait after a crash before restarting; `None` = never.
    pub fn backoff_ns(&self, crash_count: i32) -> Option<i64> {
        if crash_count < self.immediate_restarts {
            return Some(0);
        }
        if crash_count >= self.max_restart_attempts {
            return None;
        }
        let exp = ((crash_count - self.immediate_restarts) as u32).min(self.max_backoff_exponent());
        let wait = self
            .min_backoff_ns
            .checked_mul(1i64 << exp.min(62))
            .unwrap_or(i64::MAX);
        Some(wait.min(self.max_backoff_ns))
    }

    /// `should_restart(now, crashed_at, n)` as convergence evaluates it.
    pub fn should_restart(&self, now_ns: TimeNs, crashed_at_ns: TimeNs, crash_count: i32) -> bool {
        match self.backoff_ns(crash_count) {
            Some(wait) => now_ns >= crashed_at_ns.saturating_add(wait),
            None => false,
        }
    }
}
