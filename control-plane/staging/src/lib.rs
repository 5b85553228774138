//! `diego push`: stage an app with the builder lifecycle as a Task, then run it as an LRP
//! whose process the launcher lifecycle chose (ADR 0011).
//!
//! 1. The app's files are packed into a tar and uploaded to the content-addressed file server,
//!    with the builder component (`diego-builder-task.wasm`, in a tar) beside them.
//! 2. A staging Task on the wasm stack (`rootfs: wasm:`) downloads both (checksummed), runs the
//!    builder as a `wasi:cli` command, uploads the droplet tar to the file server and leaves
//!    the staging result (JSON, with the droplet's sha256) as its result.
//! 3. The launcher component runs here, on the staging result and the instance environment,
//!    and gives the process; the LRP downloads the droplet by digest and runs that process,
//!    with port 8080 and an HTTP health check.
//! 4. Pushing an app that runs already desires the new version beside the old one and
//!    retires the old one once the new one runs (`versions`).

mod app;
mod error;
mod lrp;
mod push;
mod task;
mod versions;

pub use app::{app_tar, lifecycle_tar, process_guid};
pub use error::PushError;
pub use lrp::{desired_lrp, LrpOptions};
pub use push::{
    launch, push, stage, wait_running, Lifecycles, PushOptions, Pushed, Staged, BUILDER_FILE,
    LAUNCHER_FILE,
};
pub use task::{parse_staging_result, staging_task, STAGING_DOMAIN};
pub use versions::{retire, versions, Version, APP_TAG};
