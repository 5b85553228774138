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
            let mut wait_ms = self.ctx.unhealthy_interval_ms;
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
        loop {
            let passing = check_all(&self.ctx, &self.checks).await.is_ok();
            if passing != routable {
                routable = passing;
                (self.ctx.set_routable)(routable);
            }
            let wait = if routable {
                ready_interval_ms
            } else {
                self.ctx.unhealthy_interval_ms
            };
            pause(&cancel, wait).await?;
        }
    }
}
