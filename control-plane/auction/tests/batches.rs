//! Rounds that place batches (ADR 0029): a round keeping the auction's loads walks a batch of
//! works itself (zones, tied groups, the in-flight limit) and picks each winner; the auction
//! checks every pick against its own walk and refuses the first bad one (the round fails, its
//! fallback places the rest, nothing already placed is lost or placed twice).

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use common::*;
use diego_auction::*;

/// What a batch-placing round does wrong, and at which pick (counted over the auction).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    None,
    /// Picks a cell without room for the work.
    NoRoom,
    /// Picks a cell the work's constraints rule out.
    Incompatible,
    /// Picks its winner with a NaN total.
    NanTotal,
    /// Answers one pick fewer than works.
    Short,
    /// Claims no winner without rejecting anything.
    NoWinner,
    /// Picks a cell of a later group of zones than the first with room.
    LaterZone,
}

/// Diego's formula over its own copy of the loads, walking each batch as the auction does:
/// what a 0.5 guest built with the SDK does.
struct Batcher {
    diego: DiegoScorer,
    fault: Fault,
    /// The first pick (0-based, over the auction) that is faulty, if the fault applies to
    /// it (else the next one it applies to).
    at: u32,
    /// `place_batch` calls.
    batches: AtomicU32,
}

impl Batcher {
    fn new(config: &AuctionConfig, fault: Fault, at: u32) -> Self {
        Batcher {
            diego: DiegoScorer::from_config(config),
            fault,
            at,
            batches: AtomicU32::new(0),
        }
    }
}

struct BatcherRound<'s> {
    scorer: &'s Batcher,
    cells: Vec<CellState>,
    bin_pack_index: Vec<i32>,
    tasks: Vec<u32>,
    same_process: HashMap<String, Vec<u32>>,
    picks: u32,
    /// The fault was made.
    faulted: bool,
    refused: Option<String>,
}

impl BatcherRound<'_> {
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

    /// The process's instances in the zone of `zone_cells` (over every cell of that zone,
    /// compatible or not, as the auction counts them).
    fn zone_count(&self, work: &WorkView<'_>, zone_cells: &[u32]) -> u32 {
        let (WorkView::Lrp(lrp), Some(&first)) = (work, zone_cells.first()) else {
            return 0;
        };
        let Some(counts) = self.same_process.get(&lrp.process_guid) else {
            return 0;
        };
        let zone = &self.cells[first as usize].zone;
        (0..self.cells.len())
            .filter(|&c| &self.cells[c].zone == zone)
            .map(|c| counts[c])
            .sum()
    }

    /// The walk's groups: an LRP's tied zones in ascending instance count, a task's cells.
    fn groups(&self, work: &WorkView<'_>, set: CandidateSet<'_>) -> Vec<Vec<u32>> {
        match work {
            WorkView::Task(_) => {
                let mut all: Vec<u32> = set.iter().flat_map(|(_, c)| c.clone()).collect();
                all.sort_unstable();
                vec![all]
            }
            WorkView::Lrp(_) => {
                let mut zones: Vec<(u32, &Vec<u32>)> = set
                    .iter()
                    .map(|(_, cells)| (self.zone_count(work, cells), cells))
                    .collect();
                zones.sort_by_key(|z| z.0);
                let mut groups: Vec<(u32, Vec<u32>)> = Vec::new();
                for (count, cells) in zones {
                    match groups.last_mut() {
                        Some((tied, group)) if *tied == count => group.extend(cells),
                        _ => groups.push((count, cells.clone())),
                    }
                }
                groups.into_iter().map(|(_, g)| g).collect()
            }
        }
    }

    /// One work's walk: the winner (cell, parts) and the rejections over the groups walked.
    fn walk(&self, work: &WorkView<'_>, groups: &[Vec<u32>]) -> (Option<(usize, ScoreParts)>, u32) {
        let mut rejected = 0;
        for group in groups {
            let mut best: Option<(f64, usize, ScoreParts)> = None;
            for &c in group {
                if !self.fits(c as usize, work) {
                    continue;
                }
                let parts = self.scorer.diego.score(&self.view(c as usize, work), work);
                let total = parts.total();
                if total == f64::INFINITY {
                    rejected += 1;
                } else if total < best.map_or(1e20, |b| b.0) {
                    best = Some((total, c as usize, parts));
                }
            }
            if let Some((_, c, parts)) = best {
                return (Some((c, parts)), rejected);
            }
        }
        (None, rejected)
    }

    fn reserve(&mut self, c: usize, work: &WorkView<'_>) {
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
    }
}

impl ScoreRound for BatcherRound<'_> {
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
            "a batch-placing round is not asked to score"
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

    fn pick(&mut self, _work: &WorkView<'_>, _candidates: &[u32]) -> Option<Pick> {
        assert!(
            self.refused.is_some(),
            "a batch-placing round is not asked to pick"
        );
        None
    }

    fn place_batch(
        &mut self,
        works: &[BatchWork<'_>],
        sets: &[CandidateSet<'_>],
        budget: u32,
        out: &mut Vec<Pick>,
    ) -> bool {
        if self.refused.is_some() {
            return false;
        }
        self.scorer.batches.fetch_add(1, Ordering::Relaxed);
        let mut placed = 0;
        for (i, batch_work) in works.iter().enumerate() {
            let work = &batch_work.work;
            let faulty = self.picks >= self.scorer.at && !self.faulted;
            self.picks += 1;
            if placed >= budget {
                out.push(Pick::default());
                continue;
            }
            let set = sets[batch_work.set as usize];
            let groups = self.groups(work, set);
            let (mut winner, mut rejected) = self.walk(work, &groups);
            if faulty && self.scorer.fault == Fault::Short && i + 1 == works.len() {
                self.faulted = true;
                return true;
            }
            if faulty && winner.is_some() {
                let fits = |c: &&u32| self.fits(**c as usize, work);
                let fault = match self.scorer.fault {
                    Fault::None => None,
                    Fault::NoRoom => (0..self.cells.len())
                        .find(|&c| !self.fits(c, work))
                        .map(|c| Some((c, ScoreParts::default()))),
                    Fault::Incompatible => (0..self.cells.len() as u32)
                        .find(|c| set.iter().all(|(_, cells)| !cells.contains(c)))
                        .map(|c| Some((c as usize, ScoreParts::default()))),
                    Fault::NanTotal => winner.map(|(c, parts)| {
                        Some((
                            c,
                            ScoreParts {
                                plugin: f64::NAN,
                                ..parts
                            },
                        ))
                    }),
                    Fault::Short => None,
                    Fault::NoWinner => Some(None),
                    // Only when the walk has two groups and the first one has room.
                    Fault::LaterZone => match groups.as_slice() {
                        [first, .., last] if first.iter().any(|c| fits(&c)) => last
                            .iter()
                            .find(fits)
                            .map(|&c| Some((c as usize, ScoreParts::default()))),
                        _ => None,
                    },
                };
                if let Some(faulty_winner) = fault {
                    self.faulted = true;
                    winner = faulty_winner;
                    rejected = 0;
                }
            }
            match winner {
                Some((c, parts)) => {
                    self.reserve(c, work);
                    placed += 1;
                    out.push(Pick {
                        winner: Some(c as u32),
                        parts,
                        rejected,
                    });
                }
                None => out.push(Pick {
                    rejected,
                    ..Pick::default()
                }),
            }
        }
        true
    }

    fn refuse_pick(&mut self, reason: String) {
        self.refused = Some(reason);
    }

    fn failures(&self) -> Vec<String> {
        self.refused.iter().cloned().collect()
    }
}

impl Scorer for Batcher {
    fn name(&self) -> &str {
        "batcher"
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
        Some(Box::new(BatcherRound {
            scorer: self,
            cells: cells.iter().map(|c| (*c).clone()).collect(),
            bin_pack_index: bin_pack_indices(cells),
            tasks: cells.iter().map(|c| c.task_guids.len() as u32).collect(),
            same_process,
            picks: 0,
            faulted: false,
            refused: None,
        }))
    }
}

/// Cells in three zones (one zone tagged "gpu"), some busy or full, with instances and tasks
/// already on them.
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
            if i % 3 == 2 {
                c.optional_placement_tags = strings(&["gpu"]);
            }
            c
        })
        .collect()
}

/// 300 LRP instances (some tagged, some with a rootfs no cell has) and 40 tasks: more than
/// one batch, and enough to fill cells.
fn work() -> (Vec<LrpStart>, Vec<TaskStart>) {
    let lrps = (0..300)
        .map(|i| {
            let mut l = lrp(&format!("app-{}", i / 6), i % 6, 256 * (1 + i % 3), 512);
            if i % 11 == 0 {
                l.placement_tags = strings(&["gpu"]);
            }
            if i == 50 {
                l.rootfs = "preloaded:nowhere".into();
            }
            l
        })
        .collect();
    let tasks = (0..40).map(|i| task(&format!("t{i}"), 300, 100)).collect();
    (lrps, tasks)
}

/// The same plans, decision for decision (the first differing one shown).
fn assert_same(actual: &Plan, expected: &Plan) {
    for (i, (a, e)) in actual.decisions.iter().zip(&expected.decisions).enumerate() {
        assert_eq!(a, e, "decision {i}");
    }
    assert_eq!(actual, expected);
}

#[test]
fn a_round_that_places_batches_gives_the_native_plan_decision_for_decision() {
    for (bin_pack_first_fit_weight, maximum) in [(0.0, 0), (0.5, 0), (0.25, 200)] {
        let config = AuctionConfig {
            bin_pack_first_fit_weight,
            starting_container_count_maximum: maximum,
            seed: 5,
            ..AuctionConfig::default()
        };
        let batcher = Batcher::new(&config, Fault::None, 0);
        let (lrps, tasks) = work();
        let native = DiegoScorer::from_config(&config);
        let expected = schedule(&cells(), lrps.clone(), tasks.clone(), &config, &native);
        let actual = schedule(&cells(), lrps, tasks, &config, &batcher);
        assert!(
            actual.scorer_failures.is_empty(),
            "{:?}",
            actual.scorer_failures
        );
        // Some work fails (no room, no rootfs, the in-flight limit): those decisions too.
        assert!(expected.placed_count() > 100);
        assert!(!expected.failed_lrps.is_empty());
        // Tallies, winners' parts, failures: everything.
        assert_same(&actual, &expected);
        // 340 works in batches of 256.
        assert_eq!(batcher.batches.load(Ordering::Relaxed), 2);
    }
}

#[test]
fn a_bad_batch_pick_is_refused_there_and_the_fallback_places_the_rest() {
    let config = AuctionConfig {
        seed: 5,
        ..AuctionConfig::default()
    };
    let cases = [
        (
            Fault::NoRoom,
            "picked cell c07, which has no room for the work",
        ),
        (Fault::Incompatible, "which is not compatible with the work"),
        (Fault::NanTotal, "with total NaN"),
        (Fault::NoWinner, "but 0 rejected"),
        (Fault::LaterZone, "candidates with room in earlier zones"),
    ];
    let native = DiegoScorer::from_config(&config);
    let (lrps, tasks) = work();
    let expected = schedule(&cells(), lrps.clone(), tasks.clone(), &config, &native);
    for (fault, reason) in cases {
        // Faulty at the 40th pick: the first 39 placements are the round's.
        let batcher = Batcher::new(&config, fault, 39);
        let mut actual = schedule(&cells(), lrps.clone(), tasks.clone(), &config, &batcher);
        assert_eq!(actual.scorer_failures.len(), 1, "{fault:?}");
        assert!(
            actual.scorer_failures[0].contains(reason),
            "{fault:?}: {:?}",
            actual.scorer_failures
        );
        // The round's picks before the bad one were Diego's, the fallback's after it too:
        // nothing lost, nothing placed twice, the native plan.
        actual.scorer_failures.clear();
        assert_same(&actual, &expected);
        // Refused inside the first batch: no second batch was asked for.
        assert_eq!(batcher.batches.load(Ordering::Relaxed), 1, "{fault:?}");
    }
}

#[test]
fn a_batch_with_too_few_picks_is_refused_whole() {
    let config = AuctionConfig::default();
    let batcher = Batcher::new(&config, Fault::Short, 3);
    let (lrps, tasks) = work();
    let mut plan = schedule(&cells(), lrps.clone(), tasks.clone(), &config, &batcher);
    assert_eq!(plan.scorer_failures.len(), 1);
    assert!(
        plan.scorer_failures[0].contains("picks for a batch of 256 works"),
        "{:?}",
        plan.scorer_failures
    );
    let native = DiegoScorer::from_config(&config);
    plan.scorer_failures.clear();
    assert_eq!(plan, schedule(&cells(), lrps, tasks, &config, &native));
}

#[test]
fn a_composite_lets_a_lone_batching_plugin_at_weight_one_place_batches() {
    let config = AuctionConfig::default();
    let (lrps, tasks) = work();
    let batcher = Batcher::new(&config, Fault::None, 0);
    let alone = CompositeScorer::new().with(1.0, Box::new(batcher));
    let plan = schedule(&cells(), lrps.clone(), tasks.clone(), &config, &alone);
    let native = DiegoScorer::default();
    let expected = schedule(&cells(), lrps, tasks, &config, &native);
    assert!(
        plan.scorer_failures.is_empty(),
        "{:?}",
        plan.scorer_failures
    );
    assert_eq!(plan.assignments, expected.assignments);
    // Every winner's score is the plugin's total, in `plugin`, recorded under its label.
    for decision in &plan.decisions {
        let Outcome::Placed { score, .. } = &decision.outcome else {
            continue;
        };
        assert_eq!(
            decision.scorers,
            vec![("1×batcher".to_owned(), score.plugin)]
        );
        assert_eq!(score.total(), score.plugin);
    }
}
