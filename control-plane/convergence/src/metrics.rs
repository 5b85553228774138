//! What a pass saw and decided, counted the way Diego's convergence metrics
//! name it (spec §5: LRP counts by state, missing, extra, suspect, desired
//! instances, crashing desireds, cells, missing cells, fresh domains; task
//! counts by state, pruned, kicked). Pure: the runner records and exports.

use std::collections::BTreeSet;

use diego_model::{ActualState, Presence, TaskState};

use crate::{LrpAction, Plan, Snapshot, TaskRule};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvergenceMetrics {
    /// `LRPsDesired`: the sum of desired instance counts.
    pub lrps_desired: u64,
    /// ORDINARY rows by state: `LRPsUnclaimed`, `LRPsClaimed`, `LRPsRunning`.
    pub lrps_unclaimed: u64,
    pub lrps_claimed: u64,
    pub lrps_running: u64,
    /// `CrashedActualLRPs`: ORDINARY rows in CRASHED.
    pub crashed_actual_lrps: u64,
    /// `CrashingDesiredLRPs`: desired LRPs with at least one crashed instance.
    pub crashing_desired_lrps: u64,
    /// `LRPsMissing`: indices the plan creates.
    pub lrps_missing: u64,
    /// `LRPsExtra`: rows the plan retires.
    pub lrps_extra: u64,
    /// `SuspectRunningActualLRPs`, `SuspectClaimedActualLRPs`.
    pub suspect_running_actual_lrps: u64,
    pub suspect_claimed_actual_lrps: u64,
    /// EVACUATING rows.
    pub evacuating_actual_lrps: u64,
    /// Cells with a presence (absent when the directory could not answer).
    pub present_cells: Option<u64>,
    /// Cells that placed rows name but that have no presence.
    pub missing_cells: u64,
    pub fresh_domains: u64,
    /// Tasks by state: `TasksPending`, `TasksRunning`, `TasksCompleted`, `TasksResolving`.
    pub tasks_pending: u64,
    pub tasks_running: u64,
    pub tasks_completed: u64,
    pub tasks_resolving: u64,
    /// `ConvergenceTasksPruned`: tasks the plan deletes.
    pub tasks_pruned: u64,
    /// `ConvergenceTasksKicked`: tasks failed, demoted or re-auctioned, and
    /// completion callbacks retried.
    pub tasks_kicked: u64,
}

fn count<T>(items: impl Iterator<Item = T>, pred: impl Fn(&T) -> bool) -> u64 {
    items.filter(|i| pred(i)).count() as u64
}

/// The actual-row counts, in one walk over the rows.
#[derive(Default)]
struct RowCounts<'a> {
    ordinary: [u64; 4],
    suspect_running: u64,
    suspect_claimed: u64,
    evacuating: u64,
    crashing: BTreeSet<&'a str>,
    missing_cells: BTreeSet<&'a str>,
}

fn state_slot(s: ActualState) -> usize {
    match s {
        ActualState::Unclaimed => 0,
        ActualState::Claimed => 1,
        ActualState::Running => 2,
        ActualState::Crashed => 3,
    }
}

fn row_counts(snapshot: &Snapshot) -> RowCounts<'_> {
    let mut c = RowCounts::default();
    let present = snapshot.cell_ids.as_ref().map(crate::cell_set);
    for a in &snapshot.actuals {
        match a.presence {
            Presence::Ordinary => {
                c.ordinary[state_slot(a.state)] += 1;
                if a.state == ActualState::Crashed {
                    c.crashing.insert(a.key.process_guid.as_str());
                }
            }
            Presence::Suspect => match a.state {
                ActualState::Running => c.suspect_running += 1,
                ActualState::Claimed => c.suspect_claimed += 1,
                _ => {}
            },
            Presence::Evacuating => c.evacuating += 1,
        }
        if let Some(cells) = &present {
            let cell = a.instance_key.cell_id.as_str();
            if (a.is_placed() || a.presence == Presence::Evacuating)
                && !cell.is_empty()
                && !cells.contains(cell)
            {
                c.missing_cells.insert(cell);
            }
        }
    }
    c
}

/// The metrics of one pass over `snapshot` that decided `plan`.
pub fn metrics(snapshot: &Snapshot, plan: &Plan) -> ConvergenceMetrics {
    let rows = row_counts(snapshot);
    let in_state = |s: ActualState| rows.ordinary[state_slot(s)];
    let tasks_in = |s: TaskState| count(snapshot.tasks.iter(), |t| t.state == s);
    let pruned = count(plan.task_changes.iter(), |c| {
        c.rule == TaskRule::DeleteExpired
    });
    ConvergenceMetrics {
        lrps_desired: snapshot
            .desired
            .iter()
            .map(|d| d.instances.max(0) as u64)
            .sum(),
        lrps_unclaimed: in_state(ActualState::Unclaimed),
        lrps_claimed: in_state(ActualState::Claimed),
        lrps_running: in_state(ActualState::Running),
        crashed_actual_lrps: in_state(ActualState::Crashed),
        crashing_desired_lrps: rows.crashing.len() as u64,
        lrps_missing: count(plan.lrp_actions.iter(), |a| {
            matches!(a, LrpAction::CreateMissing { .. })
        }),
        lrps_extra: count(plan.lrp_actions.iter(), |a| {
            matches!(a, LrpAction::Retire { .. })
        }),
        suspect_running_actual_lrps: rows.suspect_running,
        suspect_claimed_actual_lrps: rows.suspect_claimed,
        evacuating_actual_lrps: rows.evacuating,
        present_cells: snapshot.cell_ids.as_ref().map(|c| c.len() as u64),
        missing_cells: rows.missing_cells.len() as u64,
        fresh_domains: snapshot.fresh_domains.len() as u64,
        tasks_pending: tasks_in(TaskState::Pending),
        tasks_running: tasks_in(TaskState::Running),
        tasks_completed: tasks_in(TaskState::Completed),
        tasks_resolving: tasks_in(TaskState::Resolving),
        tasks_pruned: pruned,
        tasks_kicked: plan.task_changes.len() as u64 - pruned
            + plan.task_auctions.len() as u64
            + plan.tasks_to_kick.len() as u64,
    }
}
