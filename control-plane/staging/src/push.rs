//! The push itself: upload, stage as a Task, launch, desire the LRP, wait for it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diego_fileserver::{client, Digest};
use diego_model::{ActualLrp, ActualState, DesiredLrpUpdate, Presence, TaskState};
use diego_sdk::{ActualFilter, Client};
use diego_wasm_host::{HostConfig, LaunchSpec, Launcher, StagingResult, WasmHost};

use crate::lrp::{desired_lrp, LrpOptions, APP_PORT};
use crate::task::{parse_staging_result, staging_task, STAGING_DOMAIN};
use crate::versions::{self, Version};
use crate::{app_tar, lifecycle_tar, process_guid, PushError};

/// The builder as a `wasi:cli` command (the guest workspace's binary).
pub const BUILDER_FILE: &str = "diego-builder-task.wasm";
/// The launcher component.
pub const LAUNCHER_FILE: &str = "diego_launcher.wasm";

const POLL: Duration = Duration::from_millis(100);

/// The lifecycle components push needs: the builder's bytes (it runs on a cell) and the
/// loaded launcher (it runs here).
pub struct Lifecycles {
    pub builder_command: Vec<u8>,
    pub launcher: Launcher,
}

impl Lifecycles {
    /// Reads both from `dir` (the guests' build output, `wasm32-wasip2/release`).
    pub fn load(dir: &Path) -> Result<Self, PushError> {
        let read = |file: &str| {
            std::fs::read(dir.join(file)).map_err(|e| PushError::Lifecycle {
                what: file.to_string(),
                reason: format!(
                    "{e} in {} (build the guests: cd lifecycles-wasm/guests && cargo build --release --target wasm32-wasip2)",
                    dir.display()
                ),
            })
        };
        let builder_command = read(BUILDER_FILE)?;
        let host =
            Arc::new(
                WasmHost::new(HostConfig::default()).map_err(|e| PushError::Lifecycle {
                    what: "wasm host".into(),
                    reason: e.to_string(),
                })?,
            );
        let launcher =
            Launcher::load(&host, &read(LAUNCHER_FILE)?).map_err(|e| PushError::Lifecycle {
                what: LAUNCHER_FILE.into(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            builder_command,
            launcher,
        })
    }
}

#[derive(Debug, Clone)]
pub struct PushOptions {
    /// The app's name; the process guid is derived from it.
    pub name: String,
    /// Instances of the new version; `None`: as many as the running version
    /// has, or 1 for a first push.
    pub instances: Option<i32>,
    pub domain: String,
    /// The file server as both this client and the cells reach it.
    pub fileserver_url: String,
    pub memory_mb: i32,
    pub disk_mb: i32,
    pub staging_memory_mb: i32,
    pub stage_timeout_ms: u64,
    pub start_timeout_ms: u64,
}

impl PushOptions {
    pub fn new(name: &str, fileserver_url: &str) -> Self {
        Self {
            name: name.to_string(),
            instances: None,
            domain: "apps".into(),
            fileserver_url: fileserver_url.to_string(),
            memory_mb: 64,
            disk_mb: 256,
            staging_memory_mb: 256,
            stage_timeout_ms: 120_000,
            start_timeout_ms: 60_000,
        }
    }
}

/// A staged app.
#[derive(Debug, Clone)]
pub struct Staged {
    pub result: StagingResult,
    pub droplet: Digest,
    /// From desiring the staging Task to reading its result.
    pub staging_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Pushed {
    /// The version now serving (new, or the one already running the droplet).
    pub process_guid: String,
    pub instances: i32,
    pub staged: Staged,
    pub launch: LaunchSpec,
    /// Earlier versions to remove once this one runs (`versions::retire`).
    pub replaces: Vec<String>,
    /// The staged droplet already ran as `process_guid`: nothing new was desired.
    pub unchanged: bool,
}

/// Uploads the app and the builder, runs the staging Task and reads its result. The Task is
/// deleted afterwards, whatever its outcome.
pub async fn stage(
    client: &Client,
    options: &PushOptions,
    lifecycles: &Lifecycles,
    app_dir: &Path,
) -> Result<Staged, PushError> {
    let guid = process_guid(&options.name)?;
    let app = client::upload(&options.fileserver_url, app_tar(app_dir)?).await?;
    let builder = client::upload(
        &options.fileserver_url,
        lifecycle_tar(&lifecycles.builder_command)?,
    )
    .await?;
    let task_guid = format!("staging-{guid}-{}", uuid::Uuid::new_v4().simple());
    let task = staging_task(
        &task_guid,
        &options.fileserver_url,
        &app,
        &builder,
        options.staging_memory_mb,
    )?;
    let started = Instant::now();
    client
        .desire_task(&task_guid, STAGING_DOMAIN, task.definition)
        .await?;
    let deadline = started + Duration::from_millis(options.stage_timeout_ms);
    let done = loop {
        let task = client.task(&task_guid).await?;
        if task.state == TaskState::Completed {
            break task;
        }
        if Instant::now() >= deadline {
            let _ = client.cancel_task(&task_guid).await;
            return Err(PushError::Timeout {
                what: format!("staging task {task_guid} ({})", task.state.name()),
                ms: options.stage_timeout_ms,
            });
        }
        tokio::time::sleep(POLL).await;
    };
    let staging_ms = started.elapsed().as_millis() as u64;
    // The result is in hand: the record can go.
    let _ = client.resolving_task(&task_guid).await;
    let _ = client.delete_task(&task_guid).await;
    if done.failed {
        return Err(PushError::StagingTask(done.failure_reason));
    }
    let (result, droplet) = parse_staging_result(&done.result)?;
    if !client::exists(&options.fileserver_url, &droplet).await? {
        return Err(PushError::StagingTask(format!(
            "the droplet {droplet} never reached the file server"
        )));
    }
    Ok(Staged {
        result,
        droplet,
        staging_ms,
    })
}

/// The `web` process of a staged app, with `PORT` set to the app port.
pub fn launch(lifecycles: &Lifecycles, staged: &Staged) -> Result<LaunchSpec, PushError> {
    let env = [("PORT".to_string(), APP_PORT.to_string())];
    lifecycles
        .launcher
        .launch(&staged.result, "web", &env)
        .map_err(|e| PushError::Lifecycle {
            what: "launcher".into(),
            reason: e.to_string(),
        })?
        .map_err(PushError::Launch)
}

/// Stages the app, launches it and desires its LRP. When the app already runs, the new
/// version is desired beside it and `Pushed::replaces` names the versions to retire once it
/// runs; a droplet identical to the running one desires nothing (at most a scale).
pub async fn push(
    client: &Client,
    options: &PushOptions,
    lifecycles: &Lifecycles,
    app_dir: &Path,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Pushed, PushError> {
    if let Some(n) = options.instances {
        if n < 1 {
            return Err(PushError::Invalid {
                field: "instances",
                reason: format!("{n} (must be at least 1)"),
            });
        }
    }
    let app = process_guid(&options.name)?;
    let existing = versions::versions(client, &options.domain, &app).await?;
    match existing.as_slice() {
        [] => progress(&format!("staging {} as {app}", app_dir.display())),
        running => progress(&format!(
            "staging {} as a new version of {app} (running: {})",
            app_dir.display(),
            running
                .iter()
                .map(|v| v.process_guid.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    let staged = stage(client, options, lifecycles, app_dir).await?;
    progress(&format!(
        "staged a {} app (buildpack {}) in {} ms: droplet {}",
        staged.result.kind.name(),
        staged.result.detected_buildpack,
        staged.staging_ms,
        staged.droplet
    ));
    let launch = launch(lifecycles, &staged)?;
    progress(&format!(
        "launcher: {} {}",
        launch.path,
        launch.args.join(" ")
    ));
    let others = |keep: &str| -> Vec<String> {
        existing
            .iter()
            .map(|v| v.process_guid.clone())
            .filter(|g| g != keep)
            .collect()
    };
    if let Some(same) = versions::running_droplet(&existing, &staged.droplet) {
        return unchanged(
            client,
            options,
            same,
            others(&same.process_guid),
            staged,
            launch,
        )
        .await;
    }
    let instances = options
        .instances
        .or_else(|| existing.iter().map(|v| v.instances).max())
        .unwrap_or(1);
    let guid = versions::next_guid(&app, &existing, &staged.droplet);
    let lrp_options = LrpOptions {
        process_guid: guid.clone(),
        app_name: app.clone(),
        domain: options.domain.clone(),
        instances,
        memory_mb: options.memory_mb,
        disk_mb: options.disk_mb,
        start_timeout_ms: options.start_timeout_ms as i64,
    };
    let lrp = desired_lrp(
        &lrp_options,
        staged.result.kind,
        &launch,
        &options.fileserver_url,
        &staged.droplet,
    )?;
    client.desire_lrp(lrp).await?;
    Ok(Pushed {
        replaces: others(&guid),
        process_guid: guid,
        instances,
        staged,
        launch,
        unchanged: false,
    })
}

/// The droplet already runs as `same`: scale it if asked, desire nothing new.
async fn unchanged(
    client: &Client,
    options: &PushOptions,
    same: &Version,
    replaces: Vec<String>,
    staged: Staged,
    launch: LaunchSpec,
) -> Result<Pushed, PushError> {
    let instances = options.instances.unwrap_or(same.instances);
    if instances != same.instances {
        let update = DesiredLrpUpdate {
            instances: Some(instances),
            ..Default::default()
        };
        client
            .update_desired_lrp(&same.process_guid, update)
            .await?;
    }
    Ok(Pushed {
        process_guid: same.process_guid.clone(),
        instances,
        staged,
        launch,
        replaces,
        unchanged: true,
    })
}

/// Waits until `instances` instances of `process_guid` run.
pub async fn wait_running(
    client: &Client,
    process_guid: &str,
    instances: usize,
    timeout_ms: u64,
) -> Result<Vec<ActualLrp>, PushError> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    loop {
        let filter = ActualFilter {
            process_guid: process_guid.to_string(),
            ..Default::default()
        };
        let running: Vec<ActualLrp> = client
            .actual_lrps(filter)
            .await?
            .into_iter()
            .filter(|a| a.presence == Presence::Ordinary && a.state == ActualState::Running)
            .collect();
        if running.len() >= instances {
            return Ok(running);
        }
        if Instant::now() >= deadline {
            return Err(PushError::Timeout {
                what: format!(
                    "{instances} running instances of {process_guid} ({} running)",
                    running.len()
                ),
                ms: timeout_ms,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}
