//! Table tests of LRP convergence (spec §5.3, §4.4) and the guard's LRP side.

mod common;
use common::*;
use diego_convergence::*;
use diego_model::ActualState::*;
use diego_model::Presence::*;
use diego_model::{ActualLrp, ActualLrpKey};

fn run(s: &Snapshot) -> Plan {
    plan(s, NOW, &ConvergenceConfig::default())
}

/// (action name, index) pairs, for compact expectations.
type Summary = Vec<(&'static str, i32)>;

fn summary(p: &Plan) -> Summary {
    p.lrp_actions
        .iter()
        .map(|a| {
            let name = match a {
                LrpAction::CreateMissing { .. } => "create",
                LrpAction::Retire {
                    reason: RetireReason::ExtraIndex,
                    ..
                } => "retire-extra",
                LrpAction::Retire {
                    reason: RetireReason::Orphan,
                    ..
                } => "retire-orphan",
                LrpAction::AuctionStaleUnclaimed { .. } => "auction-stale",
                LrpAction::RestartCrashed { .. } => "restart",
                LrpAction::MarkSuspect { .. } => "suspect",
                LrpAction::UnclaimReplacement { .. } => "unclaim-replacement",
                LrpAction::PromoteSuspect { .. } => "promote",
                LrpAction::RemoveExtraSuspect { .. } => "remove-extra-suspect",
                LrpAction::RemoveOrphanedSuspect { .. } => "remove-orphaned-suspect",
                LrpAction::DeleteEvacuating { .. } => "delete-evacuating",
            };
            (name, a.key().index)
        })
        .collect()
}

fn aged(mut a: ActualLrp, ago_s: i64) -> ActualLrp {
    a.since = NOW - ago_s * S;
    a
}

fn crashed(index: i32, count: i32, ago_s: i64) -> ActualLrp {
    let mut a = aged(ordinary("pg", index, Crashed, ""), ago_s);
    a.crash_count = count;
    a
}

#[test]
fn every_lrp_rule() {
    let live = || cells(&["c1"]);
    let mut stale_domain = snap(vec![desired("pg", "d", 1)], vec![], live());
    stale_domain.fresh_domains.clear();
    let cases: Vec<(&str, Snapshot, Summary)> = vec![
        (
            "missing indices are created",
            snap(
                vec![desired("pg", "d", 3)],
                vec![ordinary("pg", 1, Running, "c1")],
                live(),
            ),
            vec![("create", 0), ("create", 2)],
        ),
        (
            "an index with only a suspect on a dead cell still gets an ordinary row",
            snap(
                vec![desired("pg", "d", 1)],
                vec![row("pg", 0, Suspect, Running, "gone")],
                live(),
            ),
            vec![("create", 0)],
        ),
        (
            "extra indices retire in a fresh domain",
            snap(
                vec![desired("pg", "d", 1)],
                vec![
                    ordinary("pg", 0, Running, "c1"),
                    ordinary("pg", 1, Running, "c1"),
                ],
                live(),
            ),
            vec![("retire-extra", 1)],
        ),
        (
            "orphans retire in a fresh domain",
            snap(vec![], vec![ordinary("pg", 0, Running, "c1")], live()),
            vec![("retire-orphan", 0)],
        ),
        (
            "stale unclaimed is auctioned",
            snap(
                vec![desired("pg", "d", 1)],
                vec![aged(ordinary("pg", 0, Unclaimed, ""), 31)],
                live(),
            ),
            vec![("auction-stale", 0)],
        ),
        (
            "unclaimed for exactly 30 s is not stale yet",
            snap(
                vec![desired("pg", "d", 1)],
                vec![aged(ordinary("pg", 0, Unclaimed, ""), 30)],
                live(),
            ),
            vec![],
        ),
        (
            "stale unclaimed orphan is not auctioned but retired",
            snap(
                vec![],
                vec![aged(ordinary("pg", 0, Unclaimed, ""), 300)],
                live(),
            ),
            vec![("retire-orphan", 0)],
        ),
        (
            "crash 3 restarts after 30 s",
            snap(vec![desired("pg", "d", 1)], vec![crashed(0, 3, 30)], live()),
            vec![("restart", 0)],
        ),
        (
            "crash 3 waits before 30 s",
            snap(vec![desired("pg", "d", 1)], vec![crashed(0, 3, 29)], live()),
            vec![],
        ),
        (
            "crash 8 waits 16 min",
            snap(
                vec![desired("pg", "d", 2)],
                vec![crashed(0, 8, 959), crashed(1, 8, 960)],
                live(),
            ),
            vec![("restart", 1)],
        ),
        (
            "crash 200 never restarts",
            snap(
                vec![desired("pg", "d", 1)],
                vec![crashed(0, 200, 100_000)],
                live(),
            ),
            vec![],
        ),
        (
            "running on a missing cell becomes suspect",
            snap(
                vec![desired("pg", "d", 2)],
                vec![
                    ordinary("pg", 0, Running, "gone"),
                    ordinary("pg", 1, Claimed, "gone"),
                ],
                live(),
            ),
            vec![("suspect", 0), ("suspect", 1)],
        ),
        (
            "a replacement that lost its cell too is unclaimed",
            snap(
                vec![desired("pg", "d", 1)],
                vec![
                    ordinary("pg", 0, Claimed, "gone2"),
                    row("pg", 0, Suspect, Running, "gone"),
                ],
                live(),
            ),
            vec![("unclaim-replacement", 0)],
        ),
        (
            "a suspect whose cell is back is promoted, no ordinary is created",
            snap(
                vec![desired("pg", "d", 2)],
                vec![
                    row("pg", 0, Suspect, Running, "c1"),
                    ordinary("pg", 0, Unclaimed, ""),
                    row("pg", 1, Suspect, Running, "c1"),
                ],
                live(),
            ),
            vec![("promote", 0), ("promote", 1)],
        ),
        (
            "an extra suspect is removed; the ordinary's cell loss waits a pass",
            snap(
                vec![desired("pg", "d", 1)],
                vec![
                    row("pg", 0, Suspect, Running, "gone"),
                    ordinary("pg", 0, Running, "gone2"),
                ],
                live(),
            ),
            vec![("remove-extra-suspect", 0)],
        ),
        (
            "an orphaned suspect in a fresh domain is removed",
            snap(vec![], vec![row("pg", 0, Suspect, Running, "gone")], live()),
            vec![("remove-orphaned-suspect", 0)],
        ),
        (
            "an evacuating row on a missing cell is deleted",
            snap(
                vec![desired("pg", "d", 1)],
                vec![
                    ordinary("pg", 0, Running, "c1"),
                    row("pg", 0, Evacuating, Running, "gone"),
                ],
                live(),
            ),
            vec![("delete-evacuating", 0)],
        ),
        (
            "an evacuating row on a live cell stays",
            snap(
                vec![desired("pg", "d", 1)],
                vec![
                    ordinary("pg", 0, Unclaimed, ""),
                    row("pg", 0, Evacuating, Running, "c1"),
                ],
                live(),
            ),
            vec![],
        ),
        (
            "in a stale domain nothing retires and orphaned suspects stay",
            Snapshot {
                desired: vec![desired("pg", "d", 1)],
                actuals: vec![
                    ordinary("pg", 0, Running, "c1"),
                    ordinary("pg", 1, Running, "c1"),
                    ordinary("orphan", 0, Running, "c1"),
                    row("orphan", 1, Suspect, Running, "gone"),
                ],
                ..stale_domain.clone()
            },
            vec![],
        ),
        (
            "in a stale domain missing instances are still created",
            stale_domain,
            vec![("create", 0)],
        ),
        (
            "steady state plans nothing",
            snap(
                vec![desired("pg", "d", 2)],
                vec![
                    ordinary("pg", 0, Running, "c1"),
                    ordinary("pg", 1, Claimed, "c1"),
                ],
                live(),
            ),
            vec![],
        ),
    ];
    for (name, s, want) in cases {
        let p = run(&s);
        assert_eq!(summary(&p), want, "{name}");
        assert!(p.warnings.is_empty(), "{name}");
    }
}

#[test]
fn actions_carry_the_rows_as_read_and_keys_of_the_desired() {
    let o = ordinary("pg", 0, Claimed, "gone2");
    let s = row("pg", 0, Suspect, Running, "gone");
    let p = run(&snap(
        vec![desired("pg", "d", 2)],
        vec![o.clone(), s.clone()],
        cells(&["c1"]),
    ));
    assert_eq!(
        p.lrp_actions,
        vec![
            LrpAction::UnclaimReplacement {
                actual: o,
                suspect: s
            },
            LrpAction::CreateMissing {
                key: ActualLrpKey::new("pg", 1, "d")
            },
        ]
    );
    assert_eq!(
        p.lrp_auction_count(),
        1,
        "only the created index is auctioned"
    );
}

#[test]
fn unknown_cells_skip_every_cell_dependent_action() {
    let s = snap(
        vec![desired("pg", "d", 3)],
        vec![
            ordinary("pg", 0, Running, "gone"),
            row("pg", 0, Evacuating, Running, "gone"),
            row("pg", 1, Suspect, Running, "c1"),
            ordinary("pg", 1, Unclaimed, ""),
            aged(ordinary("pg", 2, Unclaimed, ""), 60),
        ],
        None,
    );
    let p = run(&s);
    assert_eq!(summary(&p), vec![("auction-stale", 2)]);
    assert_eq!(p.warnings, vec![Warning::CellDirectoryUnavailable]);
}

fn mass_loss_snapshot() -> Snapshot {
    let mut s = snap(
        vec![desired("pg", "d", 3)],
        vec![
            ordinary("pg", 0, Running, "c1"),
            row("pg", 0, Evacuating, Running, "c2"),
            ordinary("pg", 1, Claimed, "c2"),
            aged(ordinary("pg", 2, Unclaimed, ""), 60),
        ],
        cells(&[]),
    );
    s.actuals.push(ordinary("orphan", 0, Unclaimed, ""));
    s.tasks
        .push(task("t", diego_model::TaskState::Running, "c1"));
    s
}

#[test]
fn the_guard_holds_back_cell_loss_on_an_empty_cell_set_and_lets_the_rest_proceed() {
    let p = run(&mass_loss_snapshot());
    assert_eq!(
        summary(&p),
        vec![("retire-orphan", 0), ("auction-stale", 2)]
    );
    assert!(p.task_changes.is_empty());
    assert_eq!(
        p.warnings,
        vec![Warning::EmptyCellSet {
            placed_lrps: 3,
            running_tasks: 1
        }]
    );
    assert!(p.warnings[0].to_string().contains("held back by the guard"));
}

#[test]
fn without_the_guard_an_empty_cell_set_is_upstreams_mass_loss() {
    let cfg = ConvergenceConfig {
        empty_cell_set_guard: false,
        ..Default::default()
    };
    let p = plan(&mass_loss_snapshot(), NOW, &cfg);
    assert_eq!(
        summary(&p),
        vec![
            ("retire-orphan", 0),
            ("delete-evacuating", 0),
            ("suspect", 0),
            ("suspect", 1),
            ("auction-stale", 2)
        ]
    );
    assert_eq!(p.task_changes.len(), 1);
    assert!(p.warnings.is_empty());
}

#[test]
fn an_empty_cell_set_without_placed_work_warns_about_nothing() {
    let s = snap(vec![desired("pg", "d", 1)], vec![], cells(&[]));
    let p = run(&s);
    assert_eq!(summary(&p), vec![("create", 0)]);
    assert!(p.warnings.is_empty());
}

#[test]
fn the_plan_is_deterministic() {
    let s = mass_loss_snapshot();
    let mut reversed = s.clone();
    reversed.actuals.reverse();
    reversed.desired.reverse();
    assert_eq!(run(&s), run(&s));
    assert_eq!(run(&s), run(&reversed));
}
