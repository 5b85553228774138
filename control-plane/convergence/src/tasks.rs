//! Task convergence (spec §5.2).

use diego_model::{Task, TaskState};

use crate::{
    CellView, ConvergenceConfig, Plan, TaskChange, TaskRule, REASON_CELL_DISAPPEARED,
    REASON_NOT_STARTED,
};

fn failed(task: &Task, reason: &str, now_ns: i64) -> Task {
    let mut after = task.clone();
    // `fail` only refuses states other than Pending/Running, which the
    // callers have ruled out.
    let _ = after.fail(reason, now_ns);
    after
}

pub(crate) fn plan_tasks(
    tasks: &[Task],
    cells: CellView<'_>,
    now_ns: i64,
    cfg: &ConvergenceConfig,
    out: &mut Plan,
) {
    let pending_deadline = now_ns.saturating_sub(cfg.expire_pending_task_duration_ns);
    let kick_deadline = now_ns.saturating_sub(cfg.kick_task_duration_ns);
    let completed_deadline = now_ns.saturating_sub(cfg.expire_completed_task_duration_ns);
    for task in tasks {
        let change = |rule, after| TaskChange {
            rule,
            before: task.clone(),
            after,
        };
        match task.state {
            TaskState::Pending if task.created_at < pending_deadline => {
                out.task_changes.push(change(
                    TaskRule::ExpirePending,
                    Some(failed(task, REASON_NOT_STARTED, now_ns)),
                ))
            }
            // Every pass re-auctions every pending task (spec §12.6).
            TaskState::Pending => out.task_auctions.push(task.clone()),
            TaskState::Running => {
                if cells.is_missing(&task.cell_id) == Some(true) {
                    let after = failed(task, REASON_CELL_DISAPPEARED, now_ns);
                    out.task_changes
                        .push(change(TaskRule::CellDisappeared, Some(after)));
                }
            }
            TaskState::Resolving if task.updated_at < kick_deadline => {
                // Demoted and expired in the same pass: the original demotes,
                // then deletes it in the next step of that pass.
                if task.first_completed_at < completed_deadline {
                    out.task_changes.push(change(TaskRule::DeleteExpired, None));
                } else {
                    let mut after = task.clone();
                    after.demote_to_completed();
                    out.task_changes
                        .push(change(TaskRule::DemoteResolving, Some(after)));
                    // Its updated_at is old, so the kick step of the same pass retries it.
                    out.tasks_to_kick.push(task.task_guid.clone());
                }
            }
            TaskState::Completed if task.first_completed_at < completed_deadline => {
                out.task_changes.push(change(TaskRule::DeleteExpired, None))
            }
            TaskState::Completed if task.updated_at < kick_deadline => {
                out.tasks_to_kick.push(task.task_guid.clone())
            }
            TaskState::Resolving | TaskState::Completed | TaskState::Invalid => {}
        }
    }
}
