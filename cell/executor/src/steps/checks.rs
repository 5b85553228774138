//! Declarative check_definition monitoring, run natively from the host (spec §6.4).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use diego_model::Check;
use futures::future::join_all;
use futures::stream::{FuturesUnordered, StreamExt};

use super::{go_duration, CancellationToken, Ready, Step, StepCtx, StepError};

pub const HEALTH_SOURCE: &str = "HEALTH";

fn interval_of(check: &Check, default_ms: u64) -> u64 {
    let own = check
        .tcp_check
        .as_ref()
        .map(|c| c.interval_ms)
        .or(check.http_check.as_ref().map(|c| c.interval_ms));
    match own {
        Some(ms) if ms > 0 => ms,
        _ => default_ms,
    }
}

/// The pause after failed startup attempt `attempt` (0-based): `first_ms`
/// doubling up to `cap_ms` (the unhealthy interval). Most apps bind their
/// port within a few ms of spawn; a fixed 2 s poll made them wait for it.
/// `first_ms == 0` polls every `cap_ms`, as Diego does.
pub(crate) fn startup_retry_ms(attempt: u32, first_ms: u64, cap_ms: u64) -> u64 {
    if first_ms == 0 {
        return cap_ms;
    }
    first_ms.saturating_mul(1u64 << attempt.min(32)).min(cap_ms)
}

/// Runs every check once; the first failure's message, if any.
async fn check_all(ctx: &StepCtx, checks: &[Check]) -> Result<(), String> {
    let results = join_all(checks.iter().map(|c| ctx.health.check(&ctx.target, c))).await;
    results
        .into_iter()
        .collect::<Result<Vec<()>, String>>()
        .map(|_| ())
}

/// Sleeps unless cancelled first.
async fn pause(cancel: &CancellationToken, ms: u64) -> Result<(), StepError> {
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(ms)) => Ok(()),
        _ = cancel.cancelled() => Err(StepError::Cancelled),
    }
}

/// Startup checks until all pass (ready), then liveness until one fails.
pub struct CheckStep {
    ctx: Arc<StepCtx>,
    checks: Vec<Check>,
    start_timeout_ms: u64,
    source: String,
}

impl CheckStep {
    pub fn new(ctx: Arc<StepCtx>, checks: Vec<Check>, start_timeout_ms: u64, source: &str) -> Self {
        Self {
            ctx,
            checks,
            start_timeout_ms,
            source: source.to_string(),
        }
    }

    async fn startup(&self, cancel: &CancellationToken) -> Result<(), StepError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let err = match check_all(&self.ctx, &self.checks).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let elapsed_ms = started.elapsed().as_millis() as u64;
            if self.start_timeout_ms > 0 && elapsed_ms >= self.start_timeout_ms {
                let dur = go_duration(self.start_timeout_ms);
                self.ctx.log_err(
                    &self.source,
                    &format!("Failed after {dur}: startup health check never passed."),
                );
                return Err(StepError::Failed(format!(
                    "Instance never healthy after {dur}: {err}"
                )));
            }
            let mut wait_ms = startup_retry_ms(
                attempt,
                self.ctx.startup_first_retry_ms,
                self.ctx.unhealthy_interval_ms,
            );
            attempt += 1;
            if self.start_timeout_ms > 0 {
                wait_ms = wait_ms.min(self.start_timeout_ms - elapsed_ms);
            }
            pause(cancel, wait_ms).await?;
        }
    }

    async fn liveness(&self, check: &Check, cancel: &CancellationToken) -> Result<(), StepError> {
        let interval_ms = interval_of(check, self.ctx.healthy_interval_ms);
        loop {
            pause(cancel, interval_ms).await?;
            if let Err(e) = self.ctx.health.check(&self.ctx.target, check).await {
                self.ctx.log_err(&self.source, "Container became unhealthy");
                return Err(StepError::Failed(format!("Instance became unhealthy: {e}")));
            }
        }
    }
}

#[async_trait]
impl Step for CheckStep {
    async fn perform(&self, cancel: CancellationToken, mut ready: Ready) -> Result<(), StepError> {
        self.ctx
            .log_out(&self.source, "Starting health monitoring of container");
        self.startup(&cancel).await?;
        self.ctx.log_out(&self.source, "Container became healthy");
        ready.fire();
        let mut loops: FuturesUnordered<_> = self
            .checks
            .iter()
            .map(|c| self.liveness(c, &cancel))
            .collect();
        match loops.next().await {
            Some(result) => result,
            // No checks: nothing can fail, so wait to be stopped.
            None => {
                cancel.cancelled().await;
                Err(StepError::Cancelled)
            }
        }
    }
}

/// Readiness checks: never fail the container, only flip `routable`.
pub struct ReadinessStep {
    ctx: Arc<StepCtx>,
    checks: Vec<Check>,
}

impl ReadinessStep {
    pub fn new(ctx: Arc<StepCtx>, checks: Vec<Check>) -> Self {
        Self { ctx, checks }
    }
}

#[async_trait]
impl Step for ReadinessStep {
    async fn perform(&self, cancel: CancellationToken, mut ready: Ready) -> Result<(), StepError> {
        // Readiness never holds up "running"; it only gates routing.
        ready.fire();
        let ready_interval_ms = self
            .checks
            .iter()
            .map(|c| interval_of(c, self.ctx.healthy_interval_ms))
            .min()
            .unwrap_or(self.ctx.healthy_interval_ms);
        let mut routable = false;
        // Failed attempts since the last pass: not-ready polling backs off
        // like startup, so a fresh instance becomes routable promptly.
        let mut failing = 0;
        loop {
            let passing = check_all(&self.ctx, &self.checks).await.is_ok();
            if passing != routable {
                routable = passing;
                (self.ctx.set_routable)(routable);
            }
            let wait = if routable {
                failing = 0;
                ready_interval_ms
            } else {
                failing += 1;
                startup_retry_ms(
                    failing - 1,
                    self.ctx.startup_first_retry_ms,
                    self.ctx.unhealthy_interval_ms,
                )
            };
            pause(&cancel, wait).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::startup_retry_ms;

    #[test]
    fn startup_retries_double_up_to_the_unhealthy_interval() {
        let pauses: Vec<u64> = (0..8).map(|a| startup_retry_ms(a, 50, 2_000)).collect();
        assert_eq!(pauses, [50, 100, 200, 400, 800, 1_600, 2_000, 2_000]);
        assert_eq!(startup_retry_ms(200, 50, 2_000), 2_000);
    }

    #[test]
    fn zero_first_retry_polls_at_the_unhealthy_interval_like_diego() {
        assert_eq!(startup_retry_ms(0, 0, 2_000), 2_000);
        assert_eq!(startup_retry_ms(5, 0, 2_000), 2_000);
    }
}
