//! EmitProgress (spec §6.3).

use std::sync::Arc;

use async_trait::async_trait;

use super::{CancellationToken, Ready, Step, StepCtx, StepError};

pub struct EmitProgressStep {
    ctx: Arc<StepCtx>,
    inner: Box<dyn Step>,
    start_message: String,
    success_message: String,
    failure_message_prefix: String,
    source: String,
}

impl EmitProgressStep {
    pub fn new(
        ctx: Arc<StepCtx>,
        inner: Box<dyn Step>,
        action: &diego_model::EmitProgressAction,
        source: &str,
    ) -> Self {
        Self {
            ctx,
            inner,
            start_message: action.start_message.clone(),
            success_message: action.success_message.clone(),
            failure_message_prefix: action.failure_message_prefix.clone(),
            source: source.to_string(),
        }
    }
}

#[async_trait]
impl Step for EmitProgressStep {
    async fn perform(&self, cancel: CancellationToken, ready: Ready) -> Result<(), StepError> {
        if !self.start_message.is_empty() {
            self.ctx.log_out(&self.source, &self.start_message);
        }
        let result = self.inner.perform(cancel, ready).await;
        match &result {
            Ok(()) if !self.success_message.is_empty() => {
                self.ctx.log_out(&self.source, &self.success_message)
            }
            Err(StepError::Failed(m)) if !self.failure_message_prefix.is_empty() => {
                let line = format!("{}: {m}", self.failure_message_prefix);
                self.ctx.log_err(&self.source, &line)
            }
            _ => {}
        }
        result
    }
}
