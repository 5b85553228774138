//! Properties of `plan` over random snapshots.

mod common;
use std::collections::{BTreeMap, BTreeSet};

use common::*;
use diego_convergence::*;
use diego_model::{ActualLrp, ActualState, Presence, TaskState};
use proptest::prelude::*;

const PGS: [&str; 3] = ["a", "b", "orphan"];
const CELLS: [&str; 3] = ["c0", "c1", "c2"];
const DOMAINS: [&str; 2] = ["d", "stale"];

fn arb_row() -> impl Strategy<Value = ActualLrp> {
    (
        0..3usize,
        0..5i32,
        0..3i32,
        0..4usize,
        0..3usize,
        0..2usize,
        0..400i64,
        0..6i32,
    )
        .prop_map(
            |(pg, index, presence, state, cell, domain, ago_s, crashes)| {
                let state = [
                    ActualState::Unclaimed,
                    ActualState::Claimed,
                    ActualState::Running,
                    ActualState::Crashed,
                ][state];
                let mut r = row(
                    PGS[pg],
                    index,
                    Presence::from_i32(presence).unwrap(),
                    state,
                    CELLS[cell],
                );
                r.key.domain = DOMAINS[domain].into();
                r.since = NOW - ago_s * S;
                r.crash_count = crashes;
                r
            },
        )
}

fn arb_snapshot() -> impl Strategy<Value = Snapshot> {
    (
        proptest::collection::vec(arb_row(), 0..24),
        (0..5i32, 0..5i32, 0..2usize),
        proptest::option::of(proptest::sample::subsequence(CELLS.to_vec(), 0..=3)),
        proptest::sample::subsequence(DOMAINS.to_vec(), 0..=2),
        proptest::collection::vec((0..3usize, 0..3usize), 0..6),
    )
        .prop_map(|(rows, (na, nb, dom), cell_ids, fresh, tasks)| {
            // One row per (process guid, index, presence), as the store keys them.
            let mut unique = BTreeMap::new();
            for r in rows {
                unique
                    .entry((r.key.process_guid.clone(), r.key.index, r.presence))
                    .or_insert(r);
            }
            let domain = DOMAINS[dom];
            Snapshot {
                tasks: tasks
                    .into_iter()
                    .enumerate()
                    .map(|(i, (state, cell))| {
                        let state =
                            [TaskState::Pending, TaskState::Running, TaskState::Completed][state];
                        task(&format!("t{i}"), state, CELLS[cell])
                    })
                    .collect(),
                desired: vec![desired("a", domain, na), desired("b", domain, nb)],
                actuals: unique.into_values().collect(),
                cell_ids: cell_ids.map(|c| c.into_iter().map(String::from).collect()),
                fresh_domains: fresh.into_iter().map(String::from).collect(),
                metric_tags: Default::default(),
            }
        })
}

type Rows = BTreeMap<(String, i32, Presence), ActualLrp>;

/// Applies the plan's row writes to the snapshot's rows the way the runner
/// does, failing on any write that would put a second row in a slot.
fn apply(s: &Snapshot, p: &Plan) -> Result<Rows, String> {
    let slot = |a: &ActualLrp, presence| (a.key.process_guid.clone(), a.key.index, presence);
    let mut rows: Rows = s
        .actuals
        .iter()
        .map(|a| (slot(a, a.presence), a.clone()))
        .collect();
    for action in &p.lrp_actions {
        match action {
            LrpAction::CreateMissing { key } => {
                let at = (key.process_guid.clone(), key.index, Presence::Ordinary);
                if rows
                    .insert(at, ActualLrp::unclaimed(key.clone(), "e", NOW))
                    .is_some()
                {
                    return Err(format!("second ordinary row for {key:?}"));
                }
            }
            LrpAction::MarkSuspect { actual } => {
                if rows
                    .insert(slot(actual, Presence::Suspect), actual.clone())
                    .is_some()
                {
                    return Err(format!("second suspect row for {:?}", actual.key));
                }
                rows.insert(
                    slot(actual, Presence::Ordinary),
                    ActualLrp::unclaimed(actual.key.clone(), "e", NOW),
                );
            }
            LrpAction::PromoteSuspect { suspect, .. } => {
                rows.remove(&slot(suspect, Presence::Suspect));
                rows.insert(slot(suspect, Presence::Ordinary), suspect.clone());
            }
            LrpAction::Retire { actual, .. } => {
                rows.remove(&slot(actual, Presence::Ordinary));
            }
            LrpAction::RemoveExtraSuspect { suspect }
            | LrpAction::RemoveOrphanedSuspect { suspect } => {
                if rows.remove(&slot(suspect, Presence::Suspect)).is_none() {
                    return Err(format!("removes an absent suspect {:?}", suspect.key));
                }
            }
            LrpAction::DeleteEvacuating { actual } => {
                rows.remove(&slot(actual, Presence::Evacuating));
            }
            LrpAction::AuctionStaleUnclaimed { .. }
            | LrpAction::RestartCrashed { .. }
            | LrpAction::UnclaimReplacement { .. } => {}
        }
    }
    Ok(rows)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_retires_in_a_stale_domain(s in arb_snapshot()) {
        let p = plan(&s, NOW, &ConvergenceConfig::default());
        for a in &p.lrp_actions {
            if let LrpAction::Retire { actual, .. } | LrpAction::RemoveOrphanedSuspect { suspect: actual } = a {
                prop_assert!(s.fresh_domains.contains(&actual.key.domain), "{:?}", a);
            }
        }
    }

    #[test]
    fn never_creates_a_second_row_for_an_index(s in arb_snapshot(), guard in any::<bool>()) {
        let cfg = ConvergenceConfig { empty_cell_set_guard: guard, ..Default::default() };
        let p = plan(&s, NOW, &cfg);
        let rows = apply(&s, &p).map_err(TestCaseError::fail)?;
        // Every desired index ends with exactly one ORDINARY row.
        for d in &s.desired {
            for i in 0..d.instances {
                prop_assert!(rows.contains_key(&(d.process_guid.clone(), i, Presence::Ordinary)));
            }
        }
        // At most one action per row, so no two writes race within a pass.
        let mut seen = BTreeSet::new();
        for a in p.lrp_actions.iter().filter(|a| !matches!(a, LrpAction::DeleteEvacuating { .. })) {
            let k = a.key();
            let slot = match a {
                LrpAction::RemoveExtraSuspect { .. } | LrpAction::RemoveOrphanedSuspect { .. } => "suspect",
                _ => "ordinary",
            };
            prop_assert!(seen.insert((k.process_guid.clone(), k.index, slot)), "two actions on {:?}", k);
        }
    }

    #[test]
    fn with_the_guard_an_empty_cell_set_never_fails_running_work(mut s in arb_snapshot()) {
        s.cell_ids = Some(BTreeSet::new());
        let p = plan(&s, NOW, &ConvergenceConfig::default());
        prop_assert!(p.task_changes.iter().all(|c| c.rule != TaskRule::CellDisappeared));
        prop_assert!(p.lrp_actions.iter().all(|a| !a.is_cell_loss()));
        let placed = s.actuals.iter().any(|a| a.is_placed() || a.presence == Presence::Evacuating)
            || s.tasks.iter().any(|t| t.state == TaskState::Running);
        prop_assert_eq!(placed, !p.warnings.is_empty());
    }

    #[test]
    fn unknown_cells_never_take_cell_dependent_actions(mut s in arb_snapshot(), guard in any::<bool>()) {
        s.cell_ids = None;
        let cfg = ConvergenceConfig { empty_cell_set_guard: guard, ..Default::default() };
        let p = plan(&s, NOW, &cfg);
        prop_assert!(p.task_changes.iter().all(|c| c.rule != TaskRule::CellDisappeared));
        let cell_dependent =
            |a: &LrpAction| a.is_cell_loss() || matches!(a, LrpAction::PromoteSuspect { .. });
        prop_assert!(!p.lrp_actions.iter().any(cell_dependent), "{:?}", p.lrp_actions);
    }
}
