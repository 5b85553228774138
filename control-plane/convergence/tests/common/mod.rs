//! Builders shared by the table tests and the proptests.
#![allow(dead_code)]

use std::collections::BTreeSet;

use diego_convergence::Snapshot;
use diego_model::{
    ActualLrp, ActualLrpKey, ActualState, InstanceKey, Presence, SchedulingInfo, Task, TaskState,
    NS_PER_S,
};

/// A "now" far enough from zero that every deadline is positive.
pub const NOW: i64 = 100_000 * NS_PER_S;
pub const S: i64 = NS_PER_S;

pub fn desired(pg: &str, domain: &str, instances: i32) -> SchedulingInfo {
    SchedulingInfo {
        process_guid: pg.into(),
        domain: domain.into(),
        instances,
        ..Default::default()
    }
}

/// A row in domain "d", stamped `since = NOW`. Placed states get an instance
/// key on `cell`; the others get none.
pub fn row(pg: &str, index: i32, presence: Presence, state: ActualState, cell: &str) -> ActualLrp {
    let placed = matches!(state, ActualState::Claimed | ActualState::Running);
    ActualLrp {
        key: ActualLrpKey::new(pg, index, "d"),
        instance_key: if placed {
            InstanceKey::new(&format!("{pg}-{index}-{}", presence as i32), cell)
        } else {
            InstanceKey::default()
        },
        state,
        presence,
        since: NOW,
        ..Default::default()
    }
}

pub fn ordinary(pg: &str, index: i32, state: ActualState, cell: &str) -> ActualLrp {
    row(pg, index, Presence::Ordinary, state, cell)
}

pub fn task(guid: &str, state: TaskState, cell: &str) -> Task {
    Task {
        task_guid: guid.into(),
        domain: "d".into(),
        state,
        cell_id: cell.into(),
        created_at: NOW,
        updated_at: NOW,
        first_completed_at: if matches!(state, TaskState::Completed | TaskState::Resolving) {
            NOW
        } else {
            0
        },
        ..Default::default()
    }
}

pub fn cells(ids: &[&str]) -> Option<BTreeSet<String>> {
    Some(ids.iter().map(|s| s.to_string()).collect())
}

/// Domain "d" fresh, cells as given.
pub fn snap(
    desired: Vec<SchedulingInfo>,
    actuals: Vec<ActualLrp>,
    cell_ids: Option<BTreeSet<String>>,
) -> Snapshot {
    Snapshot {
        tasks: Vec::new(),
        desired,
        actuals,
        cell_ids,
        fresh_domains: ["d".to_string()].into_iter().collect(),
        metric_tags: Default::default(),
    }
}
