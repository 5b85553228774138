//! Download (spec §6.3): HTTP GET, optional checksum, extract into the container;
//! with a `cache_key` through the cell's download cache (ADR 0031).

use std::sync::Arc;

use async_trait::async_trait;
use diego_model::DownloadAction;

use super::{CancellationToken, Ready, Step, StepCtx, StepError};
use crate::archive;
use crate::download_cache::Fetched;

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

    /// The artifact's bytes and how many came over the network (0 = served
    /// by the cache), plus what keeps its cache entry in use until extracted.
    async fn fetch(&self) -> Result<Fetched, String> {
        let a = &self.action;
        if let (Some(cache), false) = (&self.ctx.download_cache, a.cache_key.is_empty()) {
            let checksum = (a.checksum_algorithm.as_str(), a.checksum_value.as_str());
            return cache
                .fetch(&self.ctx.http, &a.from, &a.cache_key, checksum)
                .await;
        }
        let response = self
            .ctx
            .http
            .get(&a.from)
            .send()
            .await
            .map_err(|e| format!("{e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("status {status}"));
        }
        let bytes = response.bytes().await.map_err(|e| e.to_string())?.to_vec();
        archive::verify_checksum(&bytes, &a.checksum_algorithm, &a.checksum_value)?;
        Ok(Fetched::uncached(bytes))
    }

    async fn download(&self) -> Result<(), StepError> {
        let a = &self.action;
        let fail = |what: &str, e: String| StepError::Failed(format!("{what} {}: {e}", a.from));
        // Diego holds the slot for the whole step (fetch, extract, copy), which
        // also bounds how many artifacts are in memory at once
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
        let fetched = self
            .fetch()
            .await
            .map_err(|e| fail("failed to download", e))?;
        let entries = archive::extract(&fetched.bytes).map_err(|e| fail("failed to extract", e))?;
        // the extracted entries hold the data now; the cache entry itself stays
        // in use (the lease in `fetched`) until the files are in the container
        drop(fetched.bytes);
        self.ctx
            .backend
            .stream_in(&self.ctx.guid, &a.to, &a.user, entries)
            .await
            .map_err(|e| fail("failed to copy download into container from", e.to_string()))?;
        if !a.artifact.is_empty() {
            // Diego prints no size when nothing was transferred (a cache hit)
            let line = match fetched.transferred_bytes {
                0 => format!("Downloaded {}", a.artifact),
                n => format!("Downloaded {} ({})", a.artifact, human_size(n)),
            };
            self.ctx.log_out(&self.source, &line);
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
