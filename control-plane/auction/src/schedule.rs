//! The entry point: one batch in, one plan out (spec §8.3).

use std::collections::BTreeMap;

use crate::auction::Auction;
use crate::error::PlacementError;
use crate::explain::{Decision, Outcome, Tally, WorkId};
use crate::score::{DiegoScorer, Scorer, WorkView};
use crate::types::{AuctionConfig, CellState, LrpStart, TaskStart};
use crate::zones::Layout;

/// The work one cell won.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CellAssignment {
    pub lrps: Vec<LrpStart>,
    pub tasks: Vec<TaskStart>,
}

/// The result of one auction: what to send to which cell, what failed and why.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Plan {
    /// Keyed by `cell_id`; only cells that won something. Work is in scheduling order.
    pub assignments: BTreeMap<String, CellAssignment>,
    /// The placement error's `Display` is the string Diego stores (`placement_error`).
    pub failed_lrps: Vec<(LrpStart, PlacementError)>,
    pub failed_tasks: Vec<(TaskStart, PlacementError)>,
    /// One per input work item, in scheduling order.
    pub decisions: Vec<Decision>,
    /// Scorer calls that failed in this auction (a plugin trapped, ran out of fuel or time,
    /// or answered malformed output) and were scored by the plugin's fallback instead. The
    /// runner re-plans such an auction with the default scorer and records why.
    pub scorer_failures: Vec<String>,
}

impl Plan {
    pub fn placed_count(&self) -> usize {
        self.assignments
            .values()
            .map(|a| a.lrps.len() + a.tasks.len())
            .sum()
    }
}

/// [`schedule`] with the default [`DiegoScorer`] built from `config`'s weights.
pub fn schedule_default(
    cells: &[CellState],
    lrps: Vec<LrpStart>,
    tasks: Vec<TaskStart>,
    config: &AuctionConfig,
) -> Plan {
    run(
        cells,
        lrps,
        tasks,
        config,
        &DiegoScorer::from_config(config),
    )
}

/// Places a batch greedily, one work item at a time, exactly as Diego's auctioneer does.
///
/// Order (kept from Diego, quirk included — spec §12.7):
/// 1. LRPs sorted by index ascending, ties by memory descending; tasks by memory descending.
///    Both sorts are stable (Go's `sort.Sort` is not), so equal keys keep submission order.
/// 2. The LRPs before the first one with index > 0 (the index-0 prefix) go first, then all
///    tasks, then the remaining LRPs. **Quirk kept:** when *every* LRP has index 0 the prefix
///    is empty and all LRPs go after the tasks. We keep it so a Diego operator's mental model
///    (and upstream's placement for the same batch) holds; the runner can split batches if it
///    ever matters.
///
/// Evacuating cells are excluded; with no participating cell everything fails with
/// `unable to communicate to compatible cells`. Duplicates are not removed here: the runner
/// dedupes by `process_guid.index` and task guid before calling (spec §8.2).
///
/// Ties in score go to the earlier cell in an order shuffled from `config.seed`, so the same
/// input and seed always give the same plan. `config`'s weights are read by [`DiegoScorer`]
/// only; a custom `scorer` brings its own.
pub fn schedule(
    cells: &[CellState],
    lrps: Vec<LrpStart>,
    tasks: Vec<TaskStart>,
    config: &AuctionConfig,
    scorer: &dyn Scorer,
) -> Plan {
    // Monomorphise the default scorer so its formula inlines into the scoring loop.
    match scorer.as_diego() {
        Some(diego) => run(cells, lrps, tasks, config, diego),
        None => run(cells, lrps, tasks, config, scorer),
    }
}

fn run<S: Scorer + ?Sized>(
    cells: &[CellState],
    mut lrps: Vec<LrpStart>,
    mut tasks: Vec<TaskStart>,
    config: &AuctionConfig,
    scorer: &S,
) -> Plan {
    let layout = Layout::new(cells, config.seed);
    if layout.cells.is_empty() {
        return fail_everything(lrps, tasks);
    }
    lrps.sort_by(|a, b| {
        a.index
            .cmp(&b.index)
            .then_with(|| b.memory_mb.cmp(&a.memory_mb))
    });
    tasks.sort_by_key(|task| std::cmp::Reverse(task.memory_mb));
    let prefix_len = lrps.iter().position(|lrp| lrp.index > 0).unwrap_or(0);

    let mut auction = Auction::new(layout, &lrps, config, scorer);
    // The placement order, whole: a round that places batches is sent the works ahead.
    let order: Vec<WorkView<'_>> = lrps[..prefix_len]
        .iter()
        .map(WorkView::Lrp)
        .chain(tasks.iter().map(WorkView::Task))
        .chain(lrps[prefix_len..].iter().map(WorkView::Lrp))
        .collect();
    let mut results: Vec<_> = (0..order.len())
        .map(|at| auction.place(&order, at))
        .collect();
    drop(order);
    // Back to the input's split: the prefix's results, then the tasks', then the rest's.
    let rest: Vec<_> = results.split_off(prefix_len + tasks.len());
    let task_results = results.split_off(prefix_len);
    let mut lrp_results = results;
    lrp_results.extend(rest);

    let (decisions, scorer_failures, cell_ids) = auction.finish();
    let mut per_cell: Vec<CellAssignment> = vec![CellAssignment::default(); cell_ids.len()];
    let mut plan = Plan {
        decisions,
        scorer_failures,
        ..Plan::default()
    };
    for (lrp, result) in lrps.into_iter().zip(lrp_results) {
        match result {
            Ok(cell) => per_cell[cell as usize].lrps.push(lrp),
            Err(error) => plan.failed_lrps.push((lrp, error)),
        }
    }
    for (task, result) in tasks.into_iter().zip(task_results) {
        match result {
            Ok(cell) => per_cell[cell as usize].tasks.push(task),
            Err(error) => plan.failed_tasks.push((task, error)),
        }
    }
    for (id, assignment) in per_cell.into_iter().enumerate() {
        if assignment.lrps.is_empty() && assignment.tasks.is_empty() {
            continue;
        }
        let entry = plan.assignments.entry(cell_ids[id].to_owned()).or_default();
        entry.lrps.extend(assignment.lrps);
        entry.tasks.extend(assignment.tasks);
    }
    plan
}

fn fail_everything(lrps: Vec<LrpStart>, tasks: Vec<TaskStart>) -> Plan {
    let error = PlacementError::CellCommunication;
    let failed = |work: WorkId| Decision {
        work,
        outcome: Outcome::Failed(error.clone()),
        tally: Tally::default(),
        cells: Vec::new(),
        scorers: Vec::new(),
        notes: Vec::new(),
    };
    let mut plan = Plan::default();
    for lrp in lrps {
        plan.decisions.push(failed(WorkId::Lrp {
            process_guid: lrp.process_guid.clone(),
            index: lrp.index,
        }));
        plan.failed_lrps.push((lrp, error.clone()));
    }
    for task in tasks {
        plan.decisions.push(failed(WorkId::Task {
            task_guid: task.task_guid.clone(),
        }));
        plan.failed_tasks.push((task, error.clone()));
    }
    plan
}
