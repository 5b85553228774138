//! The events the BBS emits for every change (spec §2.7), as domain values.

use serde::{Deserialize, Serialize};

use crate::{ActualLrp, DesiredLrp, Task};

// Events are built, encoded and dropped; nearly all carry one or two full
// records, so the size difference between variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    TaskCreated {
        task: Task,
    },
    TaskChanged {
        before: Task,
        after: Task,
    },
    TaskRemoved {
        task: Task,
    },
    DesiredLrpCreated {
        desired_lrp: DesiredLrp,
    },
    DesiredLrpChanged {
        before: DesiredLrp,
        after: DesiredLrp,
    },
    DesiredLrpRemoved {
        desired_lrp: DesiredLrp,
    },
    ActualLrpCreated {
        actual_lrp: ActualLrp,
    },
    ActualLrpChanged {
        before: ActualLrp,
        after: ActualLrp,
    },
    ActualLrpRemoved {
        actual_lrp: ActualLrp,
    },
    ActualLrpCrashed {
        actual_lrp: ActualLrp,
        crash_count: i32,
        crash_reason: String,
        since: i64,
    },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::TaskCreated { .. } => "task_created",
            Event::TaskChanged { .. } => "task_changed",
            Event::TaskRemoved { .. } => "task_removed",
            Event::DesiredLrpCreated { .. } => "desired_lrp_created",
            Event::DesiredLrpChanged { .. } => "desired_lrp_changed",
            Event::DesiredLrpRemoved { .. } => "desired_lrp_removed",
            Event::ActualLrpCreated { .. } => "actual_lrp_created",
            Event::ActualLrpChanged { .. } => "actual_lrp_changed",
            Event::ActualLrpRemoved { .. } => "actual_lrp_removed",
            Event::ActualLrpCrashed { .. } => "actual_lrp_crashed",
        }
    }

    /// The process guid an LRP event is about (task events have none).
    pub fn process_guid(&self) -> Option<&str> {
        match self {
            Event::DesiredLrpCreated { desired_lrp } | Event::DesiredLrpRemoved { desired_lrp } => {
                Some(&desired_lrp.process_guid)
            }
            Event::DesiredLrpChanged { after, .. } => Some(&after.process_guid),
            Event::ActualLrpCreated { actual_lrp }
            | Event::ActualLrpRemoved { actual_lrp }
            | Event::ActualLrpCrashed { actual_lrp, .. } => Some(&actual_lrp.key.process_guid),
            Event::ActualLrpChanged { after, .. } => Some(&after.key.process_guid),
            _ => None,
        }
    }

    /// The cells an event concerns (both sides of a change), for cell filters.
    pub fn cell_ids(&self) -> Vec<&str> {
        let mut out = Vec::new();
        match self {
            Event::TaskCreated { task } | Event::TaskRemoved { task } => out.push(&*task.cell_id),
            Event::TaskChanged { before, after } => {
                out.push(&*before.cell_id);
                out.push(&*after.cell_id);
            }
            Event::ActualLrpCreated { actual_lrp }
            | Event::ActualLrpRemoved { actual_lrp }
            | Event::ActualLrpCrashed { actual_lrp, .. } => {
                out.push(&*actual_lrp.instance_key.cell_id)
            }
            Event::ActualLrpChanged { before, after } => {
                out.push(&*before.instance_key.cell_id);
                out.push(&*after.instance_key.cell_id);
            }
            _ => {}
        }
        out.retain(|c| !c.is_empty());
        out
    }

    pub fn is_task(&self) -> bool {
        matches!(
            self,
            Event::TaskCreated { .. } | Event::TaskChanged { .. } | Event::TaskRemoved { .. }
        )
    }

    pub fn is_desired(&self) -> bool {
        matches!(
            self,
            Event::DesiredLrpCreated { .. }
                | Event::DesiredLrpChanged { .. }
                | Event::DesiredLrpRemoved { .. }
        )
    }
}
