//! Desired LRPs, their updates and scheduling infos.

use diego_model as m;
use diego_model::ModelError;

use super::action::{action_from, env_from, env_into, files_from, files_into};
use super::parts::{
    certificate_properties_from, certificate_properties_into, check_from, check_into, egress_from,
    egress_into, metric_tags_from, metric_tags_into, network_from, network_into, routes_from,
    routes_into, tag_from, tag_of, volume_mounts_from, volume_mounts_into,
};
use super::{field, version};
use crate::models as w;

impl From<m::DesiredLrp> for w::DesiredLrp {
    fn from(d: m::DesiredLrp) -> Self {
        let m::DesiredLrp {
            process_guid,
            domain,
            root_fs,
            instances,
            environment_variables,
            setup,
            action,
            monitor,
            disk_mb,
            memory_mb,
            cpu_weight,
            privileged,
            ports,
            routes,
            log_source,
            log_guid,
            metrics_guid,
            annotation,
            modification_tag,
            volume_mounts,
            start_timeout_ms,
            placement_tags,
            max_pids,
            image_username,
            image_password,
            check_definition,
            metric_tags,
            log_rate_limit_bytes_per_second,
            update_strategy,
            sidecars,
            volume_mounted_files,
            egress_rules,
            network,
            certificate_properties,
            trusted_system_certificates_path,
        } = d;
        w::DesiredLrp {
            process_guid,
            domain,
            root_fs,
            instances,
            environment_variables: env_into(environment_variables),
            setup: setup.map(Into::into),
            action: action.map(Into::into),
            start_timeout_ms,
            monitor: monitor.map(Into::into),
            disk_mb,
            memory_mb,
            cpu_weight,
            privileged,
            ports,
            routes: routes_into(routes),
            log_source,
            log_guid,
            metrics_guid,
            annotation,
            modification_tag: tag_of(modification_tag),
            volume_mounts: volume_mounts_into(volume_mounts),
            placement_tags,
            max_pids,
            image_username,
            image_password,
            check_definition: check_definition.map(
                |m::CheckDefinition {
                     checks,
                     log_source,
                     readiness_checks,
                 }| w::CheckDefinition {
                    checks: checks.into_iter().map(check_into).collect(),
                    log_source,
                    readiness_checks: readiness_checks.into_iter().map(check_into).collect(),
                },
            ),
            metric_tags: metric_tags_into(metric_tags),
            log_rate_limit: log_rate_limit_bytes_per_second
                .map(|bytes_per_second| w::LogRateLimit { bytes_per_second }),
            update_strategy: update_strategy as i32,
            volume_mounted_files: files_into(volume_mounted_files),
            egress_rules: egress_into(egress_rules),
            network: network_into(network),
            certificate_properties: certificate_properties_into(certificate_properties),
            trusted_system_certificates_path,
            sidecars: sidecars
                .into_iter()
                .map(
                    |m::Sidecar {
                         action,
                         disk_mb,
                         memory_mb,
                     }| w::Sidecar {
                        action: action.map(Into::into),
                        disk_mb,
                        memory_mb,
                    },
                )
                .collect(),
            ..Default::default()
        }
    }
}

/// Wire -> domain. Every field is carried; image layers and cached
/// dependencies are lowered into download actions in `setup`.
pub fn desired_lrp_from(d: w::DesiredLrp) -> Result<m::DesiredLrp, ModelError> {
    let w::DesiredLrp {
        process_guid,
        domain,
        root_fs,
        instances,
        environment_variables,
        setup,
        action,
        start_timeout_ms,
        deprecated_start_timeout_s,
        monitor,
        disk_mb,
        memory_mb,
        cpu_weight,
        privileged,
        ports,
        routes,
        log_source,
        log_guid,
        metrics_guid,
        annotation,
        egress_rules,
        modification_tag,
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
        check_definition,
        image_layers,
        metric_tags,
        sidecars,
        log_rate_limit,
        volume_mounted_files,
        update_strategy,
    } = d;
    // The original requires non-nil metric tags, and gogo decodes an empty
    // map as nil; our domain accepts none, so the wire rule lives here.
    if metric_tags.is_empty() {
        return Err(ModelError::invalid_field("metric_tags", "is required"));
    }
    if let Some(source) = metric_tags.get("source_id") {
        if !metrics_guid.is_empty() && source.r#static != metrics_guid {
            return Err(ModelError::invalid_field(
                "metric_tags",
                "source_id must equal metrics_guid",
            ));
        }
    }
    let act = |a: Option<w::Action>, name: &str| a.map(|a| action_from(a, name)).transpose();
    let setup = version::lower_downloads(
        image_layers,
        cached_dependencies,
        &legacy_download_user,
        act(setup, "setup")?,
    );
    // Old clients send only the deprecated seconds field.
    let start_timeout_ms = if start_timeout_ms == 0 {
        i64::from(deprecated_start_timeout_s) * 1000
    } else {
        start_timeout_ms
    };
    Ok(m::DesiredLrp {
        process_guid,
        domain,
        root_fs,
        instances,
        environment_variables: env_from(environment_variables),
        setup,
        action: act(action, "action")?,
        monitor: act(monitor, "monitor")?,
        disk_mb,
        memory_mb,
        cpu_weight,
        privileged,
        ports,
        routes: routes_from(routes, "routes")?,
        log_source,
        log_guid,
        metrics_guid,
        annotation,
        modification_tag: tag_from(modification_tag),
        volume_mounts: volume_mounts_from(volume_mounts),
        start_timeout_ms,
        placement_tags,
        max_pids,
        image_username,
        image_password,
        check_definition: check_definition.map(
            |w::CheckDefinition {
                 checks,
                 log_source,
                 readiness_checks,
             }| m::CheckDefinition {
                checks: checks.into_iter().map(check_from).collect(),
                log_source,
                readiness_checks: readiness_checks.into_iter().map(check_from).collect(),
            },
        ),
        metric_tags: metric_tags_from(metric_tags, "metric_tags")?,
        log_rate_limit_bytes_per_second: log_rate_limit
            .map(|w::LogRateLimit { bytes_per_second }| bytes_per_second),
        sidecars: sidecars
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let w::Sidecar {
                    action,
                    disk_mb,
                    memory_mb,
                } = s;
                Ok(m::Sidecar {
                    action: act(action, &format!("sidecars[{i}].action"))?,
                    disk_mb,
                    memory_mb,
                })
            })
            .collect::<Result<_, ModelError>>()?,
        volume_mounted_files: files_from(volume_mounted_files),
        egress_rules: egress_from(egress_rules),
        network: network_from(network),
        certificate_properties: certificate_properties_from(certificate_properties),
        trusted_system_certificates_path,
        update_strategy: match w::desired_lrp::UpdateStrategy::try_from(update_strategy) {
            Ok(w::desired_lrp::UpdateStrategy::Recreate) => m::UpdateStrategy::Recreate,
            Ok(w::desired_lrp::UpdateStrategy::Rolling) => m::UpdateStrategy::Rolling,
            Err(_) => {
                return Err(ModelError::invalid_field(
                    "update_strategy",
                    &format!("has unknown value {update_strategy}"),
                ))
            }
        },
    })
}

/// `DesiredLRPUpdate`: absent oneofs and an absent `routes` leave the field
/// alone; an empty metric tag map means "unchanged", as gogo cannot tell an
/// empty map from none.
pub fn desired_lrp_update_from(u: w::DesiredLrpUpdate) -> Result<m::DesiredLrpUpdate, ModelError> {
    use w::desired_lrp_update as o;
    let w::DesiredLrpUpdate {
        optional_instances,
        routes,
        optional_annotation,
        metric_tags,
        optional_image_username,
        optional_image_password,
    } = u;
    Ok(m::DesiredLrpUpdate {
        instances: optional_instances.map(|o::OptionalInstances::Instances(n)| n),
        routes: match routes {
            None => None,
            Some(r) => Some(routes_from(Some(r), &field("update", "routes"))?),
        },
        annotation: optional_annotation.map(|o::OptionalAnnotation::Annotation(a)| a),
        metric_tags: if metric_tags.is_empty() {
            None
        } else {
            Some(metric_tags_from(metric_tags, "update.metric_tags")?)
        },
        image_username: optional_image_username.map(|o::OptionalImageUsername::ImageUsername(s)| s),
        image_password: optional_image_password.map(|o::OptionalImagePassword::ImagePassword(s)| s),
    })
}

/// `DesiredLRPSchedulingInfo`; its routes are non-nullable, so always sent.
pub fn scheduling_info(s: m::SchedulingInfo) -> w::DesiredLrpSchedulingInfo {
    let m::SchedulingInfo {
        process_guid,
        domain,
        log_guid,
        annotation,
        instances,
        memory_mb,
        disk_mb,
        max_pids,
        root_fs,
        routes,
        modification_tag,
        volume_drivers,
        placement_tags,
    } = s;
    w::DesiredLrpSchedulingInfo {
        desired_lrp_key: Some(w::DesiredLrpKey {
            process_guid,
            domain,
            log_guid,
        }),
        annotation,
        instances,
        desired_lrp_resource: Some(w::DesiredLrpResource {
            memory_mb,
            disk_mb,
            root_fs,
            max_pids,
        }),
        routes: Some(routes_into(routes).unwrap_or_default()),
        modification_tag: tag_of(modification_tag),
        volume_placement: Some(w::VolumePlacement {
            driver_names: volume_drivers,
        }),
        placement_tags,
    }
}
