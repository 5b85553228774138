//! The per-cell lines `diego why` prints come from `CellVerdict`'s `Display`.

mod common;

use common::{cell, explain, task};
use diego_auction::{schedule_default, CellVerdict, ScoreParts, Verdict};

#[test]
fn a_decision_explains_every_cell_in_one_readable_line() {
    let wrong_stack = cell("a", "z1", 1000, 1000, 10);
    let wrong_stack = diego_auction::CellState {
        rootfs_providers: Default::default(),
        ..wrong_stack
    };
    let mut full = cell("b", "z1", 1000, 1000, 10);
    full.available.memory_mb = 50;
    let mut starting = cell("c", "z2", 1000, 1000, 10);
    starting.starting_container_count = 1;
    let plan = schedule_default(
        &[wrong_stack, full, starting],
        vec![],
        vec![task("t1", 100, 10)],
        &explain(),
    );
    let decision = &plan.decisions[0];
    let mut lines: Vec<String> = decision.cells.iter().map(|c| c.to_string()).collect();
    lines.sort();
    // resource = ((1 - 900/1000) + (1 - 990/1000) + (1 - 9/10)) / 3 = 0.07; starting = 0.25.
    assert_eq!(
        lines,
        [
            "a: filtered: rootfs",
            "b: insufficient resources: memory",
            "c: score 0.32 = resource 0.07 + starting 0.25 + same process 0 + tasks 0",
        ]
    );
    assert_eq!(
        decision.summary(),
        "task t1: placed on c (score 0.32; 1 cell scored, 1 too full, 1 filtered: rootfs)"
    );
}

#[test]
fn optional_score_terms_show_only_when_they_count() {
    let line = |verdict| {
        CellVerdict {
            cell_id: "cell-1".into(),
            verdict,
        }
        .to_string()
    };
    let parts = ScoreParts {
        resource: 0.1234,
        same_process: 1000.0,
        bin_pack: 2.0,
        plugin: 0.5,
        ..ScoreParts::default()
    };
    assert_eq!(
        line(Verdict::Scored {
            parts,
            named: vec![("wasm-gpu".into(), 0.5)],
        }),
        "cell-1: score 1002.623 = resource 0.123 + starting 0 + same process 1000 + tasks 0 \
         + bin pack 2 + plugins 0.5 (wasm-gpu 0.5)"
    );
    assert_eq!(
        line(Verdict::ZoneSkipped),
        "cell-1: not scored: its zone has more instances"
    );
    assert_eq!(
        line(Verdict::Insufficient(diego_auction::ResourceProblems::NONE)),
        "cell-1: insufficient resources"
    );
}
