//! Actual LRPs: keys, net info, states and presences.

use diego_model as m;
use diego_model::ModelError;

use super::common::tag_from_wire;
use super::{list_into, required, try_from_wire, unknown_enum, FromWire};
use crate::bbs::v1 as w;

impl From<m::ActualLrpKey> for w::ActualLrpKey {
    fn from(d: m::ActualLrpKey) -> Self {
        let m::ActualLrpKey {
            process_guid,
            index,
            domain,
        } = d;
        w::ActualLrpKey {
            process_guid,
            index,
            domain,
        }
    }
}

impl From<w::ActualLrpKey> for m::ActualLrpKey {
    fn from(v: w::ActualLrpKey) -> Self {
        let w::ActualLrpKey {
            process_guid,
            index,
            domain,
        } = v;
        m::ActualLrpKey {
            process_guid,
            index,
            domain,
        }
    }
}

impl From<m::InstanceKey> for w::ActualLrpInstanceKey {
    fn from(d: m::InstanceKey) -> Self {
        let m::InstanceKey {
            instance_guid,
            cell_id,
        } = d;
        w::ActualLrpInstanceKey {
            instance_guid,
            cell_id,
        }
    }
}

impl From<w::ActualLrpInstanceKey> for m::InstanceKey {
    fn from(v: w::ActualLrpInstanceKey) -> Self {
        let w::ActualLrpInstanceKey {
            instance_guid,
            cell_id,
        } = v;
        m::InstanceKey {
            instance_guid,
            cell_id,
        }
    }
}

impl From<m::PortMapping> for w::PortMapping {
    fn from(d: m::PortMapping) -> Self {
        let m::PortMapping {
            container_port,
            host_port,
            container_tls_proxy_port,
            host_tls_proxy_port,
        } = d;
        w::PortMapping {
            container_port,
            host_port,
            container_tls_proxy_port,
            host_tls_proxy_port,
        }
    }
}

impl From<w::PortMapping> for m::PortMapping {
    fn from(v: w::PortMapping) -> Self {
        let w::PortMapping {
            container_port,
            host_port,
            container_tls_proxy_port,
            host_tls_proxy_port,
        } = v;
        m::PortMapping {
            container_port,
            host_port,
            container_tls_proxy_port,
            host_tls_proxy_port,
        }
    }
}

impl From<m::PreferredAddress> for w::PreferredAddress {
    fn from(d: m::PreferredAddress) -> Self {
        match d {
            m::PreferredAddress::Unknown => w::PreferredAddress::Unknown,
            m::PreferredAddress::Instance => w::PreferredAddress::Instance,
            m::PreferredAddress::Host => w::PreferredAddress::Host,
        }
    }
}

impl From<w::PreferredAddress> for m::PreferredAddress {
    fn from(v: w::PreferredAddress) -> Self {
        match v {
            w::PreferredAddress::Unknown => m::PreferredAddress::Unknown,
            w::PreferredAddress::Instance => m::PreferredAddress::Instance,
            w::PreferredAddress::Host => m::PreferredAddress::Host,
        }
    }
}

impl From<m::NetInfo> for w::NetInfo {
    fn from(d: m::NetInfo) -> Self {
        let m::NetInfo {
            address,
            ports,
            instance_address,
            preferred_address,
            instance_ipv6_address,
        } = d;
        w::NetInfo {
            address,
            ports: list_into(ports),
            instance_address,
            preferred_address: w::PreferredAddress::from(preferred_address) as i32,
            instance_ipv6_address,
        }
    }
}

impl FromWire<w::NetInfo> for m::NetInfo {
    fn from_wire(v: w::NetInfo, path: &str) -> Result<Self, ModelError> {
        let w::NetInfo {
            address,
            ports,
            instance_address,
            preferred_address,
            instance_ipv6_address,
        } = v;
        let preferred = w::PreferredAddress::try_from(preferred_address)
            .map_err(|_| unknown_enum(path, "preferred_address", preferred_address))?;
        Ok(m::NetInfo {
            address,
            ports: list_into(ports),
            instance_address,
            preferred_address: preferred.into(),
            instance_ipv6_address,
        })
    }
}
try_from_wire!(m::NetInfo, w::NetInfo, "net_info");

/// Empty net info travels as an absent message.
pub(crate) fn net_info_to_wire(n: m::NetInfo) -> Option<w::NetInfo> {
    if n.is_empty() {
        None
    } else {
        Some(n.into())
    }
}

/// An empty instance key travels as an absent message.
pub(crate) fn instance_key_to_wire(k: m::InstanceKey) -> Option<w::ActualLrpInstanceKey> {
    if k.is_empty() {
        None
    } else {
        Some(k.into())
    }
}

impl From<m::ActualState> for w::ActualLrpState {
    fn from(d: m::ActualState) -> Self {
        match d {
            m::ActualState::Unclaimed => w::ActualLrpState::Unclaimed,
            m::ActualState::Claimed => w::ActualLrpState::Claimed,
            m::ActualState::Running => w::ActualLrpState::Running,
            m::ActualState::Crashed => w::ActualLrpState::Crashed,
        }
    }
}

fn state_from_wire(v: i32, path: &str) -> Result<m::ActualState, ModelError> {
    match w::ActualLrpState::try_from(v) {
        Ok(w::ActualLrpState::Unclaimed) => Ok(m::ActualState::Unclaimed),
        Ok(w::ActualLrpState::Claimed) => Ok(m::ActualState::Claimed),
        Ok(w::ActualLrpState::Running) => Ok(m::ActualState::Running),
        Ok(w::ActualLrpState::Crashed) => Ok(m::ActualState::Crashed),
        Ok(w::ActualLrpState::Unspecified) => Err(ModelError::invalid_field(
            &super::field(path, "state"),
            "must be set",
        )),
        Err(_) => Err(unknown_enum(path, "state", v)),
    }
}

impl From<m::Presence> for w::Presence {
    fn from(d: m::Presence) -> Self {
        match d {
            m::Presence::Ordinary => w::Presence::Ordinary,
            m::Presence::Evacuating => w::Presence::Evacuating,
            m::Presence::Suspect => w::Presence::Suspect,
        }
    }
}

impl From<w::Presence> for m::Presence {
    fn from(v: w::Presence) -> Self {
        match v {
            w::Presence::Ordinary => m::Presence::Ordinary,
            w::Presence::Evacuating => m::Presence::Evacuating,
            w::Presence::Suspect => m::Presence::Suspect,
        }
    }
}

impl From<m::ActualLrp> for w::ActualLrp {
    fn from(d: m::ActualLrp) -> Self {
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
        } = d;
        w::ActualLrp {
            key: Some(key.into()),
            instance_key: instance_key_to_wire(instance_key),
            net_info: net_info_to_wire(net_info),
            crash_count,
            crash_reason,
            state: w::ActualLrpState::from(state) as i32,
            placement_error,
            since,
            modification_tag: Some(modification_tag.into()),
            presence: w::Presence::from(presence) as i32,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        }
    }
}

impl FromWire<w::ActualLrp> for m::ActualLrp {
    fn from_wire(v: w::ActualLrp, path: &str) -> Result<Self, ModelError> {
        let w::ActualLrp {
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
        } = v;
        let presence = w::Presence::try_from(presence)
            .map_err(|_| unknown_enum(path, "presence", presence))?;
        let net_info = match net_info {
            Some(n) => m::NetInfo::from_wire(n, &super::field(path, "net_info"))?,
            None => m::NetInfo::default(),
        };
        Ok(m::ActualLrp {
            key: required(key, path, "key")?.into(),
            instance_key: instance_key.map(Into::into).unwrap_or_default(),
            net_info,
            crash_count,
            crash_reason,
            state: state_from_wire(state, path)?,
            placement_error,
            since,
            modification_tag: tag_from_wire(modification_tag),
            presence: presence.into(),
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        })
    }
}
try_from_wire!(m::ActualLrp, w::ActualLrp, "actual_lrp");
