//! The counts a pass reports (spec §5's convergence metrics), over one
//! snapshot with something of everything.

mod common;
use common::*;
use diego_convergence::*;
use diego_model::ActualState::*;
use diego_model::Presence::*;
use diego_model::TaskState;

#[test]
fn a_pass_counts_states_missing_extra_suspects_cells_and_tasks() {
    let mut s = snap(
        vec![
            desired("a", "d", 3),
            desired("b", "d", 2),
            desired("c", "d", 1),
        ],
        vec![
            ordinary("a", 0, Running, "c1"),
            ordinary("a", 1, Crashed, ""),
            // a/2 is missing
            ordinary("a", 3, Running, "c1"), // extra
            ordinary("b", 0, Running, "c9"), // its cell is gone
            ordinary("b", 1, Claimed, "c1"),
            row("c", 0, Suspect, Running, "c8"),
            ordinary("c", 0, Unclaimed, ""),
            row("c", 0, Evacuating, Running, "c1"),
        ],
        cells(&["c1", "c2"]),
    );
    s.tasks = vec![
        task("p", TaskState::Pending, ""),
        task("r", TaskState::Running, "c1"),
        task("lost", TaskState::Running, "c9"),
        task("done", TaskState::Completed, "c1"),
        task("old", TaskState::Completed, "c1"),
    ];
    // completed long ago: pruned
    s.tasks[4].first_completed_at = NOW - 3_600 * S;
    let p = plan(&s, NOW, &ConvergenceConfig::default());
    let m = metrics(&s, &p);
    assert_eq!(m.lrps_desired, 6);
    assert_eq!(
        (m.lrps_unclaimed, m.lrps_claimed, m.lrps_running),
        (1, 1, 3)
    );
    assert_eq!((m.crashed_actual_lrps, m.crashing_desired_lrps), (1, 1));
    assert_eq!((m.lrps_missing, m.lrps_extra), (1, 1));
    assert_eq!(
        (m.suspect_running_actual_lrps, m.suspect_claimed_actual_lrps),
        (1, 0)
    );
    assert_eq!(m.evacuating_actual_lrps, 1);
    // c8 (the suspect's) and c9 are named by placed rows and have no presence
    assert_eq!((m.present_cells, m.missing_cells), (Some(2), 2));
    assert_eq!(m.fresh_domains, 1);
    assert_eq!(
        (
            m.tasks_pending,
            m.tasks_running,
            m.tasks_completed,
            m.tasks_resolving
        ),
        (1, 2, 2, 0)
    );
    assert_eq!(m.tasks_pruned, 1, "{:?}", p.task_changes);
    // "lost" is failed (its cell is gone) and "p" is auctioned again
    assert_eq!(m.tasks_kicked, 2, "{p:?}");
}

#[test]
fn without_a_cell_directory_present_cells_is_unknown_and_nothing_is_missing() {
    let s = snap(
        vec![desired("a", "d", 1)],
        vec![ordinary("a", 0, Running, "c9")],
        None,
    );
    let m = metrics(&s, &plan(&s, NOW, &ConvergenceConfig::default()));
    assert_eq!((m.present_cells, m.missing_cells), (None, 0));
    assert_eq!(m.lrps_running, 1);
}
