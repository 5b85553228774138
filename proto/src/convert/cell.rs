//! Cell presences and domains.

use diego_model as m;
use diego_model::ModelError;

use super::{required, try_from_wire, FromWire};
use crate::bbs::v1 as w;

impl From<m::CellPresence> for w::CellPresence {
    fn from(d: m::CellPresence) -> Self {
        let m::CellPresence {
            cell_id,
            rep_address,
            zone,
            capacity,
            rootfs_providers,
            placement_tags,
            optional_placement_tags,
            rep_url,
            annotations,
        } = d;
        let m::CellCapacity {
            memory_mb,
            disk_mb,
            containers,
        } = capacity;
        w::CellPresence {
            cell_id,
            rep_address,
            zone,
            capacity: Some(w::CellCapacity {
                memory_mb,
                disk_mb,
                containers,
            }),
            rootfs_providers: rootfs_providers
                .into_iter()
                .map(|p| {
                    let m::Provider { name, properties } = p;
                    w::Provider { name, properties }
                })
                .collect(),
            placement_tags,
            optional_placement_tags,
            rep_url,
            annotations,
        }
    }
}

impl FromWire<w::CellPresence> for m::CellPresence {
    fn from_wire(v: w::CellPresence, path: &str) -> Result<Self, ModelError> {
        let w::CellPresence {
            cell_id,
            rep_address,
            zone,
            capacity,
            rootfs_providers,
            placement_tags,
            optional_placement_tags,
            rep_url,
            annotations,
        } = v;
        let w::CellCapacity {
            memory_mb,
            disk_mb,
            containers,
        } = required(capacity, path, "capacity")?;
        Ok(m::CellPresence {
            cell_id,
            rep_address,
            zone,
            capacity: m::CellCapacity {
                memory_mb,
                disk_mb,
                containers,
            },
            rootfs_providers: rootfs_providers
                .into_iter()
                .map(|p| {
                    let w::Provider { name, properties } = p;
                    m::Provider { name, properties }
                })
                .collect(),
            placement_tags,
            optional_placement_tags,
            rep_url,
            annotations,
        })
    }
}
try_from_wire!(m::CellPresence, w::CellPresence, "cell");

impl From<m::Domain> for w::Domain {
    fn from(d: m::Domain) -> Self {
        let m::Domain { name, expire_at_ns } = d;
        w::Domain { name, expire_at_ns }
    }
}

impl From<w::Domain> for m::Domain {
    fn from(v: w::Domain) -> Self {
        let w::Domain { name, expire_at_ns } = v;
        m::Domain { name, expire_at_ns }
    }
}
