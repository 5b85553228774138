//! `run`: initialize, create the container, start the step tree and follow it to completion.

use std::sync::Arc;

use diego_model::PortMapping;
use tokio_util::sync::CancellationToken;

use super::{Executor, Inner};
use crate::backend::{ContainerInfo, ContainerSpec, Stream};
use crate::container::{
    ContainerEventKind, ContainerState, Lifecycle, RunRequest, MAX_RESULT_FILE_BYTES,
};
use crate::env::networking_env;
use crate::health::CheckTarget;
use crate::steps::{merge_env_into, Ready, StepCtx, StepError};
use crate::tree::{build_tree, has_readiness};
use crate::ExecutorError;

impl Executor {
    /// Runs a reserved container. Returns once the container exists and its step tree
    /// started; creation failures complete the container with `retryable=true` instead
    /// of failing the call.
    pub async fn run(&self, guid: &str, req: RunRequest) -> Result<(), ExecutorError> {
        let inner = &self.inner;
        let memory_disk = {
            let mut records = inner.lock();
            let record = records
                .get_mut(guid)
                .ok_or_else(|| ExecutorError::NotFound(guid.into()))?;
            record.has_readiness = has_readiness(&req);
            (record.container.memory_mb, record.container.disk_mb)
        };
        inner.transition(guid, ContainerState::Initializing)?;
        inner
            .logs
            .set_byte_limit(guid, req.log_rate_limit_bytes_per_second);
        let spec = ContainerSpec {
            guid: guid.to_string(),
            rootfs: req.rootfs.clone(),
            memory_mb: memory_disk.0,
            disk_mb: memory_disk.1,
            max_pids: req.max_pids,
            ports: req.ports.clone(),
            env: req.env.clone(),
            privileged: req.privileged,
            bind_mounts: req.bind_mounts.clone(),
            egress_rules: req.egress_rules.clone(),
        };
        let info = match inner.backend.create(spec).await {
            Ok(info) => info,
            Err(e) => {
                inner.complete(guid, true, format!("failed to create container: {e}"), true);
                return Ok(());
            }
        };
        let ports: Vec<PortMapping> = info
            .ports
            .iter()
            .map(|p| PortMapping {
                container_port: p.container_port,
                host_port: p.host_port,
                ..Default::default()
            })
            .collect();
        let cancel = CancellationToken::new();
        let stopped_while_created = {
            let mut records = inner.lock();
            // Stopped or deleted while the container was being created: a
            // delete may already have run its destroy before the container
            // existed, so tear it down here (destroy is idempotent).
            let record = records
                .get_mut(guid)
                .filter(|r| r.container.state == ContainerState::Initializing);
            match record {
                Some(record) => {
                    record.container.net.internal_ip = info.internal_ip.clone();
                    record.container.net.external_ip = inner.cfg.external_ip.clone();
                    record.container.net.ports = ports.clone();
                    record.cancel = Some(cancel.clone());
                    false
                }
                None => true,
            }
        };
        if stopped_while_created {
            if let Err(e) = inner.backend.destroy(guid).await {
                tracing::warn!(guid, error = %e, "cannot remove a container stopped while it was created");
            }
            return Ok(());
        }
        // The work's own files are part of creating its container, as the
        // original's bind mounts are: a failure is retryable elsewhere.
        let placed = crate::steps::place_volume_mounted_files(
            &*inner.backend,
            guid,
            &req.volume_mounted_files,
        )
        .await;
        if let Err(e) = placed {
            if let Err(e) = inner.backend.destroy(guid).await {
                tracing::warn!(guid, error = %e, "cannot remove a container whose files were not placed");
            }
            let reason = format!("failed to create volume mounted files: {e}");
            inner.complete(guid, true, reason, true);
            return Ok(());
        }
        inner.transition(guid, ContainerState::Created)?;
        let ctx = self.step_ctx(guid, &req, &info, ports);
        let tree = build_tree(&req, &ctx);
        let (ready, ready_rx) = Ready::new();
        let weak = Arc::downgrade(&self.inner);
        let ready_guid = guid.to_string();
        tokio::spawn(async move {
            if ready_rx.await.is_ok() {
                if let Some(inner) = weak.upgrade() {
                    if let Ok(snapshot) = inner.transition(&ready_guid, ContainerState::Running) {
                        inner.emit(ContainerEventKind::Running, snapshot);
                    }
                }
            }
        });
        let inner = self.inner.clone();
        let guid = guid.to_string();
        tokio::spawn(async move {
            let result = tree.perform(cancel, ready).await;
            finish(&inner, &guid, &req, result).await;
        });
        Ok(())
    }

    fn step_ctx(
        &self,
        guid: &str,
        req: &RunRequest,
        info: &ContainerInfo,
        ports: Vec<PortMapping>,
    ) -> Arc<StepCtx> {
        let inner = &self.inner;
        let mut env = req.env.clone();
        merge_env_into(
            &mut env,
            &networking_env(&inner.cfg.external_ip, &info.internal_ip, &ports),
        );
        let logs = inner.logs.clone();
        let log_guid = guid.to_string();
        let weak = Arc::downgrade(&self.inner);
        let routable_guid = guid.to_string();
        Arc::new(StepCtx {
            backend: inner.backend.clone(),
            guid: guid.to_string(),
            env,
            log: Arc::new(move |source: &str, stream: Stream, line: &str| {
                logs.record(&log_guid, source, stream, line)
            }),
            graceful_shutdown_interval_ms: inner.cfg.graceful_shutdown_interval_ms,
            healthy_interval_ms: inner.cfg.healthy_monitoring_interval_ms,
            unhealthy_interval_ms: inner.cfg.unhealthy_monitoring_interval_ms,
            startup_first_retry_ms: inner.cfg.startup_first_retry_ms,
            http: inner.http.clone(),
            download_permits: inner.downloads.clone(),
            download_cache: inner.download_cache.clone(),
            health: inner.health.clone(),
            target: CheckTarget {
                guid: guid.to_string(),
                internal_ip: info.internal_ip.clone(),
                ports,
            },
            set_routable: Arc::new(move |routable| {
                if let Some(inner) = weak.upgrade() {
                    inner.set_routable(&routable_guid, routable)
                }
            }),
        })
    }
}

/// Turns the step tree's outcome into the run result; tasks also read their result file.
async fn finish(inner: &Inner, guid: &str, req: &RunRequest, result: Result<(), StepError>) {
    let stop_requested = inner
        .lock()
        .get(guid)
        .map(|r| r.stop_requested)
        .unwrap_or(false);
    match result {
        Ok(()) => {
            if req.lifecycle == Lifecycle::Task && !req.result_file.is_empty() {
                match inner
                    .backend
                    .read_file(guid, &req.result_file, MAX_RESULT_FILE_BYTES)
                    .await
                {
                    Ok(bytes) => {
                        if let Some(r) = inner.lock().get_mut(guid) {
                            r.container.result = Some(String::from_utf8_lossy(&bytes).to_string());
                        }
                    }
                    Err(e) => {
                        let reason = format!("failed to read result file {}: {e}", req.result_file);
                        return inner.complete(guid, true, reason, false);
                    }
                }
            }
            inner.complete(guid, false, String::new(), false)
        }
        // An interruption we asked for is a clean stop, not a failure.
        Err(StepError::Cancelled) if stop_requested => {
            inner.complete(guid, false, String::new(), false)
        }
        Err(e) => inner.complete(guid, true, e.to_string(), false),
    }
}
