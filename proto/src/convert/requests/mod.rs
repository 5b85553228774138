//! The arguments of the calls whose requests carry domain values, as plain
//! structs, so the gRPC adapter and the clients never touch wire types past
//! this crate. Requests made only of strings need no conversion.

mod lrp;
mod lrp_instance;

pub use lrp::*;
pub use lrp_instance::*;

use diego_model as m;
use diego_model::ModelError;

use super::{required_from, try_from_wire, FromWire};
use crate::bbs::v1 as w;

/// `DesireTask(task_guid, domain, definition)`.
#[derive(Debug, Clone, PartialEq)]
pub struct DesireTask {
    pub task_guid: String,
    pub domain: String,
    pub definition: m::TaskDefinition,
}

impl From<DesireTask> for w::DesireTaskRequest {
    fn from(d: DesireTask) -> Self {
        let DesireTask {
            task_guid,
            domain,
            definition,
        } = d;
        w::DesireTaskRequest {
            task_guid,
            domain,
            definition: Some(definition.into()),
        }
    }
}

impl FromWire<w::DesireTaskRequest> for DesireTask {
    fn from_wire(v: w::DesireTaskRequest, path: &str) -> Result<Self, ModelError> {
        let w::DesireTaskRequest {
            task_guid,
            domain,
            definition,
        } = v;
        Ok(DesireTask {
            task_guid,
            domain,
            definition: required_from(definition, path, "definition")?,
        })
    }
}
try_from_wire!(DesireTask, w::DesireTaskRequest, "");

impl DesireTask {
    /// The checks `DesireTask` runs before storing anything.
    pub fn validate(&self) -> Result<(), ModelError> {
        diego_model::validate::desire_task(&self.task_guid, &self.domain, &self.definition)
    }
}

/// `ReportCell(cell, ttl_ms)`: a remote cell's presence heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportCell {
    pub cell: m::CellPresence,
    pub ttl_ms: i64,
}

impl From<ReportCell> for w::ReportCellRequest {
    fn from(d: ReportCell) -> Self {
        let ReportCell { cell, ttl_ms } = d;
        w::ReportCellRequest {
            cell: Some(cell.into()),
            ttl_ms,
        }
    }
}

impl FromWire<w::ReportCellRequest> for ReportCell {
    fn from_wire(v: w::ReportCellRequest, path: &str) -> Result<Self, ModelError> {
        let w::ReportCellRequest { cell, ttl_ms } = v;
        Ok(ReportCell {
            cell: required_from(cell, path, "cell")?,
            ttl_ms,
        })
    }
}
try_from_wire!(ReportCell, w::ReportCellRequest, "");

/// The record kinds a watch can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WatchKind {
    Task,
    DesiredLrp,
    ActualLrp,
}

impl WatchKind {
    pub const ALL: [WatchKind; 3] = [WatchKind::Task, WatchKind::DesiredLrp, WatchKind::ActualLrp];

    pub fn name(self) -> &'static str {
        match self {
            WatchKind::Task => "task",
            WatchKind::DesiredLrp => "desired_lrp",
            WatchKind::ActualLrp => "actual_lrp",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn of(event: &m::Event) -> Self {
        if event.is_task() {
            WatchKind::Task
        } else if event.is_desired() {
            WatchKind::DesiredLrp
        } else {
            WatchKind::ActualLrp
        }
    }
}

/// `Watch(kinds, process_guid, cell_id, since_revision)`; empty filters match all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WatchFilter {
    pub kinds: Vec<WatchKind>,
    pub process_guid: String,
    pub cell_id: String,
    pub since_revision: u64,
    /// Resume inside `since_revision` after this position.
    pub since_position: Option<u32>,
}

impl WatchFilter {
    /// Whether the watch wants this event (revisions are the caller's concern).
    pub fn matches(&self, event: &m::Event) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&WatchKind::of(event)))
            && (self.process_guid.is_empty() || event.process_guid() == Some(&*self.process_guid))
            && (self.cell_id.is_empty() || event.cell_ids().contains(&&*self.cell_id))
    }
}

impl From<WatchFilter> for w::WatchRequest {
    fn from(d: WatchFilter) -> Self {
        let WatchFilter {
            kinds,
            process_guid,
            cell_id,
            since_revision,
            since_position,
        } = d;
        w::WatchRequest {
            kinds: kinds.into_iter().map(|k| k.name().to_string()).collect(),
            process_guid,
            cell_id,
            since_revision,
            since_position,
        }
    }
}

impl FromWire<w::WatchRequest> for WatchFilter {
    fn from_wire(v: w::WatchRequest, path: &str) -> Result<Self, ModelError> {
        let w::WatchRequest {
            kinds,
            process_guid,
            cell_id,
            since_revision,
            since_position,
        } = v;
        let kinds = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| {
                WatchKind::from_name(k).ok_or_else(|| {
                    ModelError::invalid_field(
                        &format!("{}[{i}]", super::field(path, "kinds")),
                        &format!("{k:?} is not one of task, desired_lrp, actual_lrp"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(WatchFilter {
            kinds,
            process_guid,
            cell_id,
            since_revision,
            since_position,
        })
    }
}
try_from_wire!(WatchFilter, w::WatchRequest, "");
