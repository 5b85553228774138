//! The action tree a task or an LRP runs (spec §3.2, semantics in §6.3).
//!
//! In JSON an action is an object with exactly one key naming its kind, as the
//! original writes it: `{"run": {...}}`, `{"serial": {"actions": [...]}}`.

use serde::{Deserialize, Serialize};

use crate::EnvVar;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Download(DownloadAction),
    Upload(UploadAction),
    Run(RunAction),
    Timeout(TimeoutAction),
    EmitProgress(EmitProgressAction),
    Try(TryAction),
    Parallel(ParallelAction),
    Serial(SerialAction),
    Codependent(CodependentAction),
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Download(_) => "download",
            Action::Upload(_) => "upload",
            Action::Run(_) => "run",
            Action::Timeout(_) => "timeout",
            Action::EmitProgress(_) => "emit_progress",
            Action::Try(_) => "try",
            Action::Parallel(_) => "parallel",
            Action::Serial(_) => "serial",
            Action::Codependent(_) => "codependent",
        }
    }

    /// A convenience for tests and examples.
    pub fn run(path: &str, args: &[&str]) -> Self {
        Action::Run(RunAction {
            path: path.to_string(),
            args: args.iter().map(|s| s.to_string()).collect(),
            user: "root".to_string(),
            ..Default::default()
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DownloadAction {
    pub artifact: String,
    pub from: String,
    pub to: String,
    pub cache_key: String,
    pub log_source: String,
    pub user: String,
    pub checksum_algorithm: String,
    pub checksum_value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadAction {
    pub artifact: String,
    pub from: String,
    pub to: String,
    pub log_source: String,
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nofile: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nproc: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct File {
    pub path: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunAction {
    pub path: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dir: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<ResourceLimits>,
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_source: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub suppress_log_output: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounted_files: Vec<File>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeoutAction {
    pub action: Box<Action>,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub deprecated_timeout_ns: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_source: String,
    #[serde(default)]
    pub timeout_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmitProgressAction {
    pub action: Box<Action>,
    #[serde(default)]
    pub start_message: String,
    #[serde(default)]
    pub success_message: String,
    #[serde(default)]
    pub failure_message_prefix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TryAction {
    pub action: Box<Action>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_source: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ParallelAction {
    #[serde(default)]
    pub actions: Vec<Action>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_source: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SerialAction {
    #[serde(default)]
    pub actions: Vec<Action>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_source: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CodependentAction {
    #[serde(default)]
    pub actions: Vec<Action>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_source: String,
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// `CheckDefinition { checks, log_source, readiness_checks }` (spec §3.3).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckDefinition {
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_source: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub readiness_checks: Vec<Check>,
}

/// Exactly one of the two must be set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Check {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_check: Option<TcpCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_check: Option<HttpCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TcpCheck {
    pub port: u32,
    pub connect_timeout_ms: u64,
    pub interval_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpCheck {
    pub port: u32,
    pub request_timeout_ms: u64,
    pub path: String,
    pub interval_ms: u64,
}
