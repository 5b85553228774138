//! Desired LRPs, their updates and scheduling infos.

use diego_model as m;
use diego_model::ModelError;

use super::common::{
    metric_tags_from_wire, metric_tags_to_wire, routes_from_wire, routes_to_wire, tag_from_wire,
};
use super::{field, list_into, try_from_wire, unknown_enum, FromWire};
use crate::bbs::v1 as w;

impl From<m::UpdateStrategy> for w::UpdateStrategy {
    fn from(d: m::UpdateStrategy) -> Self {
        match d {
            m::UpdateStrategy::Rolling => w::UpdateStrategy::Rolling,
            m::UpdateStrategy::Recreate => w::UpdateStrategy::Recreate,
        }
    }
}

impl From<w::UpdateStrategy> for m::UpdateStrategy {
    fn from(v: w::UpdateStrategy) -> Self {
        match v {
            w::UpdateStrategy::Rolling => m::UpdateStrategy::Rolling,
            w::UpdateStrategy::Recreate => m::UpdateStrategy::Recreate,
        }
    }
}

fn optional_action(
    v: Option<w::Action>,
    path: &str,
    name: &str,
) -> Result<Option<m::Action>, ModelError> {
    v.map(|a| m::Action::from_wire(a, &field(path, name)))
        .transpose()
}

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
            environment_variables: list_into(environment_variables),
            setup: setup.map(Into::into),
            action: action.map(Into::into),
            monitor: monitor.map(Into::into),
            disk_mb,
            memory_mb,
            cpu_weight,
            privileged,
            ports,
            routes: routes_to_wire(routes),
            log_source,
            log_guid,
            metrics_guid,
            annotation,
            modification_tag: Some(modification_tag.into()),
            volume_mounts: list_into(volume_mounts),
            start_timeout_ms,
            placement_tags,
            max_pids,
            image_username,
            image_password,
            check_definition: check_definition.map(Into::into),
            metric_tags: metric_tags_to_wire(metric_tags),
            log_rate_limit_bytes_per_second,
            update_strategy: w::UpdateStrategy::from(update_strategy) as i32,
            sidecars: list_into(sidecars),
            volume_mounted_files: list_into(volume_mounted_files),
            egress_rules: list_into(egress_rules),
            network: network.map(Into::into),
            certificate_properties: certificate_properties.map(Into::into),
            trusted_system_certificates_path,
        }
    }
}

/// A missing action is left to validation ("action is required").
impl FromWire<w::DesiredLrp> for m::DesiredLrp {
    fn from_wire(v: w::DesiredLrp, path: &str) -> Result<Self, ModelError> {
        let w::DesiredLrp {
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
        } = v;
        let update_strategy = w::UpdateStrategy::try_from(update_strategy)
            .map_err(|_| unknown_enum(path, "update_strategy", update_strategy))?;
        Ok(m::DesiredLrp {
            process_guid,
            domain,
            root_fs,
            instances,
            environment_variables: list_into(environment_variables),
            setup: optional_action(setup, path, "setup")?,
            action: optional_action(action, path, "action")?,
            monitor: optional_action(monitor, path, "monitor")?,
            disk_mb,
            memory_mb,
            cpu_weight,
            privileged,
            ports,
            routes: routes_from_wire(routes, path)?,
            log_source,
            log_guid,
            metrics_guid,
            annotation,
            modification_tag: tag_from_wire(modification_tag),
            volume_mounts: list_into(volume_mounts),
            start_timeout_ms,
            placement_tags,
            max_pids,
            image_username,
            image_password,
            check_definition: check_definition.map(Into::into),
            metric_tags: metric_tags_from_wire(metric_tags),
            log_rate_limit_bytes_per_second,
            update_strategy: update_strategy.into(),
            sidecars: sidecars
                .into_iter()
                .enumerate()
                .map(|(i, s)| sidecar_from(s, &field(path, &format!("sidecars[{i}]"))))
                .collect::<Result<_, _>>()?,
            volume_mounted_files: list_into(volume_mounted_files),
            egress_rules: list_into(egress_rules),
            network: network.map(Into::into),
            certificate_properties: certificate_properties.map(Into::into),
            trusted_system_certificates_path,
        })
    }
}

impl From<m::Sidecar> for w::Sidecar {
    fn from(s: m::Sidecar) -> Self {
        let m::Sidecar {
            action,
            disk_mb,
            memory_mb,
        } = s;
        w::Sidecar {
            action: action.map(Into::into),
            disk_mb,
            memory_mb,
        }
    }
}

fn sidecar_from(s: w::Sidecar, path: &str) -> Result<m::Sidecar, ModelError> {
    let w::Sidecar {
        action,
        disk_mb,
        memory_mb,
    } = s;
    Ok(m::Sidecar {
        action: optional_action(action, path, "action")?,
        disk_mb,
        memory_mb,
    })
}
// The root path is empty so errors read "invalid field: setup.run.path ...",
// the same paths `diego_model::validate` uses.
try_from_wire!(m::DesiredLrp, w::DesiredLrp, "");

impl From<m::DesiredLrpUpdate> for w::DesiredLrpUpdate {
    fn from(d: m::DesiredLrpUpdate) -> Self {
        let m::DesiredLrpUpdate {
            instances,
            routes,
            annotation,
            metric_tags,
            image_username,
            image_password,
        } = d;
        w::DesiredLrpUpdate {
            instances,
            routes: routes.map(Into::into),
            annotation,
            metric_tags: metric_tags.map(Into::into),
            image_username,
            image_password,
        }
    }
}

impl FromWire<w::DesiredLrpUpdate> for m::DesiredLrpUpdate {
    fn from_wire(v: w::DesiredLrpUpdate, path: &str) -> Result<Self, ModelError> {
        let w::DesiredLrpUpdate {
            instances,
            routes,
            annotation,
            metric_tags,
            image_username,
            image_password,
        } = v;
        Ok(m::DesiredLrpUpdate {
            instances,
            routes: routes
                .map(|r| {
                    let w::Routes { routes } = r;
                    routes_from_wire(routes, path)
                })
                .transpose()?,
            annotation,
            metric_tags: metric_tags.map(|t| {
                let w::MetricTags { tags } = t;
                metric_tags_from_wire(tags)
            }),
            image_username,
            image_password,
        })
    }
}
try_from_wire!(m::DesiredLrpUpdate, w::DesiredLrpUpdate, "update");

impl From<m::SchedulingInfo> for w::SchedulingInfo {
    fn from(d: m::SchedulingInfo) -> Self {
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
        } = d;
        w::SchedulingInfo {
            process_guid,
            domain,
            log_guid,
            annotation,
            instances,
            memory_mb,
            disk_mb,
            max_pids,
            root_fs,
            routes: routes_to_wire(routes),
            modification_tag: Some(modification_tag.into()),
            volume_drivers,
            placement_tags,
        }
    }
}

impl FromWire<w::SchedulingInfo> for m::SchedulingInfo {
    fn from_wire(v: w::SchedulingInfo, path: &str) -> Result<Self, ModelError> {
        let w::SchedulingInfo {
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
        } = v;
        Ok(m::SchedulingInfo {
            process_guid,
            domain,
            log_guid,
            annotation,
            instances,
            memory_mb,
            disk_mb,
            max_pids,
            root_fs,
            routes: routes_from_wire(routes, path)?,
            modification_tag: tag_from_wire(modification_tag),
            volume_drivers,
            placement_tags,
        })
    }
}
try_from_wire!(m::SchedulingInfo, w::SchedulingInfo, "scheduling_info");
