//! Tasks and task definitions.

use diego_model as m;
use diego_model::ModelError;

use super::common::{metric_tags_from_wire, metric_tags_to_wire};
use super::{list_into, required_from, try_from_wire, unknown_enum, FromWire};
use crate::bbs::v1 as w;

impl From<m::TaskState> for w::TaskState {
    fn from(d: m::TaskState) -> Self {
        match d {
            m::TaskState::Invalid => w::TaskState::Invalid,
            m::TaskState::Pending => w::TaskState::Pending,
            m::TaskState::Running => w::TaskState::Running,
            m::TaskState::Completed => w::TaskState::Completed,
            m::TaskState::Resolving => w::TaskState::Resolving,
        }
    }
}

impl From<w::TaskState> for m::TaskState {
    fn from(v: w::TaskState) -> Self {
        match v {
            w::TaskState::Invalid => m::TaskState::Invalid,
            w::TaskState::Pending => m::TaskState::Pending,
            w::TaskState::Running => m::TaskState::Running,
            w::TaskState::Completed => m::TaskState::Completed,
            w::TaskState::Resolving => m::TaskState::Resolving,
        }
    }
}

impl From<m::TaskDefinition> for w::TaskDefinition {
    fn from(d: m::TaskDefinition) -> Self {
        let m::TaskDefinition {
            root_fs,
            environment_variables,
            action,
            disk_mb,
            memory_mb,
            cpu_weight,
            privileged,
            log_source,
            log_guid,
            metrics_guid,
            result_file,
            completion_callback_url,
            annotation,
            volume_mounts,
            placement_tags,
            max_pids,
            image_username,
            image_password,
            log_rate_limit_bytes_per_second,
            metric_tags,
            volume_mounted_files,
            egress_rules,
            network,
            certificate_properties,
            trusted_system_certificates_path,
        } = d;
        w::TaskDefinition {
            root_fs,
            environment_variables: list_into(environment_variables),
            action: action.map(Into::into),
            disk_mb,
            memory_mb,
            cpu_weight,
            privileged,
            log_source,
            log_guid,
            metrics_guid,
            result_file,
            completion_callback_url,
            annotation,
            volume_mounts: list_into(volume_mounts),
            placement_tags,
            max_pids,
            image_username,
            image_password,
            log_rate_limit_bytes_per_second,
            metric_tags: metric_tags_to_wire(metric_tags),
            volume_mounted_files: list_into(volume_mounted_files),
            egress_rules: list_into(egress_rules),
            network: network.map(Into::into),
            certificate_properties: certificate_properties.map(Into::into),
            trusted_system_certificates_path,
        }
    }
}

/// A missing action is not a decoding error: validation reports
/// "action is required", as it does for a JSON definition.
impl FromWire<w::TaskDefinition> for m::TaskDefinition {
    fn from_wire(v: w::TaskDefinition, path: &str) -> Result<Self, ModelError> {
        let w::TaskDefinition {
            root_fs,
            environment_variables,
            action,
            disk_mb,
            memory_mb,
            cpu_weight,
            privileged,
            log_source,
            log_guid,
            metrics_guid,
            result_file,
            completion_callback_url,
            annotation,
            volume_mounts,
            placement_tags,
            max_pids,
            image_username,
            image_password,
            log_rate_limit_bytes_per_second,
            metric_tags,
            volume_mounted_files,
            egress_rules,
            network,
            certificate_properties,
            trusted_system_certificates_path,
        } = v;
        Ok(m::TaskDefinition {
            root_fs,
            environment_variables: list_into(environment_variables),
            action: action
                .map(|a| m::Action::from_wire(a, &super::field(path, "action")))
                .transpose()?,
            disk_mb,
            memory_mb,
            cpu_weight,
            privileged,
            log_source,
            log_guid,
            metrics_guid,
            result_file,
            completion_callback_url,
            annotation,
            volume_mounts: list_into(volume_mounts),
            placement_tags,
            max_pids,
            image_username,
            image_password,
            log_rate_limit_bytes_per_second,
            metric_tags: metric_tags_from_wire(metric_tags),
            volume_mounted_files: list_into(volume_mounted_files),
            egress_rules: list_into(egress_rules),
            network: network.map(Into::into),
            certificate_properties: certificate_properties.map(Into::into),
            trusted_system_certificates_path,
        })
    }
}
try_from_wire!(m::TaskDefinition, w::TaskDefinition, "");

impl From<m::Task> for w::Task {
    fn from(d: m::Task) -> Self {
        let m::Task {
            task_guid,
            domain,
            definition,
            created_at,
            updated_at,
            first_completed_at,
            state,
            cell_id,
            result,
            failed,
            failure_reason,
            rejection_count,
            rejection_reason,
        } = d;
        w::Task {
            task_guid,
            domain,
            definition: Some(definition.into()),
            created_at,
            updated_at,
            first_completed_at,
            state: w::TaskState::from(state) as i32,
            cell_id,
            result,
            failed,
            failure_reason,
            rejection_count,
            rejection_reason,
        }
    }
}

impl FromWire<w::Task> for m::Task {
    fn from_wire(v: w::Task, path: &str) -> Result<Self, ModelError> {
        let w::Task {
            task_guid,
            domain,
            definition,
            created_at,
            updated_at,
            first_completed_at,
            state,
            cell_id,
            result,
            failed,
            failure_reason,
            rejection_count,
            rejection_reason,
        } = v;
        let state =
            w::TaskState::try_from(state).map_err(|_| unknown_enum(path, "state", state))?;
        Ok(m::Task {
            task_guid,
            domain,
            definition: required_from(definition, path, "definition")?,
            created_at,
            updated_at,
            first_completed_at,
            state: state.into(),
            cell_id,
            result,
            failed,
            failure_reason,
            rejection_count,
            rejection_reason,
        })
    }
}
try_from_wire!(m::Task, w::Task, "task");
