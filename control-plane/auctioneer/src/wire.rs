//! Conversions between the rep API's wire types and the auction's inputs.

use std::collections::BTreeSet;

use diego_auction::{CellLrp, CellState, LrpStart, Resources, RootfsProvider, TaskStart};
use diego_proto::rep::v1 as pb;

fn resources(r: Option<pb::Resources>) -> Resources {
    let pb::Resources {
        memory_mb,
        disk_mb,
        containers,
    } = r.unwrap_or_default();
    Resources {
        memory_mb,
        disk_mb,
        containers,
    }
}

pub fn cell_state(s: pb::CellState) -> CellState {
    let pb::CellState {
        rep_url: _,
        cell_id,
        cell_index,
        zone,
        rootfs_providers,
        available_resources,
        total_resources,
        lrps,
        tasks,
        starting_container_count,
        evacuating,
        volume_drivers,
        placement_tags,
        optional_placement_tags,
        proxy_memory_mb,
    } = s;
    CellState {
        cell_id,
        cell_index,
        zone,
        rootfs_providers: rootfs_providers
            .into_iter()
            .map(|(scheme, p)| {
                let provider = match pb::RootfsProviderKind::try_from(p.kind) {
                    Ok(pb::RootfsProviderKind::Arbitrary) => RootfsProvider::Arbitrary,
                    _ => RootfsProvider::FixedSet(p.set.into_iter().collect::<BTreeSet<_>>()),
                };
                (scheme, provider)
            })
            .collect(),
        available: resources(available_resources),
        total: resources(total_resources),
        starting_container_count,
        lrps: lrps
            .into_iter()
            .map(|l| CellLrp {
                process_guid: l.process_guid,
                index: l.index,
            })
            .collect(),
        task_guids: tasks.into_iter().map(|t| t.task_guid).collect(),
        volume_drivers,
        placement_tags,
        optional_placement_tags,
        proxy_memory_mb,
        evacuating,
    }
}

pub fn lrp_to_wire(l: LrpStart, reason: String) -> pb::LrpStart {
    let LrpStart {
        process_guid,
        domain,
        index,
        memory_mb,
        disk_mb,
        max_pids,
        rootfs,
        placement_tags,
        volume_drivers,
    } = l;
    pb::LrpStart {
        process_guid,
        domain,
        index,
        memory_mb,
        disk_mb,
        max_pids,
        rootfs,
        placement_tags,
        volume_drivers,
        reason,
    }
}

pub fn lrp_from_wire(l: pb::LrpStart) -> (LrpStart, String) {
    let pb::LrpStart {
        process_guid,
        domain,
        index,
        memory_mb,
        disk_mb,
        max_pids,
        rootfs,
        placement_tags,
        volume_drivers,
        reason,
    } = l;
    (
        LrpStart {
            process_guid,
            domain,
            index,
            memory_mb,
            disk_mb,
            max_pids,
            rootfs,
            placement_tags,
            volume_drivers,
        },
        reason,
    )
}

pub fn task_to_wire(t: TaskStart, reason: String) -> pb::TaskStart {
    let TaskStart {
        task_guid,
        domain,
        memory_mb,
        disk_mb,
        max_pids,
        rootfs,
        placement_tags,
        volume_drivers,
    } = t;
    pb::TaskStart {
        task_guid,
        domain,
        memory_mb,
        disk_mb,
        max_pids,
        rootfs,
        placement_tags,
        volume_drivers,
        reason,
    }
}

pub fn task_from_wire(t: pb::TaskStart) -> (TaskStart, String) {
    let pb::TaskStart {
        task_guid,
        domain,
        memory_mb,
        disk_mb,
        max_pids,
        rootfs,
        placement_tags,
        volume_drivers,
        reason,
    } = t;
    (
        TaskStart {
            task_guid,
            domain,
            memory_mb,
            disk_mb,
            max_pids,
            rootfs,
            placement_tags,
            volume_drivers,
        },
        reason,
    )
}

/// The wire form of a cell state (used by reps that serve the API).
pub fn cell_state_to_wire(s: &CellState, rep_url: &str) -> pb::CellState {
    let res = |r: Resources| {
        Some(pb::Resources {
            memory_mb: r.memory_mb,
            disk_mb: r.disk_mb,
            containers: r.containers,
        })
    };
    pb::CellState {
        rep_url: rep_url.to_string(),
        cell_id: s.cell_id.clone(),
        cell_index: s.cell_index,
        zone: s.zone.clone(),
        rootfs_providers: s
            .rootfs_providers
            .iter()
            .map(|(k, p)| {
                let v = match p {
                    RootfsProvider::Arbitrary => pb::RootfsProvider {
                        kind: pb::RootfsProviderKind::Arbitrary as i32,
                        set: vec![],
                    },
                    RootfsProvider::FixedSet(set) => pb::RootfsProvider {
                        kind: pb::RootfsProviderKind::FixedSet as i32,
                        set: set.iter().cloned().collect(),
                    },
                };
                (k.clone(), v)
            })
            .collect(),
        available_resources: res(s.available),
        total_resources: res(s.total),
        lrps: s
            .lrps
            .iter()
            .map(|l| pb::CellLrp {
                process_guid: l.process_guid.clone(),
                index: l.index,
                ..Default::default()
            })
            .collect(),
        tasks: s
            .task_guids
            .iter()
            .map(|g| pb::CellTask {
                task_guid: g.clone(),
                ..Default::default()
            })
            .collect(),
        starting_container_count: s.starting_container_count,
        evacuating: s.evacuating,
        volume_drivers: s.volume_drivers.clone(),
        placement_tags: s.placement_tags.clone(),
        optional_placement_tags: s.optional_placement_tags.clone(),
        proxy_memory_mb: s.proxy_memory_mb,
    }
}
