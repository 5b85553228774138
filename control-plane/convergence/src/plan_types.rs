//! The plan: what one convergence pass decided, as data.

use diego_model::{ActualLrp, ActualLrpKey, Task};

use crate::LrpInstanceUpdate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskRule {
    /// Pending past `expire_pending_task_duration`: failed, "not started within time limit".
    ExpirePending,
    /// Running on a cell without presence: failed, "cell disappeared before completion".
    CellDisappeared,
    /// Resolving past `kick_task_duration`: back to Completed so it is kicked again.
    DemoteResolving,
    /// Completed past `expire_completed_task_duration` since first completion: deleted.
    DeleteExpired,
}

/// One task write. The runner applies it only if the task still equals `before`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskChange {
    pub rule: TaskRule,
    pub before: Task,
    /// `None` deletes the task.
    pub after: Option<Task>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetireReason {
    /// Index at or above the desired instance count (fresh domain only).
    ExtraIndex,
    /// No desired LRP (fresh domain only).
    Orphan,
}

/// One LRP step. Every variant carries the rows as read, so the runner can
/// skip the step when a row changed since the snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum LrpAction {
    /// An index in `[0, instances)` has no ORDINARY row: create it UNCLAIMED and auction it.
    CreateMissing { key: ActualLrpKey },
    /// Retire an ORDINARY row through the BBS retire path.
    Retire {
        actual: ActualLrp,
        reason: RetireReason,
    },
    /// UNCLAIMED for longer than the stale threshold: auction it again.
    AuctionStaleUnclaimed { actual: ActualLrp },
    /// CRASHED and the restart backoff elapsed: unclaim and auction.
    RestartCrashed { actual: ActualLrp },
    /// CLAIMED/RUNNING on a missing cell, no SUSPECT row yet: the row becomes
    /// SUSPECT, a fresh UNCLAIMED ORDINARY takes its place and is auctioned.
    MarkSuspect { actual: ActualLrp },
    /// CLAIMED/RUNNING replacement on a missing cell while a SUSPECT row
    /// exists: unclaimed, no auction (the stale-unclaimed rule picks it up).
    UnclaimReplacement {
        actual: ActualLrp,
        suspect: ActualLrp,
    },
    /// The SUSPECT row's cell is back: delete the replacement, the SUSPECT
    /// row becomes ORDINARY again.
    PromoteSuspect {
        suspect: ActualLrp,
        replacement: Option<ActualLrp>,
    },
    /// Both ORDINARY and SUSPECT are RUNNING: the SUSPECT goes.
    RemoveExtraSuspect { suspect: ActualLrp },
    /// SUSPECT with no desired LRP in a fresh domain.
    RemoveOrphanedSuspect { suspect: ActualLrp },
    /// EVACUATING row whose cell has no presence.
    DeleteEvacuating { actual: ActualLrp },
}

impl LrpAction {
    /// Whether a successful application requests an auction for the index.
    /// `AuctionStaleUnclaimed` and `RestartCrashed` request one even when the
    /// write is a no-op, as the original's "unstarted" list does.
    pub fn requests_auction(&self) -> bool {
        matches!(
            self,
            LrpAction::CreateMissing { .. }
                | LrpAction::AuctionStaleUnclaimed { .. }
                | LrpAction::RestartCrashed { .. }
                | LrpAction::MarkSuspect { .. }
        )
    }

    /// The index this action is about.
    pub fn key(&self) -> &ActualLrpKey {
        match self {
            LrpAction::CreateMissing { key } => key,
            LrpAction::Retire { actual, .. }
            | LrpAction::AuctionStaleUnclaimed { actual }
            | LrpAction::RestartCrashed { actual }
            | LrpAction::MarkSuspect { actual }
            | LrpAction::UnclaimReplacement { actual, .. }
            | LrpAction::DeleteEvacuating { actual } => &actual.key,
            LrpAction::PromoteSuspect { suspect, .. }
            | LrpAction::RemoveExtraSuspect { suspect }
            | LrpAction::RemoveOrphanedSuspect { suspect } => &suspect.key,
        }
    }

    /// Whether the action acts on the loss of a cell (what the guard holds back).
    pub fn is_cell_loss(&self) -> bool {
        matches!(
            self,
            LrpAction::MarkSuspect { .. }
                | LrpAction::UnclaimReplacement { .. }
                | LrpAction::DeleteEvacuating { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The cell directory could not answer: no cell-dependent action was taken.
    CellDirectoryUnavailable,
    /// The cell directory answered with no cells while work was placed; the
    /// guard held back every cell-loss action (spec §12.5).
    EmptyCellSet {
        placed_lrps: usize,
        running_tasks: usize,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::CellDirectoryUnavailable => {
                write!(
                    f,
                    "cell directory unavailable: cell-dependent actions skipped"
                )
            }
            Warning::EmptyCellSet {
                placed_lrps,
                running_tasks,
            } => write!(
                f,
                "empty cell set with {placed_lrps} placed lrps and {running_tasks} running tasks: \
                 cell-loss actions held back by the guard"
            ),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub task_changes: Vec<TaskChange>,
    /// Pending tasks (within the expiry window) to send to the auctioneer again.
    pub task_auctions: Vec<Task>,
    /// Completed tasks whose completion callback should be retried (spec §5.2.6).
    pub tasks_to_kick: Vec<String>,
    pub lrp_actions: Vec<LrpAction>,
    /// RUNNING instances whose internal routes or metric tags drifted; the
    /// runner sends each to its rep (`UpdateLrpInstance`).
    pub lrp_updates: Vec<LrpInstanceUpdate>,
    pub warnings: Vec<Warning>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.task_changes.is_empty()
            && self.task_auctions.is_empty()
            && self.tasks_to_kick.is_empty()
            && self.lrp_actions.is_empty()
            && self.lrp_updates.is_empty()
    }

    /// How many LRP indices the plan auctions if every action applies.
    pub fn lrp_auction_count(&self) -> usize {
        self.lrp_actions
            .iter()
            .filter(|a| a.requests_auction())
            .count()
    }
}
