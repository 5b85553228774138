//! The executor's view of a container and the requests that drive it (spec §6.1).

use std::collections::BTreeMap;

use diego_model::{Action, CheckDefinition, EnvVar, PortMapping};

use crate::backend::BindMount;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContainerState {
    Reserved,
    Initializing,
    Created,
    Running,
    Completed,
}

impl ContainerState {
    pub fn as_str(&self) -> &'static str {
        match self {
            ContainerState::Reserved => "reserved",
            ContainerState::Initializing => "initializing",
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Completed => "completed",
        }
    }

    /// Any state may complete; otherwise only single forward steps.
    pub fn can_transition_to(self, to: ContainerState) -> bool {
        use ContainerState::*;
        matches!(
            (self, to),
            (Reserved, Initializing)
                | (Initializing, Created)
                | (Created, Running)
                | (Reserved | Initializing | Created | Running, Completed)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunResult {
    pub failed: bool,
    /// Truncated to 10000 bytes.
    pub failure_reason: String,
    pub retryable: bool,
    /// The exit was requested through `stop` or `delete`.
    pub stopped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerNet {
    pub internal_ip: String,
    pub external_ip: String,
    pub ports: Vec<PortMapping>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub guid: String,
    pub state: ContainerState,
    pub tags: BTreeMap<String, String>,
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub run_result: Option<RunResult>,
    /// False until readiness checks pass (true at running when there are none).
    pub routable: bool,
    pub net: ContainerNet,
    /// The result file's content for a completed task that named one.
    pub result: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AllocationRequest {
    pub guid: String,
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lifecycle {
    #[default]
    Lrp,
    Task,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    pub rootfs: String,
    /// Desired env plus the identity vars (INSTANCE_INDEX, CF_INSTANCE_GUID...) the caller adds.
    pub env: Vec<EnvVar>,
    pub setup: Option<Action>,
    pub action: Action,
    pub monitor: Option<Action>,
    pub check_definition: Option<CheckDefinition>,
    /// 0 = wait forever for the startup checks.
    pub start_timeout_ms: u64,
    pub ports: Vec<u32>,
    pub max_pids: u64,
    /// Default log source of the container's lines; empty = "APP".
    pub log_source: String,
    /// Task result file read after completion (at most 51200 bytes).
    pub result_file: String,
    pub lifecycle: Lifecycle,
    pub privileged: bool,
    pub bind_mounts: Vec<BindMount>,
    /// LRPs: actions that run beside `action`; the first of them all to
    /// exit, even successfully, stops the rest (spec §6.2).
    pub sidecars: Vec<Action>,
    /// The work's log rate limit in bytes per second; None = unlimited.
    /// Lines over it are dropped and the app is told once a second.
    pub log_rate_limit_bytes_per_second: Option<u64>,
    /// Files every process of the container sees (service bindings),
    /// placed before the setup action runs.
    pub volume_mounted_files: Vec<diego_model::File>,
    /// The work's egress rules; the OCI backend enforces them in the
    /// container's network namespace.
    pub egress_rules: Vec<diego_model::SecurityGroupRule>,
}

impl RunRequest {
    pub fn new(lifecycle: Lifecycle, action: Action) -> Self {
        Self {
            rootfs: "preloaded:busybox".to_string(),
            env: Vec::new(),
            setup: None,
            action,
            monitor: None,
            check_definition: None,
            start_timeout_ms: 0,
            ports: Vec::new(),
            max_pids: 0,
            log_source: String::new(),
            result_file: String::new(),
            lifecycle,
            privileged: false,
            bind_mounts: Vec::new(),
            sidecars: Vec::new(),
            log_rate_limit_bytes_per_second: None,
            volume_mounted_files: Vec::new(),
            egress_rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerEventKind {
    Reserved,
    Running,
    Completed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub guid: String,
    pub kind: ContainerEventKind,
    /// The container as it was when the event fired.
    pub container: Container,
}

pub const MAX_RESULT_FILE_BYTES: u64 = 51_200;
pub const MAX_FAILURE_REASON_BYTES: usize = 10_000;
