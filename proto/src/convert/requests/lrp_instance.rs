//! The actual LRP calls addressed to one instance by key and instance key.

use diego_model as m;
use diego_model::ModelError;

use crate::bbs::v1 as w;
use crate::convert::{required, try_from_wire, FromWire};

/// `CrashActualLrp` and `EvacuateCrashedActualLrp`.
#[derive(Debug, Clone, PartialEq)]
pub struct CrashActualLrp {
    pub key: m::ActualLrpKey,
    pub instance_key: m::InstanceKey,
    pub error_message: String,
}

/// Implements both directions for a request of `key`, `instance_key` and
/// `error_message`.
macro_rules! crash_shaped {
    ($wire:path) => {
        impl From<CrashActualLrp> for $wire {
            fn from(d: CrashActualLrp) -> Self {
                let CrashActualLrp {
                    key,
                    instance_key,
                    error_message,
                } = d;
                Self {
                    key: Some(key.into()),
                    instance_key: Some(instance_key.into()),
                    error_message,
                }
            }
        }

        impl FromWire<$wire> for CrashActualLrp {
            fn from_wire(v: $wire, path: &str) -> Result<Self, ModelError> {
                let $wire {
                    key,
                    instance_key,
                    error_message,
                } = v;
                Ok(CrashActualLrp {
                    key: required(key, path, "key")?.into(),
                    instance_key: required(instance_key, path, "instance_key")?.into(),
                    error_message,
                })
            }
        }
        try_from_wire!(CrashActualLrp, $wire, "");
    };
}
crash_shaped!(w::CrashActualLrpRequest);
crash_shaped!(w::EvacuateCrashedActualLrpRequest);

/// `EvacuateClaimedActualLrp`, `EvacuateStoppedActualLrp` and
/// `RemoveEvacuatingActualLrp`: one instance, nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct LrpInstance {
    pub key: m::ActualLrpKey,
    pub instance_key: m::InstanceKey,
}

macro_rules! instance_shaped {
    ($wire:path) => {
        impl From<LrpInstance> for $wire {
            fn from(d: LrpInstance) -> Self {
                let LrpInstance { key, instance_key } = d;
                Self {
                    key: Some(key.into()),
                    instance_key: Some(instance_key.into()),
                }
            }
        }

        impl FromWire<$wire> for LrpInstance {
            fn from_wire(v: $wire, path: &str) -> Result<Self, ModelError> {
                let $wire { key, instance_key } = v;
                Ok(LrpInstance {
                    key: required(key, path, "key")?.into(),
                    instance_key: required(instance_key, path, "instance_key")?.into(),
                })
            }
        }
        try_from_wire!(LrpInstance, $wire, "");
    };
}
instance_shaped!(w::EvacuateClaimedActualLrpRequest);
instance_shaped!(w::EvacuateStoppedActualLrpRequest);
instance_shaped!(w::RemoveEvacuatingActualLrpRequest);

/// `FailActualLrp(key, error_message)`: the auction could not place it.
#[derive(Debug, Clone, PartialEq)]
pub struct FailActualLrp {
    pub key: m::ActualLrpKey,
    pub error_message: String,
}

impl From<FailActualLrp> for w::FailActualLrpRequest {
    fn from(d: FailActualLrp) -> Self {
        let FailActualLrp { key, error_message } = d;
        w::FailActualLrpRequest {
            key: Some(key.into()),
            error_message,
        }
    }
}

impl FromWire<w::FailActualLrpRequest> for FailActualLrp {
    fn from_wire(v: w::FailActualLrpRequest, path: &str) -> Result<Self, ModelError> {
        let w::FailActualLrpRequest { key, error_message } = v;
        Ok(FailActualLrp {
            key: required(key, path, "key")?.into(),
            error_message,
        })
    }
}
try_from_wire!(FailActualLrp, w::FailActualLrpRequest, "");

/// `RemoveActualLrp(process_guid, index, instance_key?)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoveActualLrp {
    pub process_guid: String,
    pub index: i32,
    /// `None` removes whatever instance holds the index.
    pub instance_key: Option<m::InstanceKey>,
}

impl From<RemoveActualLrp> for w::RemoveActualLrpRequest {
    fn from(d: RemoveActualLrp) -> Self {
        let RemoveActualLrp {
            process_guid,
            index,
            instance_key,
        } = d;
        w::RemoveActualLrpRequest {
            process_guid,
            index,
            instance_key: instance_key.map(Into::into),
        }
    }
}

impl From<w::RemoveActualLrpRequest> for RemoveActualLrp {
    fn from(v: w::RemoveActualLrpRequest) -> Self {
        let w::RemoveActualLrpRequest {
            process_guid,
            index,
            instance_key,
        } = v;
        RemoveActualLrp {
            process_guid,
            index,
            instance_key: instance_key.map(Into::into),
        }
    }
}

/// `RetireActualLrp(key)`.
impl From<m::ActualLrpKey> for w::RetireActualLrpRequest {
    fn from(key: m::ActualLrpKey) -> Self {
        w::RetireActualLrpRequest {
            key: Some(key.into()),
        }
    }
}

impl FromWire<w::RetireActualLrpRequest> for m::ActualLrpKey {
    fn from_wire(v: w::RetireActualLrpRequest, path: &str) -> Result<Self, ModelError> {
        let w::RetireActualLrpRequest { key } = v;
        Ok(required(key, path, "key")?.into())
    }
}
try_from_wire!(m::ActualLrpKey, w::RetireActualLrpRequest, "");
