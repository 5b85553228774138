//! Tasks: definition, record and the pure state machine of spec §4.1.

use serde::{Deserialize, Serialize};

use crate::{truncate_reason, Action, EnvVar, ModelError, TimeNs};

/// Reasons are stored truncated to this many bytes (spec §3.6).
pub const MAX_REASON_BYTES: usize = 1024;
/// Diego's default `max_task_retries`: the initial attempt plus three retries.
pub const DEFAULT_MAX_TASK_RETRIES: i32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeMount {
    pub driver: String,
    pub container_dir: String,
    pub mode: String,
    /// The volume service's device: kept for the driver, which diego-rs
    /// cells do not run (placement only matches the driver's name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<SharedDevice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SharedDevice {
    pub volume_id: String,
    /// The driver's options, as JSON text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mount_config: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricTagValue {
    #[serde(rename = "static", skip_serializing_if = "String::is_empty")]
    pub static_value: String,
    /// `INDEX` or `INSTANCE_GUID`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dynamic: String,
}

/// What a task runs and with what resources (`TaskDefinition`). In JSON its
/// fields are flattened into the task object, as the original writes them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskDefinition {
    #[serde(rename = "rootfs")]
    pub root_fs: String,
    #[serde(rename = "env", skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    pub disk_mb: i32,
    pub memory_mb: i32,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub cpu_weight: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_guid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub metrics_guid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub result_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub completion_callback_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub annotation: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placement_tags: Vec<String>,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub max_pids: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_rate_limit_bytes_per_second: Option<i64>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metric_tags: std::collections::BTreeMap<String, MetricTagValue>,
    /// Files the task's processes see (service bindings): a relative path
    /// lands under `/etc/cf-service-bindings`, read-only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounted_files: Vec<crate::File>,
    /// Application security groups: the egress the work is allowed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub egress_rules: Vec<crate::SecurityGroupRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::Network>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_properties: Option<crate::CertificateProperties>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub trusted_system_certificates_path: String,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}
fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum TaskState {
    #[default]
    Invalid = 0,
    Pending = 1,
    Running = 2,
    Completed = 3,
    Resolving = 4,
}

impl TaskState {
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Invalid => "Invalid",
            TaskState::Pending => "Pending",
            TaskState::Running => "Running",
            TaskState::Completed => "Completed",
            TaskState::Resolving => "Resolving",
        }
    }

    pub fn from_i32(v: i32) -> Option<Self> {
        [
            Self::Invalid,
            Self::Pending,
            Self::Running,
            Self::Completed,
            Self::Resolving,
        ]
        .into_iter()
        .find(|s| *s as i32 == v)
    }

    /// The generic check (`ValidateTransitionTo`): Running only from Pending,
    /// Completed only from Running, Resolving only from Completed.
    pub fn can_transition_to(self, to: TaskState) -> bool {
        matches!(
            (self, to),
            (TaskState::Pending, TaskState::Running)
                | (TaskState::Running, TaskState::Completed)
                | (TaskState::Completed, TaskState::Resolving)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Task {
    pub task_guid: String,
    pub domain: String,
    #[serde(flatten)]
    pub definition: TaskDefinition,
    pub created_at: TimeNs,
    pub updated_at: TimeNs,
    pub first_completed_at: TimeNs,
    pub state: TaskState,
    pub cell_id: String,
    pub result: String,
    pub failed: bool,
    pub failure_reason: String,
    pub rejection_count: i32,
    pub rejection_reason: String,
}

/// What `start` decided: whether the rep should run the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartDecision {
    pub should_start: bool,
    /// False when the call was a no-op (already running on the same cell).
    pub changed: bool,
}

impl Task {
    /// A new Pending task as `DesireTask` stores it.
    pub fn desired(guid: &str, domain: &str, definition: TaskDefinition, now_ns: TimeNs) -> Self {
        Task {
            task_guid: guid.to_string(),
            domain: domain.to_string(),
            definition,
            created_at: now_ns,
            updated_at: now_ns,
            state: TaskState::Pending,
            ..Default::default()
        }
    }

    fn transition(&self, to: TaskState) -> Result<(), ModelError> {
        if self.state.can_transition_to(to) {
            Ok(())
        } else {
            Err(ModelError::transition(self.state.name(), to.name()))
        }
    }

    /// `StartTask(guid, cell)`: Pending -> Running on that cell. A repeat on
    /// the same cell is a no-op that tells the rep not to start again; any
    /// other state (running elsewhere included) is refused, so a task can
    /// never start on two cells.
    pub fn start(&mut self, cell_id: &str, now_ns: TimeNs) -> Result<StartDecision, ModelError> {
        if self.state == TaskState::Running && self.cell_id == cell_id {
            return Ok(StartDecision {
                should_start: false,
                changed: false,
            });
        }
        self.transition(TaskState::Running)?;
        self.state = TaskState::Running;
        self.cell_id = cell_id.to_string();
        self.updated_at = now_ns;
        Ok(StartDecision {
            should_start: true,
            changed: true,
        })
    }

    /// `CompleteTask`: only from Running and only by the cell running it.
    pub fn complete(
        &mut self,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
        now_ns: TimeNs,
    ) -> Result<(), ModelError> {
        if self.state == TaskState::Running && self.cell_id != cell_id {
            return Err(ModelError::new(
                crate::ErrorCode::RunningOnDifferentCell,
                format!("Running on cell {} not {}", self.cell_id, cell_id),
            ));
        }
        self.transition(TaskState::Completed)?;
        self.finish(failed, failure_reason, result, now_ns);
        Ok(())
    }

    fn finish(&mut self, failed: bool, failure_reason: &str, result: &str, now_ns: TimeNs) {
        self.state = TaskState::Completed;
        self.failed = failed;
        self.failure_reason = truncate_reason(failure_reason, MAX_REASON_BYTES);
        self.result = result.to_string();
        self.first_completed_at = now_ns;
        self.updated_at = now_ns;
        self.cell_id.clear();
    }

    /// `CancelTask` and the deprecated `FailTask`: Pending or Running ->
    /// Completed and failed. Returns the cell the task was running on, which
    /// the caller asks to stop the container.
    pub fn fail(&mut self, reason: &str, now_ns: TimeNs) -> Result<Option<String>, ModelError> {
        match self.state {
            TaskState::Pending | TaskState::Running => {
                let cell = std::mem::take(&mut self.cell_id);
                self.finish(true, reason, "", now_ns);
                Ok(if cell.is_empty() { None } else { Some(cell) })
            }
            other => Err(ModelError::transition(
                other.name(),
                TaskState::Completed.name(),
            )),
        }
    }

    /// `CancelTask`: fails the task with the original's reason.
    pub fn cancel(&mut self, now_ns: TimeNs) -> Result<Option<String>, ModelError> {
        self.fail("task was cancelled", now_ns)
    }

    /// `RejectTask`: back to Pending with the count raised; once the count
    /// before this rejection reached `max_retries` the task fails instead.
    pub fn reject(
        &mut self,
        reason: &str,
        max_retries: i32,
        now_ns: TimeNs,
    ) -> Result<RejectOutcome, ModelError> {
        if !matches!(self.state, TaskState::Pending | TaskState::Running) {
            return Err(ModelError::invalid_request());
        }
        let before = self.rejection_count;
        self.rejection_count += 1;
        self.rejection_reason = truncate_reason(reason, MAX_REASON_BYTES);
        self.state = TaskState::Pending;
        self.cell_id.clear();
        self.updated_at = now_ns;
        if before >= max_retries {
            self.finish(true, reason, "", now_ns);
            return Ok(RejectOutcome::Failed);
        }
        Ok(RejectOutcome::Requeued)
    }

    /// `ResolvingTask`: Completed -> Resolving.
    pub fn resolving(&mut self, now_ns: TimeNs) -> Result<(), ModelError> {
        self.transition(TaskState::Resolving)?;
        self.state = TaskState::Resolving;
        self.updated_at = now_ns;
        Ok(())
    }

    /// `DeleteTask` is allowed only from Resolving; the message names
    /// Resolving as the target, as the original's does.
    pub fn check_deletable(&self) -> Result<(), ModelError> {
        if self.state == TaskState::Resolving {
            Ok(())
        } else {
            Err(ModelError::transition(
                self.state.name(),
                TaskState::Resolving.name(),
            ))
        }
    }

    /// Convergence: a Resolving task whose callback stalled goes back to
    /// Completed (updated_at untouched) so it is kicked again.
    pub fn demote_to_completed(&mut self) {
        if self.state == TaskState::Resolving {
            self.state = TaskState::Completed;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectOutcome {
    /// Back to Pending: auction it again.
    Requeued,
    /// Out of retries: Completed and failed with the rejection reason.
    Failed,
}
