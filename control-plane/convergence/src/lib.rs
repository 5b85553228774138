//! Convergence (spec §5) as a pure function: `plan(snapshot, now, config)`
//! looks at everything the BBS stores and returns, as data, what must change
//! so that actual state moves towards desired state. The BBS runner applies
//! the plan, re-checking every row it read, and sends the auctions.
//!
//! Architecture Invariant: this crate does no IO (no tokio, store or clock);
//! time comes in as `now_ns`.
//!
//! # The empty-cell-set guard (docs/adr/0004-convergence-empty-cell-set.md)
//!
//! Upstream Diego treats "the cell directory answered with no cells" like "every
//! cell vanished" (spec §12.5): it marks every CLAIMED/RUNNING instance suspect
//! and re-auctions it, deletes every evacuating row and fails every running
//! task. One Locket hiccup that returns an empty presence list therefore wipes
//! out all running work. With [`ConvergenceConfig::empty_cell_set_guard`] on
//! (the default), a pass that sees an empty cell set while there is placed work
//! takes none of those cell-loss actions and reports [`Warning::EmptyCellSet`]
//! instead; everything else (missing instances, crash restarts, stale
//! unclaimed, task expiry, retirement) proceeds. A real total outage is still
//! handled: cells that lose their presence one by one are handled normally, and
//! an operator can turn the guard off. When the directory could not answer at
//! all (`cell_ids == None`) every cell-dependent action is skipped.

mod drift;
mod lrp;
mod metrics;
mod plan_types;
mod tasks;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use diego_model::crash::RestartPolicy;
use diego_model::{ActualLrp, MetricTagValue, Presence, SchedulingInfo, Task, TaskState, NS_PER_S};

pub use drift::LrpInstanceUpdate;
pub use metrics::{metrics, ConvergenceMetrics};
pub use plan_types::{LrpAction, Plan, RetireReason, TaskChange, TaskRule, Warning};

/// Diego's task failure reasons, verbatim.
pub const REASON_NOT_STARTED: &str = "not started within time limit";
pub const REASON_CELL_DISAPPEARED: &str = "cell disappeared before completion";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConvergenceError {
    #[error("invalid convergence config: {field} must be positive")]
    InvalidConfig { field: &'static str },
}

/// The tunables of one pass; `Default` is Diego's (spec §5.1, §13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvergenceConfig {
    /// Resolving tasks older than this go back to Completed; Completed ones
    /// are kicked to the callback worker again.
    pub kick_task_duration_ns: i64,
    /// Completed tasks are deleted this long after their first completion.
    pub expire_completed_task_duration_ns: i64,
    /// Pending tasks older than this fail with "not started within time limit".
    pub expire_pending_task_duration_ns: i64,
    /// UNCLAIMED rows older than this are auctioned again.
    pub stale_unclaimed_duration_ns: i64,
    pub restart_policy: RestartPolicy,
    /// See the crate documentation: refuse cell-loss actions when the cell
    /// directory reports no cells at all while work is placed.
    pub empty_cell_set_guard: bool,
}

impl Default for ConvergenceConfig {
    fn default() -> Self {
        ConvergenceConfig {
            kick_task_duration_ns: 30 * NS_PER_S,
            expire_completed_task_duration_ns: 120 * NS_PER_S,
            expire_pending_task_duration_ns: 1800 * NS_PER_S,
            stale_unclaimed_duration_ns: 30 * NS_PER_S,
            restart_policy: RestartPolicy::default(),
            empty_cell_set_guard: true,
        }
    }
}

impl ConvergenceConfig {
    pub fn validate(&self) -> Result<(), ConvergenceError> {
        let fields = [
            ("kick_task_duration_ns", self.kick_task_duration_ns),
            (
                "expire_completed_task_duration_ns",
                self.expire_completed_task_duration_ns,
            ),
            (
                "expire_pending_task_duration_ns",
                self.expire_pending_task_duration_ns,
            ),
            (
                "stale_unclaimed_duration_ns",
                self.stale_unclaimed_duration_ns,
            ),
        ];
        match fields.iter().find(|(_, v)| *v <= 0) {
            Some((field, _)) => Err(ConvergenceError::InvalidConfig { field }),
            None => Ok(()),
        }
    }
}

/// Everything one pass looks at, read by the runner.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub tasks: Vec<Task>,
    /// One per desired LRP: process guid, domain and instance count are what
    /// the plan needs.
    pub desired: Vec<SchedulingInfo>,
    /// Every actual LRP row, all presences.
    pub actuals: Vec<ActualLrp>,
    /// The cells with a presence. `None`: the directory could not answer,
    /// which is not the same as "no cells".
    pub cell_ids: Option<BTreeSet<String>>,
    pub fresh_domains: BTreeSet<String>,
    /// The desired metric tags by process guid (scheduling infos do not
    /// carry them); absent or empty: no tags.
    pub metric_tags: HashMap<String, BTreeMap<String, MetricTagValue>>,
}

/// FNV-1a: cell ids are short and a pass looks one up per row, where a
/// tree of strings costs several comparisons and SipHash more hashing.
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The present cells as a pass looks them up.
pub(crate) type CellSet<'a> = HashSet<&'a str, BuildHasherDefault<Fnv>>;

pub(crate) fn cell_set(cells: &BTreeSet<String>) -> CellSet<'_> {
    cells.iter().map(String::as_str).collect()
}

/// What the cell set allows this pass to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellView<'a> {
    /// The directory could not answer: no cell-dependent action.
    Unknown,
    /// Empty set with placed work and the guard on: no cell-loss action.
    Guarded,
    Known(&'a CellSet<'a>),
}

impl CellView<'_> {
    /// `Some(true)` when the cell is known to be gone; `None` when this pass
    /// must not decide.
    pub(crate) fn is_missing(&self, cell_id: &str) -> Option<bool> {
        match self {
            CellView::Known(cells) => Some(!cells.contains(cell_id)),
            _ => None,
        }
    }
}

/// Computes one convergence pass. Pure: same snapshot, time and config, same plan.
pub fn plan(snapshot: &Snapshot, now_ns: i64, cfg: &ConvergenceConfig) -> Plan {
    let mut out = Plan::default();
    let present = snapshot.cell_ids.as_ref().map(cell_set);
    let cells = match (&snapshot.cell_ids, &present) {
        (None, _) | (_, None) => {
            out.warnings.push(Warning::CellDirectoryUnavailable);
            CellView::Unknown
        }
        (Some(set), Some(lookup)) if set.is_empty() && cfg.empty_cell_set_guard => {
            // An EVACUATING row always stands for a running container,
            // whatever state it was written with.
            let placed_lrps = snapshot
                .actuals
                .iter()
                .filter(|a| a.is_placed() || a.presence == Presence::Evacuating)
                .count();
            let running_tasks = snapshot
                .tasks
                .iter()
                .filter(|t| t.state == TaskState::Running)
                .count();
            if placed_lrps + running_tasks > 0 {
                out.warnings.push(Warning::EmptyCellSet {
                    placed_lrps,
                    running_tasks,
                });
                CellView::Guarded
            } else {
                CellView::Known(lookup)
            }
        }
        (Some(_), Some(lookup)) => CellView::Known(lookup),
    };
    tasks::plan_tasks(&snapshot.tasks, cells, now_ns, cfg, &mut out);
    lrp::plan_lrps(snapshot, cells, now_ns, cfg, &mut out);
    out
}
