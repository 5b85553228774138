//! The container backend contract: what the executor needs from a container runtime.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::health::HealthChecker;
use crate::ExecutorError;

/// What to create. `ports` are container ports to expose on the host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerSpec {
    pub guid: String,
    /// e.g. `preloaded:busybox`
    pub rootfs: String,
    pub memory_mb: u64,
    pub disk_mb: u64,
    /// 0 = unlimited
    pub max_pids: u64,
    pub ports: Vec<u32>,
    pub env: Vec<diego_model::EnvVar>,
    pub privileged: bool,
    pub bind_mounts: Vec<BindMount>,
    /// Allowed egress; empty = unrestricted (backends without network
    /// isolation ignore it).
    pub egress_rules: Vec<diego_model::SecurityGroupRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindMount {
    pub src_path: String,
    pub dst_path: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortMap {
    pub container_port: u32,
    pub host_port: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerInfo {
    pub internal_ip: String,
    pub ports: Vec<PortMap>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessSpec {
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<diego_model::EnvVar>,
    /// empty = the user's home
    pub dir: String,
    /// a user name from the rootfs (`root`, `vcap`)
    pub user: String,
    pub nofile: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub stream: Stream,
    pub line: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: i32,
    pub oom_killed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Terminate,
    Kill,
}

/// A running process: wait may be called concurrently with signal, and more than once.
#[async_trait]
pub trait ProcessHandle: Send + Sync {
    async fn wait(&self) -> Result<ExitStatus, ExecutorError>;
    async fn signal(&self, signal: Signal) -> Result<(), ExecutorError>;
}

/// A spawned process with its output; `output` closes once both pipes close.
pub struct Spawned {
    pub process: Arc<dyn ProcessHandle>,
    pub output: mpsc::Receiver<OutputLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
}

/// One entry to place under a destination directory; `path` is relative to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub mode: u32,
    pub kind: FileKind,
}

#[async_trait]
pub trait Backend: Send + Sync {
    async fn create(&self, spec: ContainerSpec) -> Result<ContainerInfo, ExecutorError>;
    async fn spawn(&self, guid: &str, spec: ProcessSpec) -> Result<Spawned, ExecutorError>;
    /// Writes entries under `dst_dir` inside the container, owned by `user`.
    async fn stream_in(
        &self,
        guid: &str,
        dst_dir: &str,
        user: &str,
        entries: Vec<FileEntry>,
    ) -> Result<(), ExecutorError>;
    /// Reads one file; fails with `FileTooLarge` past `max_bytes`.
    async fn read_file(
        &self,
        guid: &str,
        path: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ExecutorError>;
    /// Removes every trace of the container; destroying an unknown guid is not an error.
    async fn destroy(&self, guid: &str) -> Result<(), ExecutorError>;
    /// Guids of the containers the backend holds.
    async fn list(&self) -> Result<Vec<String>, ExecutorError>;
    /// A backend whose addresses are not reachable from the host (the fake) supplies its own checker.
    fn health_checker(&self) -> Option<Arc<dyn HealthChecker>> {
        None
    }
}

/// The home directory a relative path is resolved from, by user name.
pub fn home_dir(user: &str) -> String {
    match user {
        "" | "root" => "/root".to_string(),
        other => format!("/home/{other}"),
    }
}

/// Joins `path` onto `base` unless it is already absolute.
pub fn resolve_path(base: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{}", base.trim_end_matches('/'), path)
    }
}
