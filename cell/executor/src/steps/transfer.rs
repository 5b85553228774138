//! Upload (spec §6.3): POST one file from the container.

use std::sync::Arc;

use async_trait::async_trait;
use diego_model::UploadAction;

use super::download::human_size;
use super::{CancellationToken, Ready, Step, StepCtx, StepError};
use crate::backend::{home_dir, resolve_path};

/// Uploads are droplets and build artifacts; past this something is wrong.
const MAX_UPLOAD_BYTES: u64 = 4 << 30;

pub struct UploadStep {
    ctx: Arc<StepCtx>,
    action: UploadAction,
    source: String,
}

impl UploadStep {
    pub fn new(ctx: Arc<StepCtx>, action: UploadAction, source: &str) -> Self {
        Self {
            ctx,
            action,
            source: source.to_string(),
        }
    }

    async fn upload(&self) -> Result<(), StepError> {
        let a = &self.action;
        let path = resolve_path(&home_dir(&a.user), &a.from);
        if !a.artifact.is_empty() {
            self.ctx
                .log_out(&self.source, &format!("Uploading {}...", a.artifact));
        }
        let body = self
            .ctx
            .backend
            .read_file(&self.ctx.guid, &path, MAX_UPLOAD_BYTES)
            .await
            .map_err(|e| StepError::Failed(format!("failed to read {path} for upload: {e}")))?;
        let size = body.len() as u64;
        let fail = |e: String| StepError::Failed(format!("failed to upload to {}: {e}", a.to));
        let response = self
            .ctx
            .http
            .post(&a.to)
            .body(body)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("status {}", response.status())));
        }
        if !a.artifact.is_empty() {
            let line = format!("Uploaded {} ({})", a.artifact, human_size(size));
            self.ctx.log_out(&self.source, &line);
        }
        Ok(())
    }
}

#[async_trait]
impl Step for UploadStep {
    async fn perform(&self, cancel: CancellationToken, mut ready: Ready) -> Result<(), StepError> {
        ready.fire();
        tokio::select! {
            result = self.upload() => result,
            _ = cancel.cancelled() => Err(StepError::Cancelled),
        }
    }
}
