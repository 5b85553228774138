//! Actual LRPs, their keys, the deprecated groups and `ActualLRPInfo`.

use diego_model as m;

use super::parts::tag_of;
use crate::models as w;

pub(crate) fn key_into(k: m::ActualLrpKey) -> w::ActualLrpKey {
    let m::ActualLrpKey {
        process_guid,
        index,
        domain,
    } = k;
    w::ActualLrpKey {
        process_guid,
        index,
        domain,
    }
}

pub fn key_from(k: Option<w::ActualLrpKey>) -> m::ActualLrpKey {
    let w::ActualLrpKey {
        process_guid,
        index,
        domain,
    } = k.unwrap_or_default();
    m::ActualLrpKey {
        process_guid,
        index,
        domain,
    }
}

pub(crate) fn instance_key_into(k: m::InstanceKey) -> w::ActualLrpInstanceKey {
    let m::InstanceKey {
        instance_guid,
        cell_id,
    } = k;
    w::ActualLrpInstanceKey {
        instance_guid,
        cell_id,
    }
}

pub fn instance_key_from(k: Option<w::ActualLrpInstanceKey>) -> m::InstanceKey {
    let w::ActualLrpInstanceKey {
        instance_guid,
        cell_id,
    } = k.unwrap_or_default();
    m::InstanceKey {
        instance_guid,
        cell_id,
    }
}

fn net_info_into(n: m::NetInfo) -> w::ActualLrpNetInfo {
    let m::NetInfo {
        address,
        ports,
        instance_address,
        preferred_address,
        instance_ipv6_address,
    } = n;
    w::ActualLrpNetInfo {
        address,
        ports: ports
            .into_iter()
            .map(
                |m::PortMapping {
                     container_port,
                     host_port,
                     container_tls_proxy_port,
                     host_tls_proxy_port,
                 }| w::PortMapping {
                    container_port,
                    host_port,
                    container_tls_proxy_port,
                    host_tls_proxy_port,
                },
            )
            .collect(),
        instance_address,
        preferred_address: preferred_address as i32,
        instance_ipv6_address,
    }
}

/// Wire -> domain; an unknown preferred address reads as UNKNOWN, as gogo
/// keeps unknown enum numbers and the original treats them as unset.
pub fn net_info_from(n: Option<w::ActualLrpNetInfo>) -> m::NetInfo {
    let w::ActualLrpNetInfo {
        address,
        ports,
        instance_address,
        preferred_address,
        instance_ipv6_address,
    } = n.unwrap_or_default();
    m::NetInfo {
        address,
        ports: ports
            .into_iter()
            .map(
                |w::PortMapping {
                     container_port,
                     host_port,
                     container_tls_proxy_port,
                     host_tls_proxy_port,
                 }| m::PortMapping {
                    container_port,
                    host_port,
                    container_tls_proxy_port,
                    host_tls_proxy_port,
                },
            )
            .collect(),
        instance_address,
        preferred_address: match preferred_address {
            1 => m::PreferredAddress::Instance,
            2 => m::PreferredAddress::Host,
            _ => m::PreferredAddress::Unknown,
        },
        instance_ipv6_address,
    }
}

pub fn internal_routes_from(r: Vec<w::ActualLrpInternalRoute>) -> Vec<String> {
    r.into_iter()
        .map(|w::ActualLrpInternalRoute { hostname }| hostname)
        .collect()
}

impl From<m::ActualLrp> for w::ActualLrp {
    fn from(a: m::ActualLrp) -> Self {
        let m::ActualLrp {
            key,
            instance_key,
            net_info,
            crash_count,
            crash_reason,
            state,
            placement_error,
            since,
            modification_tag,
            presence,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        } = a;
        w::ActualLrp {
            actual_lrp_key: Some(key_into(key)),
            actual_lrp_instance_key: Some(instance_key_into(instance_key)),
            actual_lrp_net_info: Some(net_info_into(net_info)),
            crash_count,
            crash_reason,
            state: state.name().to_string(),
            placement_error,
            since,
            modification_tag: tag_of(modification_tag),
            presence: presence as i32,
            actual_lrp_internal_routes: internal_routes
                .into_iter()
                .map(|hostname| w::ActualLrpInternalRoute { hostname })
                .collect(),
            metric_tags,
            optional_routable: routable.map(w::actual_lrp::OptionalRoutable::Routable),
            availability_zone,
        }
    }
}

/// `ActualLRPInfo`: the record without its keys, for the changed event.
pub fn info_of(a: &m::ActualLrp) -> w::ActualLrpInfo {
    let w::ActualLrp {
        actual_lrp_key: _,
        actual_lrp_instance_key: _,
        actual_lrp_net_info,
        crash_count,
        crash_reason,
        state,
        placement_error,
        since,
        modification_tag,
        presence,
        actual_lrp_internal_routes: _,
        metric_tags: _,
        optional_routable,
        availability_zone,
    } = a.clone().into();
    w::ActualLrpInfo {
        actual_lrp_net_info,
        crash_count,
        crash_reason,
        state,
        placement_error,
        since,
        modification_tag,
        presence,
        optional_routable: optional_routable.map(|w::actual_lrp::OptionalRoutable::Routable(r)| {
            w::actual_lrp_info::OptionalRoutable::Routable(r)
        }),
        availability_zone,
    }
}

/// The deprecated group view: the ordinary (or suspect) row as `instance`
/// and the evacuating row as `evacuating`.
pub fn group_of(a: &m::ActualLrp) -> w::ActualLrpGroup {
    let wire: w::ActualLrp = a.clone().into();
    if a.presence == m::Presence::Evacuating {
        w::ActualLrpGroup {
            instance: None,
            evacuating: Some(wire),
        }
    } else {
        w::ActualLrpGroup {
            instance: Some(wire),
            evacuating: None,
        }
    }
}
