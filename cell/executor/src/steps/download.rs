//! Download (spec §6.3): HTTP GET, optional checksum, extract into the container.

use std::sync::Arc;

use async_trait::async_trait;
use diego_model::DownloadAction;

use super::{CancellationToken, Ready, Step, StepCtx, StepError};
use crate::archive;

pub struct DownloadStep {
    ctx: Arc<StepCtx>,
    action: DownloadAction,
    source: String,
}

impl DownloadStep {
    pub fn new(ctx: Arc<StepCtx>, action: DownloadAction, source: &str) -> Self {
        Self {
            ctx,
            action,
            source: source.to_string(),
        }
    }

    async fn fetch(&self) -> Result<Vec<u8>, String> {
        let from = &self.action.from;
        let response = self
            .ctx
            .http
            .get(from)
            .send()
            .await
            .map_err(|e| format!("{e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("status {status}"));
        }
        Ok(response.bytes().await.map_err(|e| e.to_string())?.to_vec())
    }

    async fn download(&self) -> Result<(), StepError> {
        let a = &self.action;
        let fail = |what: &str, e: String| StepError::Failed(format!("{what} {}: {e}", a.from));
        let _permit = self
            .ctx
            .download_permits
            .acquire()
            .await
            .map_err(|e| fail("download", e.to_string()))?;
        if !a.artifact.is_empty() {
            self.ctx
                .log_out(&self.source, &format!("Downloading {}...", a.artifact));
        }
        let bytes = self
            .fetch()
            .await
            .map_err(|e| fail("failed to download", e))?;
        archive::verify_checksum(&bytes, &a.checksum_algorithm, &a.checksum_value)
            .map_err(|e| fail("failed to download", e))?;
        let entries = archive::extract(&bytes).map_err(|e| fail("failed to extract", e))?;
        self.ctx
            .backend
            .stream_in(&self.ctx.guid, &a.to, &a.user, entries)
            .await
            .map_err(|e| fail("failed to copy download into container from", e.to_string()))?;
        if !a.artifact.is_empty() {
            let size = human_size(bytes.len() as u64);
            self.ctx
                .log_out(&self.source, &format!("Downloaded {} ({size})", a.artifact));
        }
        Ok(())
    }
}

#[async_trait]
impl Step for DownloadStep {
    async fn perform(&self, cancel: CancellationToken, mut ready: Ready) -> Result<(), StepError> {
        ready.fire();
        tokio::select! {
            result = self.download() => result,
            _ = cancel.cancelled() => Err(StepError::Cancelled),
        }
    }
}

/// Sizes as Diego prints them: 512B, 1.5K, 23.4M.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size {
            return format!("{:.1}{unit}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes}B")
}
