//! Table tests of task convergence (spec §5.2) and the guard's task side.

mod common;
use common::*;
use diego_convergence::*;
use diego_model::TaskState::*;
use diego_model::{Task, TaskState};

fn run(tasks: Vec<Task>, cell_ids: Option<Vec<&str>>, guard: bool) -> Plan {
    let mut s = snap(vec![], vec![], cell_ids.map(|c| cells(&c).unwrap()));
    s.tasks = tasks;
    let cfg = ConvergenceConfig {
        empty_cell_set_guard: guard,
        ..Default::default()
    };
    plan(&s, NOW, &cfg)
}

fn aged(mut t: Task, created_ago_s: i64, updated_ago_s: i64, completed_ago_s: i64) -> Task {
    t.created_at = NOW - created_ago_s * S;
    t.updated_at = NOW - updated_ago_s * S;
    if t.first_completed_at != 0 {
        t.first_completed_at = NOW - completed_ago_s * S;
    }
    t
}

fn rules(p: &Plan) -> Vec<(String, TaskRule)> {
    p.task_changes
        .iter()
        .map(|c| (c.before.task_guid.clone(), c.rule))
        .collect()
}

#[test]
fn every_task_rule_with_its_boundary() {
    struct Case {
        name: &'static str,
        task: Task,
        want_rule: Option<TaskRule>,
        want_state: Option<TaskState>,
        auctioned: bool,
        kicked: bool,
    }
    let t = |state: TaskState, cell: &str| task("t", state, cell);
    let cases = [
        Case {
            name: "pending just expired",
            task: aged(t(Pending, ""), 1801, 0, 0),
            want_rule: Some(TaskRule::ExpirePending),
            want_state: Some(Completed),
            auctioned: false,
            kicked: false,
        },
        Case {
            name: "pending exactly at the limit",
            task: aged(t(Pending, ""), 1800, 0, 0),
            want_rule: None,
            want_state: None,
            auctioned: true,
            kicked: false,
        },
        Case {
            name: "pending fresh",
            task: t(Pending, ""),
            want_rule: None,
            want_state: None,
            auctioned: true,
            kicked: false,
        },
        Case {
            name: "running on a vanished cell",
            task: t(Running, "gone"),
            want_rule: Some(TaskRule::CellDisappeared),
            want_state: Some(Completed),
            auctioned: false,
            kicked: false,
        },
        Case {
            name: "running on a live cell",
            task: t(Running, "c1"),
            want_rule: None,
            want_state: None,
            auctioned: false,
            kicked: false,
        },
        Case {
            name: "resolving past the kick",
            task: aged(t(Resolving, ""), 0, 31, 31),
            want_rule: Some(TaskRule::DemoteResolving),
            want_state: Some(Completed),
            auctioned: false,
            kicked: true,
        },
        Case {
            name: "resolving within the kick",
            task: aged(t(Resolving, ""), 0, 30, 30),
            want_rule: None,
            want_state: None,
            auctioned: false,
            kicked: false,
        },
        Case {
            name: "resolving past the kick and expired",
            task: aged(t(Resolving, ""), 0, 200, 200),
            want_rule: Some(TaskRule::DeleteExpired),
            want_state: None,
            auctioned: false,
            kicked: false,
        },
        Case {
            name: "completed expired",
            task: aged(t(Completed, ""), 0, 121, 121),
            want_rule: Some(TaskRule::DeleteExpired),
            want_state: None,
            auctioned: false,
            kicked: false,
        },
        Case {
            name: "completed at the expiry limit is kicked",
            task: aged(t(Completed, ""), 0, 120, 120),
            want_rule: None,
            want_state: None,
            auctioned: false,
            kicked: true,
        },
        Case {
            name: "completed recently",
            task: aged(t(Completed, ""), 0, 30, 30),
            want_rule: None,
            want_state: None,
            auctioned: false,
            kicked: false,
        },
    ];
    for c in cases {
        let p = run(vec![c.task.clone()], Some(vec!["c1"]), true);
        let change = p.task_changes.first();
        assert_eq!(change.map(|c| c.rule), c.want_rule, "{}", c.name);
        assert_eq!(
            change.and_then(|c| c.after.as_ref()).map(|a| a.state),
            c.want_state,
            "{}",
            c.name
        );
        if let Some(ch) = change {
            assert_eq!(
                ch.before, c.task,
                "{}: the change carries the row as read",
                c.name
            );
        }
        assert_eq!(!p.task_auctions.is_empty(), c.auctioned, "{}", c.name);
        assert_eq!(!p.tasks_to_kick.is_empty(), c.kicked, "{}", c.name);
        assert!(p.warnings.is_empty(), "{}", c.name);
    }
}

#[test]
fn failed_tasks_carry_diegos_reasons_and_lose_their_cell() {
    let p = run(
        vec![
            aged(task("p", Pending, ""), 3600, 0, 0),
            task("r", Running, "gone"),
        ],
        Some(vec!["c1"]),
        true,
    );
    let after: Vec<&Task> = p
        .task_changes
        .iter()
        .filter_map(|c| c.after.as_ref())
        .collect();
    assert_eq!(after[0].failure_reason, "not started within time limit");
    assert_eq!(
        after[1].failure_reason,
        "cell disappeared before completion"
    );
    for a in after {
        assert!(a.failed);
        assert!(a.cell_id.is_empty());
        assert_eq!(a.first_completed_at, NOW);
        assert_eq!(a.updated_at, NOW);
    }
    assert!(
        p.task_auctions.is_empty(),
        "a failed task is never re-auctioned"
    );
}

#[test]
fn demoting_a_resolving_task_keeps_updated_at() {
    let before = aged(task("t", Resolving, ""), 0, 40, 40);
    let p = run(vec![before.clone()], Some(vec!["c1"]), true);
    let after = p.task_changes[0].after.as_ref().unwrap();
    assert_eq!(after.updated_at, before.updated_at);
}

#[test]
fn unknown_cells_never_fail_running_tasks() {
    let p = run(vec![task("r", Running, "c1")], None, true);
    assert!(p.task_changes.is_empty());
    assert_eq!(p.warnings, vec![Warning::CellDirectoryUnavailable]);
}

#[test]
fn the_guard_holds_back_running_task_failures_on_an_empty_cell_set() {
    let tasks = vec![
        task("r", Running, "c1"),
        aged(task("p", Pending, ""), 3600, 0, 0),
    ];
    let p = run(tasks.clone(), Some(vec![]), true);
    assert_eq!(
        rules(&p),
        vec![("p".to_string(), TaskRule::ExpirePending)],
        "other rules proceed"
    );
    assert_eq!(
        p.warnings,
        vec![Warning::EmptyCellSet {
            placed_lrps: 0,
            running_tasks: 1
        }]
    );

    let p = run(tasks, Some(vec![]), false);
    assert_eq!(
        rules(&p),
        vec![
            ("r".to_string(), TaskRule::CellDisappeared),
            ("p".to_string(), TaskRule::ExpirePending)
        ],
        "without the guard the empty set fails every running task, as upstream does"
    );
    assert!(p.warnings.is_empty());
}

#[test]
fn config_defaults_are_diegos_and_validate() {
    let c = ConvergenceConfig::default();
    assert_eq!(c.kick_task_duration_ns, 30 * S);
    assert_eq!(c.expire_completed_task_duration_ns, 120 * S);
    assert_eq!(c.expire_pending_task_duration_ns, 1800 * S);
    assert_eq!(c.stale_unclaimed_duration_ns, 30 * S);
    assert!(c.empty_cell_set_guard);
    assert_eq!(c.validate(), Ok(()));
    let bad = ConvergenceConfig {
        kick_task_duration_ns: 0,
        ..c
    };
    assert_eq!(
        bad.validate(),
        Err(ConvergenceError::InvalidConfig {
            field: "kick_task_duration_ns"
        })
    );
}
