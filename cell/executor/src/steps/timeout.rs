//! Timeout (spec §6.3).

use std::time::Duration;

use async_trait::async_trait;

use super::{go_duration, CancellationToken, Ready, Step, StepError};

pub struct TimeoutStep {
    inner: Box<dyn Step>,
    timeout_ms: u64,
}

impl TimeoutStep {
    pub fn new(inner: Box<dyn Step>, timeout_ms: u64) -> Self {
        Self { inner, timeout_ms }
    }
}

#[async_trait]
impl Step for TimeoutStep {
    async fn perform(&self, cancel: CancellationToken, ready: Ready) -> Result<(), StepError> {
        let inner_cancel = cancel.child_token();
        let run = self.inner.perform(inner_cancel.clone(), ready);
        tokio::pin!(run);
        tokio::select! {
            result = &mut run => result,
            _ = tokio::time::sleep(Duration::from_millis(self.timeout_ms)) => {
                inner_cancel.cancel();
                let inner = run.await;
                let mut message = format!("exceeded {} timeout", go_duration(self.timeout_ms));
                if let Err(StepError::Failed(m)) = inner {
                    message.push_str("; ");
                    message.push_str(&m);
                }
                Err(StepError::Failed(message))
            }
        }
    }
}
