//! Diego's score formula against hand-computed numbers.

mod common;

use common::*;
use diego_auction::*;

fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-12,
        "score {actual} != expected {expected}"
    );
}

/// total 1000 MB / 2000 MB / 10 containers; available 800 / 1500 / 8; 2 starting.
fn busy_cell() -> CellState {
    let mut cell = cell("cell-1", "z1", 1000, 2000, 10);
    cell.available = Resources::new(800, 1500, 8);
    cell.starting_container_count = 2;
    cell.lrps.push(CellLrp {
        process_guid: "web".into(),
        index: 0,
    });
    cell.task_guids = strings(&["t-a", "t-b", "t-c"]);
    cell
}

fn view(cell: &CellState, same_process_lrps: u32, bin_pack_index: i32) -> CellView<'_> {
    CellView {
        cell,
        available: cell.available,
        total: cell.total,
        starting_container_count: cell.starting_container_count,
        same_process_lrps,
        tasks: cell.task_guids.len() as u32,
        bin_pack_index,
        proxy_memory_mb: cell.proxy_memory_mb,
    }
}

#[test]
fn lrp_score_matches_hand_computation() {
    let cell = busy_cell();
    let work = lrp("web", 1, 100, 500);
    let parts = DiegoScorer::default().score(&view(&cell, 1, 0), &WorkView::Lrp(&work));
    // memory: 1 - (800 - 100) / 1000 = 0.3
    // disk: 1 - (1500 - 500) / 2000 = 0.5
    // containers: 1 - (8 - 1) / 10 = 0.3
    // resource = (0.3 + 0.5 + 0.3) / 3 = 0.36666…
    close(parts.resource, 1.1 / 3.0);
    // starting = 2 × 0.25 = 0.5
    close(parts.starting, 0.5);
    // same process = 1000 × 1 (one "web" instance already on the cell)
    close(parts.same_process, 1000.0);
    close(parts.tasks, 0.0); // LRPs ignore tasks
    close(parts.bin_pack, 0.0); // weight 0 by default
    close(parts.total(), 1000.0 + 0.5 + 1.1 / 3.0);
}

#[test]
fn proxy_memory_inflates_lrp_scoring_only() {
    let mut cell = busy_cell();
    cell.proxy_memory_mb = 32;
    let work = lrp("api", 0, 100, 500);
    let parts = DiegoScorer::default().score(&view(&cell, 0, 0), &WorkView::Lrp(&work));
    // memory: 1 - (800 - (100 + 32)) / 1000 = 0.332; disk 0.5; containers 0.3
    close(parts.resource, (0.332 + 0.5 + 0.3) / 3.0);
    close(parts.total(), (0.332 + 0.5 + 0.3) / 3.0 + 0.5);

    // The fit ignores the proxy: 790 MB fits into 800 MB although 790 + 32 does not.
    let plan = schedule_default(
        &[cell.clone()],
        vec![lrp("api", 0, 790, 10)],
        vec![],
        &explain(),
    );
    assert_eq!(lrp_cell(&plan, "api", 0).as_deref(), Some("cell-1"));

    // Tasks are scored without the proxy.
    let work = task("t", 100, 500);
    let parts = DiegoScorer::default().score(&view(&cell, 0, 0), &WorkView::Task(&work));
    close(parts.resource, 1.1 / 3.0);
}

#[test]
fn task_score_adds_1000_per_task_on_the_cell() {
    let cell = busy_cell();
    let work = task("t-new", 100, 500);
    let parts = DiegoScorer::default().score(&view(&cell, 0, 0), &WorkView::Task(&work));
    // resource 1.1 / 3 as above; starting 0.5; 3 tasks (any guid) × 1000
    close(parts.tasks, 3000.0);
    close(parts.same_process, 0.0);
    close(parts.total(), 1.1 / 3.0 + 0.5 + 3000.0);
}

#[test]
fn bin_pack_weight_uses_the_per_zone_rank_by_cell_index() {
    // Zone z1 holds cells with reported indices 7 and 3: ranks 1 and 0.
    let mut high = cell("cell-high", "z1", 1000, 1000, 10);
    high.cell_index = 7;
    let mut low = cell("cell-low", "z1", 1000, 1000, 10);
    low.cell_index = 3;
    let config = AuctionConfig {
        bin_pack_first_fit_weight: 0.5,
        explain: true,
        ..AuctionConfig::default()
    };
    let plan = schedule_default(&[high, low], vec![lrp("web", 0, 100, 100)], vec![], &config);
    // Both cells: resource = ((1 - 900/1000) + (1 - 900/1000) + (1 - 9/10)) / 3 = 0.1,
    // starting 0; so the totals are 0.1 + rank × 0.5 and the rank-0 cell wins.
    let decision = &plan.decisions[0];
    assert_eq!(decision.placed_on(), Some("cell-low"));
    let scored: Vec<(String, f64)> = decision
        .cells
        .iter()
        .filter_map(|c| match &c.verdict {
            Verdict::Scored { parts, .. } => Some((c.cell_id.clone(), parts.bin_pack)),
            _ => None,
        })
        .collect();
    assert_eq!(scored.len(), 2);
    for (cell_id, bin_pack) in scored {
        close(bin_pack, if cell_id == "cell-high" { 0.5 } else { 0.0 });
    }
}

#[test]
fn reservations_feed_later_scores_in_the_same_batch() {
    // Two equal cells; three single-instance apps of 100 MB / 100 MB.
    let cells = vec![
        cell("a", "z", 1000, 1000, 10),
        cell("b", "z", 1000, 1000, 10),
    ];
    let lrps = vec![
        lrp("x", 0, 100, 100),
        lrp("y", 0, 100, 100),
        lrp("z", 0, 100, 100),
    ];
    let plan = schedule_default(&cells, lrps, vec![], &AuctionConfig::default());
    let scores: Vec<f64> = plan
        .decisions
        .iter()
        .map(|d| match &d.outcome {
            Outcome::Placed { score, .. } => score.total(),
            Outcome::Failed(e) => panic!("{e}"),
        })
        .collect();
    // 1st: empty cell: (0.1 + 0.1 + 0.1) / 3 = 0.1, starting 0 -> 0.1
    close(scores[0], 0.1);
    // 2nd: the other empty cell scores 0.1 while the used one scores
    // ((1 - 800/1000) + (1 - 800/1000) + (1 - 8/10)) / 3 + 1 × 0.25 = 0.45 -> 0.1
    close(scores[1], 0.1);
    // 3rd: both cells hold one starting container: 0.2 + 0.25 = 0.45
    close(scores[2], 0.45);
    assert_ne!(lrp_cell(&plan, "x", 0), lrp_cell(&plan, "y", 0));
}

#[test]
fn composite_scorer_weights_and_plugins() {
    struct PreferCell(&'static str);
    impl Scorer for PreferCell {
        fn name(&self) -> &str {
            "prefer"
        }
        fn score(&self, cell: &CellView<'_>, _work: &WorkView<'_>) -> ScoreParts {
            let penalty = if cell.cell.cell_id == self.0 {
                0.0
            } else {
                10.0
            };
            ScoreParts {
                plugin: penalty,
                ..ScoreParts::default()
            }
        }
    }
    let cells = vec![
        cell("a", "z", 1000, 1000, 10),
        cell("b", "z", 1000, 1000, 10),
    ];
    let mut busy = cells.clone();
    busy[1].available = Resources::new(100, 1000, 10); // "b" is nearly full: Diego prefers "a"
    let scorer = CompositeScorer::new()
        .with(1.0, Box::new(DiegoScorer::default()))
        .with(0.5, Box::new(PreferCell("b")));
    let config = explain();
    let plan = schedule(&busy, vec![lrp("w", 0, 50, 10)], vec![], &config, &scorer);
    let decision = &plan.decisions[0];
    assert_eq!(decision.placed_on(), Some("b"), "{}", decision.summary());
    let Outcome::Placed { score, .. } = &decision.outcome else {
        panic!("not placed");
    };
    close(score.plugin, 0.0);
    // resource on b: ((1 - 50/1000) + (1 - 990/1000) + (1 - 9/10)) / 3 = 1.06 / 3
    close(score.resource, 1.06 / 3.0);
    let named = decision.cells.iter().find_map(|c| match &c.verdict {
        Verdict::Scored { named, .. } if c.cell_id == "a" => Some(named.clone()),
        _ => None,
    });
    let named = named.expect("cell a scored");
    assert_eq!(named.len(), 2);
    close(named[1].1, 5.0); // 0.5 × 10

    // The default scorer through `dyn Scorer` and through the fast path agree exactly.
    let dynamic = CompositeScorer::new().with(1.0, Box::new(DiegoScorer::default()));
    let a = schedule(&busy, vec![lrp("w", 0, 50, 10)], vec![], &config, &dynamic);
    let b = schedule(
        &busy,
        vec![lrp("w", 0, 50, 10)],
        vec![],
        &config,
        &DiegoScorer::default(),
    );
    assert_eq!(a.decisions[0].outcome, b.decisions[0].outcome);
}
