//! The step tree: one step per action kind (spec §6.3), plus the health monitors (§6.4).
//!
//! A step runs to completion, honours its cancellation token, and fires its
//! `Ready` once it counts as started (a Run once spawned, a serial when its last
//! child is ready, parallel/codependent when all children are).

mod build;
mod checks;
mod codependent;
mod download;
mod group;
mod monitor;
mod progress;
mod run;
mod timeout;
mod transfer;

use std::sync::Arc;

use async_trait::async_trait;
use diego_model::EnvVar;
use tokio::sync::{oneshot, Semaphore};
pub use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, Stream};
use crate::download_cache::DownloadCache;
use crate::health::{CheckTarget, HealthChecker};

pub use build::build;
pub use checks::{CheckStep, ReadinessStep};
pub use codependent::CodependentStep;
pub use download::DownloadStep;
pub use group::{ParallelStep, SerialStep, TryStep};
pub use monitor::MonitorStep;
pub use progress::EmitProgressStep;
pub(crate) use run::place_volume_mounted_files;
pub use run::{merge_env, merge_env_into, RunStep};
pub use timeout::TimeoutStep;
pub use transfer::UploadStep;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The step was interrupted; not shown to users.
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
}

/// Fired once when a step counts as started; dropping it unfired means "never ready".
pub struct Ready(Option<oneshot::Sender<()>>);

impl Ready {
    pub fn new() -> (Ready, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (Ready(Some(tx)), rx)
    }

    /// A signal nobody listens to (serial children before the last).
    pub fn noop() -> Ready {
        Ready(None)
    }

    pub fn fire(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }

    /// Fires `self` once every receiver has fired; resolves early when one never will.
    pub(crate) async fn when_all(mut self, receivers: Vec<oneshot::Receiver<()>>) {
        for rx in receivers {
            if rx.await.is_err() {
                return;
            }
        }
        self.fire();
    }
}

#[async_trait]
pub trait Step: Send + Sync {
    async fn perform(&self, cancel: CancellationToken, ready: Ready) -> Result<(), StepError>;
}

pub type LogFn = Arc<dyn Fn(&str, Stream, &str) + Send + Sync>;
pub type RoutableFn = Arc<dyn Fn(bool) + Send + Sync>;

/// What every step of one container shares.
pub struct StepCtx {
    pub backend: Arc<dyn Backend>,
    pub guid: String,
    /// Container env plus the CF_INSTANCE_* networking vars; a Run's own env comes last.
    pub env: Vec<EnvVar>,
    pub log: LogFn,
    pub graceful_shutdown_interval_ms: u64,
    pub healthy_interval_ms: u64,
    pub unhealthy_interval_ms: u64,
    /// See `ExecutorConfig::startup_first_retry_ms`.
    pub startup_first_retry_ms: u64,
    pub http: reqwest::Client,
    pub download_permits: Arc<Semaphore>,
    /// Downloads with a `cache_key` go through it; `None` = all uncached.
    pub download_cache: Option<Arc<DownloadCache>>,
    pub health: Arc<dyn HealthChecker>,
    pub target: CheckTarget,
    pub set_routable: RoutableFn,
}

impl StepCtx {
    pub fn log_out(&self, source: &str, line: &str) {
        (self.log)(source, Stream::Stdout, line)
    }
    pub fn log_err(&self, source: &str, line: &str) {
        (self.log)(source, Stream::Stderr, line)
    }
}

/// Formats like Go's `time.Duration.String()`, which Diego's messages use: 500ms, 1.5s, 1m0s.
pub fn go_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let hours = ms / 3_600_000;
    let minutes = (ms % 3_600_000) / 60_000;
    let secs_ms = ms % 60_000;
    let secs = if secs_ms.is_multiple_of(1000) {
        format!("{}s", secs_ms / 1000)
    } else {
        let frac = format!("{:03}", secs_ms % 1000);
        format!("{}.{}s", secs_ms / 1000, frac.trim_end_matches('0'))
    };
    match (hours, minutes) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

/// The log source an action uses: its own override, else the inherited one.
pub(crate) fn source_of<'a>(own: &'a str, inherited: &'a str) -> &'a str {
    if own.is_empty() {
        inherited
    } else {
        own
    }
}

#[cfg(test)]
mod tests {
    use super::go_duration;

    #[test]
    fn durations_format_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(500), "500ms");
        assert_eq!(go_duration(1500), "1.5s");
        assert_eq!(go_duration(2000), "2s");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(3_661_000), "1h1m1s");
    }
}
