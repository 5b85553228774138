//! The pending batch: requests merged by `process_guid.index` and task guid,
//! so a request repeated before it is placed is placed once.

use std::collections::BTreeMap;

use diego_auction::{LrpStart, TaskStart};

#[derive(Default)]
pub struct Batch {
    pub lrps: BTreeMap<(String, i32), (LrpStart, u32)>,
    pub tasks: BTreeMap<String, (TaskStart, u32)>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.lrps.is_empty() && self.tasks.is_empty()
    }

    /// Adds an LRP start; `attempts` counts how often a cell handed it back.
    pub fn add_lrp(&mut self, s: LrpStart, attempts: u32) {
        self.lrps
            .insert((s.process_guid.clone(), s.index), (s, attempts));
    }

    pub fn add_task(&mut self, t: TaskStart, attempts: u32) {
        self.tasks.insert(t.task_guid.clone(), (t, attempts));
    }

    pub fn take(&mut self) -> Batch {
        std::mem::take(self)
    }
}
