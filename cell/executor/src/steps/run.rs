//! Run: a process in the container (spec §6.3).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use diego_model::{EnvVar, RunAction};

use super::{CancellationToken, Ready, Step, StepCtx, StepError};
use crate::backend::{ExitStatus, FileEntry, FileKind, ProcessSpec, Signal, Stream};

/// How long a killed process gets to be reaped before we give up on it.
const KILL_WAIT_MS: u64 = 1000;
/// How long output may trail the exit (pipes held open by a grandchild).
const OUTPUT_DRAIN_MS: u64 = 1000;
/// Where a volume-mounted file with a relative path lands: the root of
/// Cloud Foundry's file-based service bindings.
pub const VOLUME_MOUNTED_FILES_ROOT: &str = "/etc/cf-service-bindings";

/// Writes volume-mounted files into a container: owned by root and
/// read-only to the app, as the original's mounts are. A relative path lands
/// under [`VOLUME_MOUNTED_FILES_ROOT`].
pub(crate) async fn place_volume_mounted_files(
    backend: &dyn crate::backend::Backend,
    guid: &str,
    files: &[diego_model::File],
) -> Result<(), String> {
    for f in files {
        let path = crate::backend::resolve_path(VOLUME_MOUNTED_FILES_ROOT, &f.path);
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", &path));
        let entry = FileEntry {
            path: name.to_string(),
            mode: 0o444,
            kind: FileKind::File(f.content.clone().into_bytes()),
        };
        let dir = if dir.is_empty() { "/" } else { dir };
        backend
            .stream_in(guid, dir, "root", vec![entry])
            .await
            .map_err(|e| format!("failed to place {path}: {e}"))?;
    }
    Ok(())
}

pub struct RunStep {
    ctx: Arc<StepCtx>,
    action: RunAction,
    source: String,
}

impl RunStep {
    pub fn new(ctx: Arc<StepCtx>, action: RunAction, source: &str) -> Self {
        Self {
            ctx,
            action,
            source: source.to_string(),
        }
    }

    fn process_spec(&self) -> ProcessSpec {
        ProcessSpec {
            path: self.action.path.clone(),
            args: self.action.args.clone(),
            env: merge_env(&self.ctx.env, &self.action.env),
            dir: self.action.dir.clone(),
            user: self.action.user.clone(),
            nofile: self.action.resource_limits.as_ref().and_then(|r| r.nofile),
        }
    }

    /// Places the action's volume-mounted files before its process starts.
    async fn place_files(&self) -> Result<(), StepError> {
        place_volume_mounted_files(
            &*self.ctx.backend,
            &self.ctx.guid,
            &self.action.volume_mounted_files,
        )
        .await
        .map_err(StepError::Failed)
    }

    fn exit_result(&self, status: ExitStatus) -> Result<(), StepError> {
        if status.code == 0 {
            return Ok(());
        }
        let oom = if status.oom_killed {
            " (out of memory)"
        } else {
            ""
        };
        if !self.action.suppress_log_output {
            self.ctx.log_err(
                &self.source,
                &format!("Exited with status {}{oom}", status.code),
            );
        }
        Err(StepError::Failed(format!(
            "Exit status {}{oom}",
            status.code
        )))
    }
}

/// Later entries win, keeping the position of the first occurrence.
pub fn merge_env(base: &[EnvVar], overrides: &[EnvVar]) -> Vec<EnvVar> {
    let mut out: Vec<EnvVar> = Vec::with_capacity(base.len() + overrides.len());
    merge_env_into(&mut out, base);
    merge_env_into(&mut out, overrides);
    out
}

pub fn merge_env_into(out: &mut Vec<EnvVar>, overrides: &[EnvVar]) {
    for var in overrides {
        match out.iter_mut().find(|v| v.name == var.name) {
            Some(existing) => existing.value = var.value.clone(),
            None => out.push(var.clone()),
        }
    }
}

#[async_trait]
impl Step for RunStep {
    async fn perform(&self, cancel: CancellationToken, mut ready: Ready) -> Result<(), StepError> {
        if cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        self.place_files().await?;
        let spawned = self
            .ctx
            .backend
            .spawn(&self.ctx.guid, self.process_spec())
            .await
            .map_err(|e| StepError::Failed(format!("failed to run {}: {e}", self.action.path)))?;
        ready.fire();

        let mut output = spawned.output;
        let (ctx, source, quiet) = (
            self.ctx.clone(),
            self.source.clone(),
            self.action.suppress_log_output,
        );
        let forward = tokio::spawn(async move {
            while let Some(line) = output.recv().await {
                if !quiet {
                    (ctx.log)(&source, line.stream, &line.line);
                }
            }
        });
        let process = spawned.process;
        let backend_err = |e: crate::ExecutorError| StepError::Failed(e.to_string());

        let status = tokio::select! {
            status = process.wait() => status.map_err(backend_err)?,
            _ = cancel.cancelled() => {
                let _ = process.signal(Signal::Terminate).await;
                let grace = Duration::from_millis(self.ctx.graceful_shutdown_interval_ms);
                if tokio::time::timeout(grace, process.wait()).await.is_err() {
                    let _ = process.signal(Signal::Kill).await;
                    let waited =
                        tokio::time::timeout(Duration::from_millis(KILL_WAIT_MS), process.wait())
                            .await;
                    if waited.is_err() {
                        forward.abort();
                        return Err(StepError::Failed("process did not exit".to_string()));
                    }
                }
                let _ = tokio::time::timeout(Duration::from_millis(OUTPUT_DRAIN_MS), forward).await;
                return Err(StepError::Cancelled);
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(OUTPUT_DRAIN_MS), forward).await;
        self.exit_result(status)
    }
}

impl Stream {
    pub fn as_str(&self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}
