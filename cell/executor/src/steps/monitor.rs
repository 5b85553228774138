//! The legacy `monitor` action, re-run on an interval (spec §6.4).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use diego_model::Action;

use super::checks::{startup_retry_ms, HEALTH_SOURCE};
use super::{build, go_duration, CancellationToken, Ready, Step, StepCtx, StepError};

pub struct MonitorStep {
    ctx: Arc<StepCtx>,
    monitor: Action,
    start_timeout_ms: u64,
}

impl MonitorStep {
    pub fn new(ctx: Arc<StepCtx>, monitor: Action, start_timeout_ms: u64) -> Self {
        Self {
            ctx,
            monitor,
            start_timeout_ms,
        }
    }

    /// One run of the monitor action; a fresh step each time since steps are one-shot.
    async fn probe(&self, cancel: &CancellationToken) -> Result<(), StepError> {
        let step = build(&self.monitor, &self.ctx, HEALTH_SOURCE);
        step.perform(cancel.child_token(), Ready::noop()).await
    }

    async fn wait(&self, cancel: &CancellationToken, ms: u64) -> Result<(), StepError> {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(ms)) => Ok(()),
            _ = cancel.cancelled() => Err(StepError::Cancelled),
        }
    }
}

#[async_trait]
impl Step for MonitorStep {
    async fn perform(&self, cancel: CancellationToken, mut ready: Ready) -> Result<(), StepError> {
        self.ctx
            .log_out(HEALTH_SOURCE, "Starting health monitoring of container");
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let err = match self.probe(&cancel).await {
                Ok(()) => break,
                Err(StepError::Cancelled) => return Err(StepError::Cancelled),
                Err(StepError::Failed(e)) => e,
            };
            let elapsed_ms = started.elapsed().as_millis() as u64;
            if self.start_timeout_ms > 0 && elapsed_ms >= self.start_timeout_ms {
                let dur = go_duration(self.start_timeout_ms);
                self.ctx.log_err(
                    HEALTH_SOURCE,
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
            self.wait(&cancel, wait_ms).await?;
        }
        self.ctx.log_out(HEALTH_SOURCE, "Container became healthy");
        ready.fire();
        loop {
            self.wait(&cancel, self.ctx.healthy_interval_ms).await?;
            match self.probe(&cancel).await {
                Ok(()) => {}
                Err(StepError::Cancelled) => return Err(StepError::Cancelled),
                Err(StepError::Failed(e)) => {
                    self.ctx
                        .log_err(HEALTH_SOURCE, "Container became unhealthy");
                    return Err(StepError::Failed(format!("Instance became unhealthy: {e}")));
                }
            }
        }
    }
}
