//! The cell executor: container state machine, step tree of actions, health checks, logs.
//!
//! The rep drives an [`Executor`]: `allocate` reserves resources, `run` creates the
//! container and starts its step tree, events report `running`/`completed`, and
//! `delete` frees everything. Containers come from a [`Backend`] (runc, or the fake).

pub mod archive;
pub mod backend;
pub mod config;
pub mod container;
pub mod download_cache;
pub mod env;
mod error;
mod executor;
pub mod health;
mod logs;
pub mod steps;
mod tree;

pub use backend::{
    Backend, BindMount, ContainerInfo, ContainerSpec, ExitStatus, FileEntry, FileKind, OutputLine,
    PortMap, ProcessHandle, ProcessSpec, Signal, Spawned, Stream,
};
pub use config::{ExecutorConfig, Resources};
pub use container::{
    AllocationRequest, Container, ContainerEvent, ContainerEventKind, ContainerNet, ContainerState,
    Lifecycle, RunRequest, RunResult, MAX_RESULT_FILE_BYTES,
};
pub use download_cache::{CacheStats, DownloadCache};
pub use error::ExecutorError;
pub use executor::Executor;
pub use health::{CheckTarget, HealthChecker, NativeHealthChecker};
pub use logs::{LogLine, LOG_RATE_EXCEEDED};
