//! The batch side of the scoring seam: a scorer with a round is asked once per placement for
//! every candidate, gives the same plans as the per-cell seam, and can reject cells.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};

use common::*;
use diego_auction::*;

/// Diego's score through a round, counting calls; rejects the cell named `reject`.
struct Batched {
    calls: AtomicU32,
    reject: Option<&'static str>,
}

struct BatchedRound<'s>(&'s Batched);

impl ScoreRound for BatchedRound<'_> {
    fn score(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
        out: &mut Vec<Option<ScoreParts>>,
    ) {
        assert_eq!(ids.len(), cells.len());
        self.0.calls.fetch_add(1, Ordering::Relaxed);
        out.extend(cells.iter().map(|cell| {
            (Some(cell.cell.cell_id.as_str()) != self.0.reject)
                .then(|| DiegoScorer::default().score(cell, work))
        }));
    }

    fn explain(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
    ) -> Vec<CellScore> {
        let mut out = Vec::new();
        self.score(work, ids, cells, &mut out);
        out.into_iter()
            .map(|parts| match parts {
                Some(parts) => CellScore::Scored {
                    parts,
                    named: vec![("batched".into(), parts.total())],
                },
                None => CellScore::Rejected("not this one".into()),
            })
            .collect()
    }

    fn failures(&self) -> Vec<String> {
        vec!["nothing failed, but the runner must hear about it".into()]
    }
}

impl Scorer for Batched {
    fn name(&self) -> &str {
        "batched"
    }

    fn score(&self, _cell: &CellView<'_>, _work: &WorkView<'_>) -> ScoreParts {
        panic!("a scorer with a round is never asked cell by cell");
    }

    fn open_round(&self, _cells: &[&CellState]) -> Option<Box<dyn ScoreRound + '_>> {
        Some(Box::new(BatchedRound(self)))
    }
}

fn cells() -> Vec<CellState> {
    (0..12)
        .map(|i| {
            let mut c = cell(
                &format!("c{i:02}"),
                ["z1", "z2", "z3"][i % 3],
                8192,
                16384,
                50,
            );
            c.available.memory_mb -= (i as i32 % 5) * 512;
            c.starting_container_count = i as i32 % 3;
            c
        })
        .collect()
}

fn work() -> (Vec<LrpStart>, Vec<TaskStart>) {
    let lrps = (0..30)
        .map(|i| lrp(&format!("app-{}", i / 5), i % 5, 256 * (1 + i % 3), 512))
        .collect();
    let tasks = (0..10).map(|i| task(&format!("t{i}"), 300, 100)).collect();
    (lrps, tasks)
}

#[test]
fn a_round_scorer_gives_the_default_plan_with_one_call_per_placement() {
    for explain in [false, true] {
        let config = AuctionConfig {
            explain,
            seed: 3,
            ..AuctionConfig::default()
        };
        let batched = Batched {
            calls: AtomicU32::new(0),
            reject: None,
        };
        let (lrps, tasks) = work();
        let expected = schedule(
            &cells(),
            lrps.clone(),
            tasks.clone(),
            &config,
            &DiegoScorer::default(),
        );
        let mut actual = schedule(&cells(), lrps, tasks, &config, &batched);
        assert_eq!(
            batched.calls.load(Ordering::Relaxed),
            40,
            "one call per placement"
        );
        assert_eq!(actual.scorer_failures.len(), 1);
        actual.scorer_failures.clear();
        assert_eq!(actual.assignments, expected.assignments);
        for (a, e) in actual.decisions.iter().zip(&expected.decisions) {
            assert_eq!(a.outcome, e.outcome);
        }
    }
}

#[test]
fn a_rejected_cell_never_wins_and_is_explained() {
    let config = AuctionConfig {
        explain: true,
        ..AuctionConfig::default()
    };
    let two = vec![
        cell("a", "z1", 4096, 4096, 10),
        cell("b", "z1", 1024, 4096, 10),
    ];
    let batched = Batched {
        calls: AtomicU32::new(0),
        reject: Some("a"),
    };
    // Diego alone prefers the emptier "a".
    let plan = schedule(&two, vec![lrp("w", 0, 256, 10)], vec![], &config, &batched);
    let decision = &plan.decisions[0];
    assert_eq!(decision.placed_on(), Some("b"), "{}", decision.summary());
    assert_eq!(decision.tally.rejected, 1);
    assert!(
        decision.summary().contains("1 rejected by scorers"),
        "{}",
        decision.summary()
    );
    let line = decision
        .cells
        .iter()
        .find(|c| c.cell_id == "a")
        .unwrap()
        .to_string();
    assert_eq!(line, "a: rejected by scorer not this one");
}

#[test]
fn a_composite_with_a_round_member_records_each_scorers_score_for_the_winner() {
    for explain in [false, true] {
        let config = AuctionConfig {
            explain,
            ..AuctionConfig::default()
        };
        let composite = CompositeScorer::new()
            .with(1.0, Box::new(DiegoScorer::default()))
            .with(
                2.0,
                Box::new(Batched {
                    calls: AtomicU32::new(0),
                    reject: Some("a"),
                }),
            );
        let two = vec![
            cell("a", "z1", 4096, 4096, 10),
            cell("b", "z1", 1024, 4096, 10),
        ];
        let plan = schedule(
            &two,
            vec![lrp("w", 0, 256, 10)],
            vec![],
            &config,
            &composite,
        );
        let decision = &plan.decisions[0];
        assert_eq!(decision.placed_on(), Some("b"));
        let names: Vec<&str> = decision.scorers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["1×diego", "2×batched"]);
        let Outcome::Placed { score, .. } = &decision.outcome else {
            panic!("placed");
        };
        // The plugin's weighted total lands in `plugin`; Diego keeps its breakdown.
        assert_eq!(score.plugin, decision.scorers[1].1);
        assert!((score.plugin - 2.0 * (score.total() - score.plugin)).abs() < 1e-12);
        assert!(
            decision.summary().contains("= 1×diego "),
            "{}",
            decision.summary()
        );
    }
}

/// Diego's score as a plugin would give it (its total lands in `plugin`), scorable both cell
/// by cell and through a round.
struct DiegoAsPlugin;

impl Scorer for DiegoAsPlugin {
    fn name(&self) -> &str {
        "as-plugin"
    }

    fn score(&self, cell: &CellView<'_>, work: &WorkView<'_>) -> ScoreParts {
        let mut parts = DiegoScorer::default().score(cell, work);
        // something the default does not do, so the plugin moves the plan
        parts.bin_pack += f64::from(cell.cell.available.memory_mb) / 3000.0;
        parts
    }

    fn open_round(&self, _cells: &[&CellState]) -> Option<Box<dyn ScoreRound + '_>> {
        Some(Box::new(PerCellRound(self)))
    }
}

/// A composite asked only cell by cell (no round): the reference sums.
struct CellByCell(CompositeScorer);

impl Scorer for CellByCell {
    fn name(&self) -> &str {
        "cell-by-cell"
    }

    fn score(&self, cell: &CellView<'_>, work: &WorkView<'_>) -> ScoreParts {
        self.0.score(cell, work)
    }
}

fn weighted() -> CompositeScorer {
    CompositeScorer::new()
        .with(1.0, Box::new(DiegoScorer::default()))
        .with(0.37, Box::new(DiegoAsPlugin))
}

#[test]
fn a_composite_summed_in_columns_places_and_scores_exactly_as_cell_by_cell() {
    for explain in [false, true] {
        let config = AuctionConfig {
            explain,
            seed: 11,
            ..AuctionConfig::default()
        };
        let (lrps, tasks) = work();
        let reference = schedule(
            &cells(),
            lrps.clone(),
            tasks.clone(),
            &config,
            &CellByCell(weighted()),
        );
        let columns = schedule(&cells(), lrps, tasks, &config, &weighted());
        assert_eq!(columns.assignments, reference.assignments);
        for (c, r) in columns.decisions.iter().zip(&reference.decisions) {
            // the winner's score, term by term, to the bit
            assert_eq!(format!("{:?}", c.outcome), format!("{:?}", r.outcome));
        }
    }
}
