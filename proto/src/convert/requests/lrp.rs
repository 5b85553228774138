//! The arguments of the desired and actual LRP calls.

use std::collections::BTreeMap;

use diego_model as m;
use diego_model::ModelError;

use crate::bbs::v1 as w;
use crate::convert::{required, required_from, try_from_wire, FromWire};

impl From<m::DesiredLrp> for w::DesireLrpRequest {
    fn from(d: m::DesiredLrp) -> Self {
        w::DesireLrpRequest {
            desired_lrp: Some(d.into()),
        }
    }
}

impl FromWire<w::DesireLrpRequest> for m::DesiredLrp {
    fn from_wire(v: w::DesireLrpRequest, path: &str) -> Result<Self, ModelError> {
        let w::DesireLrpRequest { desired_lrp } = v;
        let d = required(desired_lrp, path, "desired_lrp")?;
        // Inner paths stay relative to the record ("setup.run.path"), as
        // validation names them.
        m::DesiredLrp::from_wire(d, path)
    }
}
try_from_wire!(m::DesiredLrp, w::DesireLrpRequest, "");

/// `UpdateDesiredLrp(process_guid, update)`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateDesiredLrp {
    pub process_guid: String,
    pub update: m::DesiredLrpUpdate,
}

impl From<UpdateDesiredLrp> for w::UpdateDesiredLrpRequest {
    fn from(d: UpdateDesiredLrp) -> Self {
        let UpdateDesiredLrp {
            process_guid,
            update,
        } = d;
        w::UpdateDesiredLrpRequest {
            process_guid,
            update: Some(update.into()),
        }
    }
}

impl FromWire<w::UpdateDesiredLrpRequest> for UpdateDesiredLrp {
    fn from_wire(v: w::UpdateDesiredLrpRequest, path: &str) -> Result<Self, ModelError> {
        let w::UpdateDesiredLrpRequest {
            process_guid,
            update,
        } = v;
        Ok(UpdateDesiredLrp {
            process_guid,
            update: required_from(update, path, "update")?,
        })
    }
}
try_from_wire!(UpdateDesiredLrp, w::UpdateDesiredLrpRequest, "");

/// `ClaimActualLrp(process_guid, index, instance_key)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimActualLrp {
    pub process_guid: String,
    pub index: i32,
    pub instance_key: m::InstanceKey,
}

impl From<ClaimActualLrp> for w::ClaimActualLrpRequest {
    fn from(d: ClaimActualLrp) -> Self {
        let ClaimActualLrp {
            process_guid,
            index,
            instance_key,
        } = d;
        w::ClaimActualLrpRequest {
            process_guid,
            index,
            instance_key: Some(instance_key.into()),
        }
    }
}

impl FromWire<w::ClaimActualLrpRequest> for ClaimActualLrp {
    fn from_wire(v: w::ClaimActualLrpRequest, path: &str) -> Result<Self, ModelError> {
        let w::ClaimActualLrpRequest {
            process_guid,
            index,
            instance_key,
        } = v;
        Ok(ClaimActualLrp {
            process_guid,
            index,
            instance_key: required(instance_key, path, "instance_key")?.into(),
        })
    }
}
try_from_wire!(ClaimActualLrp, w::ClaimActualLrpRequest, "");

/// `StartActualLrp` and `EvacuateRunningActualLrp`: an instance reports it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct StartActualLrp {
    pub key: m::ActualLrpKey,
    pub instance_key: m::InstanceKey,
    pub info: m::RunningInfo,
}

/// The request fields both running calls share, in wire form.
type RunningParts = (
    Option<w::ActualLrpKey>,
    Option<w::ActualLrpInstanceKey>,
    Option<w::NetInfo>,
    Vec<String>,
    BTreeMap<String, String>,
    Option<bool>,
    String,
);

fn start_from_parts(parts: RunningParts, path: &str) -> Result<StartActualLrp, ModelError> {
    let (key, instance_key, net_info, internal_routes, metric_tags, routable, availability_zone) =
        parts;
    Ok(StartActualLrp {
        key: required(key, path, "key")?.into(),
        instance_key: required(instance_key, path, "instance_key")?.into(),
        info: m::RunningInfo {
            net_info: required_from(net_info, path, "net_info")?,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        },
    })
}

fn start_into_parts(d: StartActualLrp) -> RunningParts {
    let StartActualLrp {
        key,
        instance_key,
        info,
    } = d;
    let m::RunningInfo {
        net_info,
        internal_routes,
        metric_tags,
        routable,
        availability_zone,
    } = info;
    (
        Some(key.into()),
        Some(instance_key.into()),
        // Net info is required in these requests, so it is sent even when empty.
        Some(net_info.into()),
        internal_routes,
        metric_tags,
        routable,
        availability_zone,
    )
}

impl From<StartActualLrp> for w::StartActualLrpRequest {
    fn from(d: StartActualLrp) -> Self {
        let (
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        ) = start_into_parts(d);
        w::StartActualLrpRequest {
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        }
    }
}

impl FromWire<w::StartActualLrpRequest> for StartActualLrp {
    fn from_wire(v: w::StartActualLrpRequest, path: &str) -> Result<Self, ModelError> {
        let w::StartActualLrpRequest {
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        } = v;
        let parts = (
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        );
        start_from_parts(parts, path)
    }
}
try_from_wire!(StartActualLrp, w::StartActualLrpRequest, "");

impl From<StartActualLrp> for w::EvacuateRunningActualLrpRequest {
    fn from(d: StartActualLrp) -> Self {
        let (
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        ) = start_into_parts(d);
        w::EvacuateRunningActualLrpRequest {
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        }
    }
}

impl FromWire<w::EvacuateRunningActualLrpRequest> for StartActualLrp {
    fn from_wire(v: w::EvacuateRunningActualLrpRequest, path: &str) -> Result<Self, ModelError> {
        let w::EvacuateRunningActualLrpRequest {
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        } = v;
        let parts = (
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        );
        start_from_parts(parts, path)
    }
}
try_from_wire!(StartActualLrp, w::EvacuateRunningActualLrpRequest, "");
