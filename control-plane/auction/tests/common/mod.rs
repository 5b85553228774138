//! Builders shared by the integration tests.
#![allow(dead_code)]

use diego_auction::{AuctionConfig, CellState, LrpStart, Plan, Resources, TaskStart};

pub const ROOTFS: &str = "preloaded:cflinuxfs4";

pub fn cell(id: &str, zone: &str, memory_mb: i32, disk_mb: i32, containers: i32) -> CellState {
    CellState::new(id, zone, Resources::new(memory_mb, disk_mb, containers))
        .with_standard_providers(&["cflinuxfs4"])
}

pub fn lrp(guid: &str, index: i32, memory_mb: i32, disk_mb: i32) -> LrpStart {
    LrpStart::new(guid, index, memory_mb, disk_mb, ROOTFS)
}

pub fn task(guid: &str, memory_mb: i32, disk_mb: i32) -> TaskStart {
    TaskStart::new(guid, memory_mb, disk_mb, ROOTFS)
}

pub fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The cell an LRP instance landed on, if any.
pub fn lrp_cell(plan: &Plan, guid: &str, index: i32) -> Option<String> {
    plan.assignments.iter().find_map(|(cell, work)| {
        work.lrps
            .iter()
            .any(|l| l.process_guid == guid && l.index == index)
            .then(|| cell.clone())
    })
}

pub fn task_cell(plan: &Plan, guid: &str) -> Option<String> {
    plan.assignments.iter().find_map(|(cell, work)| {
        work.tasks
            .iter()
            .any(|t| t.task_guid == guid)
            .then(|| cell.clone())
    })
}

pub fn lrp_error(plan: &Plan, guid: &str, index: i32) -> Option<String> {
    plan.failed_lrps
        .iter()
        .find(|(l, _)| l.process_guid == guid && l.index == index)
        .map(|(_, e)| e.to_string())
}

pub fn task_error(plan: &Plan, guid: &str) -> Option<String> {
    plan.failed_tasks
        .iter()
        .find(|(t, _)| t.task_guid == guid)
        .map(|(_, e)| e.to_string())
}

pub fn explain() -> AuctionConfig {
    AuctionConfig {
        explain: true,
        ..AuctionConfig::default()
    }
}
