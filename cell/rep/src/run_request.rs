//! What the executor runs for an LRP instance or a task.

use diego_executor::{Lifecycle, RunRequest};
use diego_model::{DesiredLrp, EnvVar, Task};

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: value.into(),
    }
}

/// The desired env plus the identity variables the rep adds for LRPs.
pub(crate) fn for_lrp(d: &DesiredLrp, index: i32, instance_guid: &str) -> Option<RunRequest> {
    let action = d.action.clone()?;
    let mut req = RunRequest::new(Lifecycle::Lrp, action);
    req.rootfs = d.root_fs.clone();
    req.env = d.environment_variables.clone();
    req.env.extend([
        env("INSTANCE_GUID", instance_guid),
        env("INSTANCE_INDEX", index.to_string()),
        env("CF_INSTANCE_GUID", instance_guid),
        env("CF_INSTANCE_INDEX", index.to_string()),
    ]);
    req.setup = d.setup.clone();
    req.monitor = d.monitor.clone();
    req.check_definition = d.check_definition.clone();
    req.start_timeout_ms = u64::try_from(d.start_timeout_ms).unwrap_or(0);
    req.ports = d.ports.clone();
    req.max_pids = u64::try_from(d.max_pids).unwrap_or(0);
    req.log_source = d.log_source.clone();
    req.privileged = d.privileged;
    // validation requires every sidecar's action
    req.sidecars = d.sidecars.iter().filter_map(|s| s.action.clone()).collect();
    req.log_rate_limit_bytes_per_second = byte_limit(d.log_rate_limit_bytes_per_second);
    req.volume_mounted_files = d.volume_mounted_files.clone();
    req.egress_rules = d.egress_rules.clone();
    Some(req)
}

pub(crate) fn for_task(t: &Task) -> Option<RunRequest> {
    let def = &t.definition;
    let mut req = RunRequest::new(Lifecycle::Task, def.action.clone()?);
    req.rootfs = def.root_fs.clone();
    req.env = def.environment_variables.clone();
    req.max_pids = u64::try_from(def.max_pids).unwrap_or(0);
    req.log_source = def.log_source.clone();
    req.result_file = def.result_file.clone();
    req.privileged = def.privileged;
    req.log_rate_limit_bytes_per_second = byte_limit(def.log_rate_limit_bytes_per_second);
    req.volume_mounted_files = def.volume_mounted_files.clone();
    req.egress_rules = def.egress_rules.clone();
    Some(req)
}

/// The model's limit (-1 or absent = unlimited) as the executor's.
fn byte_limit(v: Option<i64>) -> Option<u64> {
    v.and_then(|b| u64::try_from(b).ok())
}
