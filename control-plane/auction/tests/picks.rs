//! Rounds that pick (ADR 0026): a round keeping the auction's loads itself picks each
//! placement's winner; the auction checks every pick against its own state and refuses a bad
//! one (the round fails, its fallback scores the rest, the plan says why).

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use common::*;
use diego_auction::*;

/// What a picking round does wrong, if anything.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Picks a position past the candidates.
    OutOfRange,
    /// Picks the first candidate without room.
    NoRoom,
}

/// Diego's formula over its own copy of the loads: what a 0.4 guest built with the SDK does.
struct Picker {
    diego: DiegoScorer,
    fault: Fault,
    picks: AtomicU32,
}

impl Picker {
    fn new(config: &AuctionConfig, fault: Fault) -> Self {
        Picker {
            diego: DiegoScorer::from_config(config),
            fault,
            picks: AtomicU32::new(0),
        }
    }
}

struct PickerRound<'s> {
    scorer: &'s Picker,
    cells: Vec<CellState>,
    bin_pack_index: Vec<i32>,
    tasks: Vec<u32>,
    same_process: HashMap<String, Vec<u32>>,
    refused: Option<String>,
}

impl PickerRound<'_> {
    fn view<'a>(&'a self, c: usize, work: &WorkView<'_>) -> CellView<'a> {
        let cell = &self.cells[c];
        let same_process_lrps = match work {
            WorkView::Lrp(lrp) => self
                .same_process
                .get(&lrp.process_guid)
                .map_or(0, |counts| counts[c]),
            WorkView::Task(_) => 0,
        };
        CellView {
            cell,
            available: cell.available,
            total: cell.total,
            starting_container_count: cell.starting_container_count,
            same_process_lrps,
            tasks: self.tasks[c],
            bin_pack_index: self.bin_pack_index[c],
            proxy_memory_mb: cell.proxy_memory_mb,
        }
    }

    fn fits(&self, c: usize, work: &WorkView<'_>) -> bool {
        let available = self.cells[c].available;
        available.memory_mb >= work.memory_mb()
            && available.disk_mb >= work.disk_mb()
            && available.containers >= 1
    }
}

impl ScoreRound for PickerRound<'_> {
    fn score(
        &mut self,
        work: &WorkView<'_>,
        _ids: &[u32],
        cells: &[CellView<'_>],
        out: &mut Vec<Option<ScoreParts>>,
    ) {
        // Only reached after a refused pick: the fallback, Diego's scores.
        assert!(
            self.refused.is_some(),
            "a picking round is not asked to score"
        );
        out.extend(cells.iter().map(|c| Some(self.scorer.diego.score(c, work))));
    }

    fn explain(
        &mut self,
        _work: &WorkView<'_>,
        _ids: &[u32],
        _cells: &[CellView<'_>],
    ) -> Vec<CellScore> {
        panic!("no explanations in these auctions");
    }

    fn pick(&mut self, work: &WorkView<'_>, candidates: &[u32]) -> Option<Pick> {
        if self.refused.is_some() {
            return None;
        }
        self.scorer.picks.fetch_add(1, Ordering::Relaxed);
        let faulty = match self.scorer.fault {
            Fault::None => None,
            Fault::OutOfRange => Some(candidates.len() as u32),
            Fault::NoRoom => candidates
                .iter()
                .position(|&c| !self.fits(c as usize, work))
                .map(|p| p as u32),
        };
        if let Some(position) = faulty {
            return Some(Pick {
                winner: Some(position),
                ..Pick::default()
            });
        }
        let (mut best, mut winner, mut rejected) = (1e20, None, 0);
        for (position, &c) in candidates.iter().enumerate() {
            if !self.fits(c as usize, work) {
                continue;
            }
            let parts = self.scorer.diego.score(&self.view(c as usize, work), work);
            let total = parts.total();
            if total == f64::INFINITY {
                rejected += 1;
            } else if total < best {
                best = total;
                winner = Some((position as u32, c as usize, parts));
            }
        }
        let Some((position, c, parts)) = winner else {
            return Some(Pick {
                rejected,
                ..Pick::default()
            });
        };
        let cell = &mut self.cells[c];
        cell.available.memory_mb -= work.memory_mb();
        cell.available.disk_mb -= work.disk_mb();
        cell.available.containers -= 1;
        cell.starting_container_count += 1;
        match work {
            WorkView::Lrp(lrp) => {
                let n = self.cells.len();
                let counts = self.same_process.entry(lrp.process_guid.clone());
                counts.or_insert_with(|| vec![0; n])[c] += 1;
            }
            WorkView::Task(_) => self.tasks[c] += 1,
        }
        Some(Pick {
            winner: Some(position),
            parts,
            rejected,
        })
    }

    fn refuse_pick(&mut self, reason: String) {
        self.refused = Some(reason);
    }

    fn failures(&self) -> Vec<String> {
        self.refused.iter().cloned().collect()
    }
}

impl Scorer for Picker {
    fn name(&self) -> &str {
        "picker"
    }

    fn score(&self, _cell: &CellView<'_>, _work: &WorkView<'_>) -> ScoreParts {
        panic!("a scorer with a round is never asked cell by cell");
    }

    fn open_round(&self, cells: &[&CellState]) -> Option<Box<dyn ScoreRound + '_>> {
        let mut same_process: HashMap<String, Vec<u32>> = HashMap::new();
        for (c, cell) in cells.iter().enumerate() {
            for lrp in &cell.lrps {
                let counts = same_process.entry(lrp.process_guid.clone());
                counts.or_insert_with(|| vec![0; cells.len()])[c] += 1;
            }
        }
        Some(Box::new(PickerRound {
            scorer: self,
            cells: cells.iter().map(|c| (*c).clone()).collect(),
            bin_pack_index: bin_pack_indices(cells),
            tasks: cells.iter().map(|c| c.task_guids.len() as u32).collect(),
            same_process,
            refused: None,
        }))
    }
}

/// Cells in three zones, some busy or full, with instances and tasks already on them.
fn cells() -> Vec<CellState> {
    (0..15)
        .map(|i| {
            let mut c = cell(
                &format!("c{i:02}"),
                ["z1", "z2", "z3"][i % 3],
                8192,
                16384,
                40,
            );
            c.cell_index = (15 - i) as i32;
            c.available.memory_mb -= (i as i32 % 5) * 512;
            c.starting_container_count = i as i32 % 3;
            if i % 4 == 0 {
                c.lrps.push(CellLrp {
                    process_guid: "app-1".into(),
                    index: 9,
                });
                c.task_guids.push(format!("old-{i}"));
            }
            if i == 7 {
                c.available.containers = 0;
            }
            c
        })
        .collect()
}

fn work() -> (Vec<LrpStart>, Vec<TaskStart>) {
    let lrps = (0..60)
        .map(|i| lrp(&format!("app-{}", i / 6), i % 6, 256 * (1 + i % 3), 512))
        .collect();
    let tasks = (0..12).map(|i| task(&format!("t{i}"), 300, 100)).collect();
    (lrps, tasks)
}

#[test]
fn a_round_that_picks_gives_the_native_plan_decision_for_decision() {
    for bin_pack_first_fit_weight in [0.0, 0.5] {
        let config = AuctionConfig {
            bin_pack_first_fit_weight,
            seed: 5,
            ..AuctionConfig::default()
        };
        let picker = Picker::new(&config, Fault::None);
        let (lrps, tasks) = work();
        let native = DiegoScorer::from_config(&config);
        let expected = schedule(&cells(), lrps.clone(), tasks.clone(), &config, &native);
        let actual = schedule(&cells(), lrps, tasks, &config, &picker);
        assert!(
            actual.scorer_failures.is_empty(),
            "{:?}",
            actual.scorer_failures
        );
        assert!(expected.placed_count() > 60);
        // Tallies, winners' parts, failures: everything.
        assert_eq!(actual, expected);
        assert!(picker.picks.load(Ordering::Relaxed) >= 72);
    }
}

#[test]
fn a_bad_pick_is_refused_and_the_fallback_places_the_rest() {
    let config = AuctionConfig {
        seed: 5,
        ..AuctionConfig::default()
    };
    let cases = [
        (Fault::OutOfRange, "picked position"),
        (
            Fault::NoRoom,
            "picked cell c07, which has no room for the work",
        ),
    ];
    for (fault, reason) in cases {
        let picker = Picker::new(&config, fault);
        let (lrps, tasks) = work();
        let native = DiegoScorer::default();
        let expected = schedule(&cells(), lrps.clone(), tasks.clone(), &config, &native);
        let mut actual = schedule(&cells(), lrps, tasks, &config, &picker);
        assert_eq!(
            actual.scorer_failures.len(),
            1,
            "{:?}",
            actual.scorer_failures
        );
        assert!(
            actual.scorer_failures[0].contains(reason),
            "{:?}",
            actual.scorer_failures
        );
        // Refused at its first pick: the fallback placed everything.
        assert_eq!(picker.picks.load(Ordering::Relaxed), 1);
        actual.scorer_failures.clear();
        assert_eq!(actual.assignments, expected.assignments);
    }
}

#[test]
fn a_composite_lets_a_lone_plugin_at_weight_one_pick() {
    let config = AuctionConfig::default();
    let (lrps, tasks) = work();
    let picker = Picker::new(&config, Fault::None);
    let alone = CompositeScorer::new().with(1.0, Box::new(picker));
    let plan = schedule(&cells(), lrps.clone(), tasks.clone(), &config, &alone);
    let native = DiegoScorer::default();
    let expected = schedule(&cells(), lrps, tasks, &config, &native);
    assert!(
        plan.scorer_failures.is_empty(),
        "{:?}",
        plan.scorer_failures
    );
    assert_eq!(plan.assignments, expected.assignments);
    // The winner's score is the plugin's total, in `plugin`, recorded under its label.
    let decision = &plan.decisions[0];
    let Outcome::Placed { score, .. } = &decision.outcome else {
        panic!("placed");
    };
    assert_eq!(
        decision.scorers,
        vec![("1×picker".to_owned(), score.plugin)]
    );
    assert_eq!(score.total(), score.plugin);
}
