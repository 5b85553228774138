//! Tasks and task definitions.

use diego_model as m;
use diego_model::ModelError;

use super::action::{action_from, env_from, env_into, files_from, files_into};
use super::parts::{
    certificate_properties_from, certificate_properties_into, egress_from, egress_into,
    metric_tags_from, metric_tags_into, network_from, network_into, volume_mounts_from,
    volume_mounts_into,
};
use super::{field, version};
use crate::models as w;

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
            environment_variables: env_into(environment_variables),
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
            volume_mounts: volume_mounts_into(volume_mounts),
            placement_tags,
            max_pids,
            image_username,
            image_password,
            log_rate_limit: log_rate_limit_bytes_per_second
                .map(|bytes_per_second| w::LogRateLimit { bytes_per_second }),
            metric_tags: metric_tags_into(metric_tags),
            volume_mounted_files: files_into(volume_mounted_files),
            egress_rules: egress_into(egress_rules),
            network: network_into(network),
            certificate_properties: certificate_properties_into(certificate_properties),
            trusted_system_certificates_path,
            ..Default::default()
        }
    }
}

/// Wire -> domain. Every field is carried; image layers and cached
/// dependencies are lowered into download actions.
pub fn task_definition_from(
    d: w::TaskDefinition,
    path: &str,
) -> Result<m::TaskDefinition, ModelError> {
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
        egress_rules,
        cached_dependencies,
        legacy_download_user,
        trusted_system_certificates_path,
        volume_mounts,
        network,
        placement_tags,
        max_pids,
        certificate_properties,
        image_username,
        image_password,
        image_layers,
        log_rate_limit,
        metric_tags,
        volume_mounted_files,
    } = d;
    let action = action
        .map(|a| action_from(a, &field(path, "action")))
        .transpose()?;
    let action = version::lower_downloads(
        image_layers,
        cached_dependencies,
        &legacy_download_user,
        action,
    );
    Ok(m::TaskDefinition {
        root_fs,
        environment_variables: env_from(environment_variables),
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
        volume_mounts: volume_mounts_from(volume_mounts),
        placement_tags,
        max_pids,
        image_username,
        image_password,
        log_rate_limit_bytes_per_second: log_rate_limit
            .map(|w::LogRateLimit { bytes_per_second }| bytes_per_second),
        metric_tags: metric_tags_from(metric_tags, &field(path, "metric_tags"))?,
        volume_mounted_files: files_from(volume_mounted_files),
        egress_rules: egress_from(egress_rules),
        network: network_from(network),
        certificate_properties: certificate_properties_from(certificate_properties),
        trusted_system_certificates_path,
    })
}

impl From<m::Task> for w::Task {
    fn from(t: m::Task) -> Self {
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
        } = t;
        w::Task {
            task_definition: Some(definition.into()),
            task_guid,
            domain,
            created_at,
            updated_at,
            first_completed_at,
            state: state as i32,
            cell_id,
            result,
            failed,
            failure_reason,
            rejection_count,
            rejection_reason,
        }
    }
}

/// The JSON body of a completion callback (`TaskCallbackResponse`).
pub fn callback_of(t: &m::Task) -> w::TaskCallbackResponse {
    w::TaskCallbackResponse {
        task_guid: t.task_guid.clone(),
        failed: t.failed,
        failure_reason: t.failure_reason.clone(),
        result: t.result.clone(),
        annotation: t.definition.annotation.clone(),
        created_at: t.created_at,
    }
}
