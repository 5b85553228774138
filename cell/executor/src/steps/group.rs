//! Serial, Parallel and Try (spec §6.3).

use async_trait::async_trait;
use futures::future::join_all;

use super::{CancellationToken, Ready, Step, StepCtx, StepError};
use std::sync::Arc;

pub struct SerialStep {
    children: Vec<Box<dyn Step>>,
}

impl SerialStep {
    pub fn new(children: Vec<Box<dyn Step>>) -> Self {
        Self { children }
    }
}

#[async_trait]
impl Step for SerialStep {
    async fn perform(&self, cancel: CancellationToken, mut ready: Ready) -> Result<(), StepError> {
        let last = self.children.len().saturating_sub(1);
        if self.children.is_empty() {
            ready.fire();
            return Ok(());
        }
        let mut ready = Some(ready);
        for (i, child) in self.children.iter().enumerate() {
            if cancel.is_cancelled() {
                return Err(StepError::Cancelled);
            }
            // Only the last child's readiness makes the serial ready.
            let child_ready = if i == last {
                ready.take().unwrap_or_else(Ready::noop)
            } else {
                Ready::noop()
            };
            child.perform(cancel.clone(), child_ready).await?;
        }
        Ok(())
    }
}

pub struct ParallelStep {
    children: Vec<Box<dyn Step>>,
}

impl ParallelStep {
    pub fn new(children: Vec<Box<dyn Step>>) -> Self {
        Self { children }
    }
}

#[async_trait]
impl Step for ParallelStep {
    async fn perform(&self, cancel: CancellationToken, ready: Ready) -> Result<(), StepError> {
        let (readies, receivers): (Vec<_>, Vec<_>) =
            self.children.iter().map(|_| Ready::new()).unzip();
        let runs = self
            .children
            .iter()
            .zip(readies)
            .map(|(child, r)| child.perform(cancel.clone(), r));
        let (_, results) = futures::join!(ready.when_all(receivers), join_all(runs));
        let failures: Vec<String> = results
            .iter()
            .filter_map(|r| match r {
                Err(StepError::Failed(m)) => Some(m.clone()),
                _ => None,
            })
            .collect();
        if !failures.is_empty() {
            return Err(StepError::Failed(failures.join("; ")));
        }
        if results.iter().any(|r| r.is_err()) {
            return Err(StepError::Cancelled);
        }
        Ok(())
    }
}

pub struct TryStep {
    ctx: Arc<StepCtx>,
    inner: Box<dyn Step>,
    source: String,
}

impl TryStep {
    pub fn new(ctx: Arc<StepCtx>, inner: Box<dyn Step>, source: &str) -> Self {
        Self {
            ctx,
            inner,
            source: source.to_string(),
        }
    }
}

#[async_trait]
impl Step for TryStep {
    async fn perform(&self, cancel: CancellationToken, ready: Ready) -> Result<(), StepError> {
        match self.inner.perform(cancel, ready).await {
            // An interruption is not a failure to swallow: the caller asked to stop.
            Err(StepError::Cancelled) => Err(StepError::Cancelled),
            Err(StepError::Failed(m)) => {
                tracing::debug!(guid = %self.ctx.guid, source = %self.source, error = %m, "try step failed");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }
}
