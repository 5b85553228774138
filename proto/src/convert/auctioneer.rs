//! The auctioneer API (`diego.auctioneer.v1`, ADR 0013): what the BBS sends
//! and the auction inputs the auctioneer makes of it.
//!
//! The BBS speaks model types (an LRP's scheduling info and the indices to
//! start, a task's start), the auctioneer consumes the auction's per-instance
//! inputs, so the two directions convert between different domain types.
//! Wire to domain checks every entry and names the first bad field
//! (`lrps[1].indices[0] is negative (-1)`); Diego drops such entries
//! silently, we refuse the request so the caller hears about it.

use diego_auction::{LrpStart, TaskStart};
use diego_model::{ModelError, SchedulingInfo};

use super::field;
use crate::auctioneer::v1 as w;

/// The start request for some instances of one desired LRP.
pub fn lrp_start_request(info: &SchedulingInfo, indices: Vec<i32>) -> w::LrpStartRequest {
    let SchedulingInfo {
        process_guid,
        domain,
        // identity and routing: nothing the auction places by
        log_guid: _,
        annotation: _,
        instances: _,
        routes: _,
        modification_tag: _,
        memory_mb,
        disk_mb,
        max_pids,
        root_fs,
        volume_drivers,
        placement_tags,
    } = info;
    w::LrpStartRequest {
        process_guid: process_guid.clone(),
        domain: domain.clone(),
        indices,
        memory_mb: *memory_mb,
        disk_mb: *disk_mb,
        max_pids: *max_pids,
        rootfs: root_fs.clone(),
        placement_tags: placement_tags.clone(),
        volume_drivers: volume_drivers.clone(),
    }
}

impl From<TaskStart> for w::TaskStartRequest {
    fn from(t: TaskStart) -> Self {
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
        w::TaskStartRequest {
            task_guid,
            domain,
            memory_mb,
            disk_mb,
            max_pids,
            rootfs,
            placement_tags,
            volume_drivers,
        }
    }
}

/// Every LRP instance a request asks to place, one `LrpStart` per index.
pub fn lrp_starts(r: w::RequestLrpAuctionsRequest) -> Result<Vec<LrpStart>, ModelError> {
    let w::RequestLrpAuctionsRequest { lrps } = r;
    let mut out = Vec::new();
    for (i, l) in lrps.into_iter().enumerate() {
        out.extend(lrp_start(l, &format!("lrps[{i}]"))?);
    }
    Ok(out)
}

/// Every task a request asks to place.
pub fn task_starts(r: w::RequestTaskAuctionsRequest) -> Result<Vec<TaskStart>, ModelError> {
    let w::RequestTaskAuctionsRequest { tasks } = r;
    tasks
        .into_iter()
        .enumerate()
        .map(|(i, t)| task_start(t, &format!("tasks[{i}]")))
        .collect()
}

fn lrp_start(l: w::LrpStartRequest, path: &str) -> Result<Vec<LrpStart>, ModelError> {
    let w::LrpStartRequest {
        process_guid,
        domain,
        indices,
        memory_mb,
        disk_mb,
        max_pids,
        rootfs,
        placement_tags,
        volume_drivers,
    } = l;
    not_empty(&process_guid, path, "process_guid")?;
    not_empty(&domain, path, "domain")?;
    if indices.is_empty() {
        return Err(ModelError::invalid_field(
            &field(path, "indices"),
            "is empty",
        ));
    }
    for (i, index) in indices.iter().enumerate() {
        not_negative(*index, path, &format!("indices[{i}]"))?;
    }
    not_negative(memory_mb, path, "memory_mb")?;
    not_negative(disk_mb, path, "disk_mb")?;
    not_negative(max_pids, path, "max_pids")?;
    not_empty(&rootfs, path, "rootfs")?;
    Ok(indices
        .into_iter()
        .map(|index| LrpStart {
            process_guid: process_guid.clone(),
            domain: domain.clone(),
            index,
            memory_mb,
            disk_mb,
            max_pids,
            rootfs: rootfs.clone(),
            placement_tags: placement_tags.clone(),
            volume_drivers: volume_drivers.clone(),
        })
        .collect())
}

fn task_start(t: w::TaskStartRequest, path: &str) -> Result<TaskStart, ModelError> {
    let w::TaskStartRequest {
        task_guid,
        domain,
        memory_mb,
        disk_mb,
        max_pids,
        rootfs,
        placement_tags,
        volume_drivers,
    } = t;
    not_empty(&task_guid, path, "task_guid")?;
    not_empty(&domain, path, "domain")?;
    not_negative(memory_mb, path, "memory_mb")?;
    not_negative(disk_mb, path, "disk_mb")?;
    not_negative(max_pids, path, "max_pids")?;
    not_empty(&rootfs, path, "rootfs")?;
    Ok(TaskStart {
        task_guid,
        domain,
        memory_mb,
        disk_mb,
        max_pids,
        rootfs,
        placement_tags,
        volume_drivers,
    })
}

fn not_empty(v: &str, path: &str, name: &str) -> Result<(), ModelError> {
    if v.is_empty() {
        return Err(ModelError::invalid_field(&field(path, name), "is empty"));
    }
    Ok(())
}

fn not_negative(v: i32, path: &str, name: &str) -> Result<(), ModelError> {
    if v < 0 {
        return Err(ModelError::invalid_field(
            &field(path, name),
            &format!("is negative ({v})"),
        ));
    }
    Ok(())
}
