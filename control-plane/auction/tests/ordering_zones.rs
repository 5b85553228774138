//! Batch ordering (with the §12.7 quirk), zone spreading, and even spreading of uniform work.

mod common;

use std::collections::HashMap;

use common::*;
use diego_auction::*;

/// Names of the work in scheduling order.
fn order(plan: &Plan) -> Vec<String> {
    plan.decisions.iter().map(|d| d.work.to_string()).collect()
}

#[test]
fn lrps_by_index_then_memory_desc_index_zero_prefix_then_tasks() {
    let cells = vec![cell("a", "z", 100_000, 100_000, 100)];
    let lrps = vec![
        lrp("small", 1, 64, 1),
        lrp("small", 0, 64, 1),
        lrp("big", 1, 512, 1),
        lrp("big", 0, 512, 1),
    ];
    let tasks = vec![task("t-small", 10, 1), task("t-big", 900, 1)];
    let plan = schedule_default(&cells, lrps, tasks, &AuctionConfig::default());
    assert_eq!(
        order(&plan),
        [
            "lrp big/0",
            "lrp small/0",
            "task t-big",
            "task t-small",
            "lrp big/1",
            "lrp small/1"
        ]
    );
}

/// Diego's quirk, kept on purpose: when every LRP in the batch has index 0, the index-0 prefix
/// is empty and the LRPs are scheduled after the tasks.
#[test]
fn quirk_all_index_zero_lrps_go_after_tasks() {
    // Room for exactly one 600 MB container.
    let cells = vec![cell("a", "z", 1000, 1000, 10)];
    let plan = schedule_default(
        &cells,
        vec![lrp("web", 0, 600, 1)],
        vec![task("job", 600, 1)],
        &AuctionConfig::default(),
    );
    assert_eq!(order(&plan), ["task job", "lrp web/0"]);
    assert!(task_cell(&plan, "job").is_some());
    assert_eq!(
        lrp_error(&plan, "web", 0).as_deref(),
        Some("insufficient resources: memory")
    );

    // With an index-1 instance in the batch, the index-0 instance goes before the task.
    let plan = schedule_default(
        &cells,
        vec![lrp("web", 0, 600, 1), lrp("web", 1, 10, 1)],
        vec![task("job", 600, 1)],
        &AuctionConfig::default(),
    );
    assert_eq!(order(&plan), ["lrp web/0", "task job", "lrp web/1"]);
    assert!(lrp_cell(&plan, "web", 0).is_some());
    assert!(task_error(&plan, "job").is_some());
}

#[test]
fn instances_go_to_the_zone_with_fewest_instances_of_the_process() {
    // z1's cell is empty, z2's is half full; web already has one instance in z1.
    let mut z1 = cell("z1-cell", "z1", 10_000, 10_000, 100);
    z1.lrps.push(CellLrp {
        process_guid: "web".into(),
        index: 0,
    });
    let mut z2 = cell("z2-cell", "z2", 10_000, 10_000, 100);
    z2.available = Resources::new(5_000, 5_000, 50);
    let plan = schedule_default(&[z1, z2], vec![lrp("web", 1, 10, 10)], vec![], &explain());
    assert_eq!(lrp_cell(&plan, "web", 1).as_deref(), Some("z2-cell"));
    let decision = &plan.decisions[0];
    assert_eq!(decision.tally.zone_skipped, 1);
    assert!(
        decision.summary().contains("1 in busier zones"),
        "{}",
        decision.summary()
    );
}

#[test]
fn tied_zones_compete_on_score_and_full_zones_are_passed_over() {
    let mut busy = cell("z1-busy", "z1", 10_000, 10_000, 100);
    busy.available = Resources::new(2_000, 2_000, 20);
    let idle = cell("z2-idle", "z2", 10_000, 10_000, 100);
    // Both zones hold 0 instances: tied, so the better score across both wins.
    let plan = schedule_default(
        &[busy.clone(), idle.clone()],
        vec![lrp("web", 0, 10, 10)],
        vec![],
        &explain(),
    );
    assert_eq!(lrp_cell(&plan, "web", 0).as_deref(), Some("z2-idle"));
    assert_eq!(plan.decisions[0].tally.scored, 2);

    // The least-populated zone has no room: the walk continues to the next zone.
    let mut full = cell("z3-full", "z3", 10_000, 10_000, 100);
    full.available = Resources::new(5, 10_000, 100);
    let mut idle_with_web = idle;
    idle_with_web.lrps.push(CellLrp {
        process_guid: "web".into(),
        index: 0,
    });
    let plan = schedule_default(
        &[full, idle_with_web],
        vec![lrp("web", 1, 10, 10)],
        vec![],
        &explain(),
    );
    assert_eq!(lrp_cell(&plan, "web", 1).as_deref(), Some("z2-idle"));
}

#[test]
fn tasks_ignore_zones() {
    // A task on z1 would not "spread": it simply takes the best score anywhere.
    let mut z1 = cell("z1-cell", "z1", 10_000, 10_000, 100);
    z1.available = Resources::new(9_000, 9_000, 90);
    let z2 = cell("z2-cell", "z2", 10_000, 10_000, 100);
    let tasks = vec![task("t1", 10, 10), task("t2", 10, 10), task("t3", 10, 10)];
    let plan = schedule_default(&[z1, z2], vec![], tasks, &AuctionConfig::default());
    // 1000 per task on a cell dominates: t1 -> z2 (emptier), t2 -> z1 (no task yet), t3 -> z2.
    assert_eq!(task_cell(&plan, "t1").as_deref(), Some("z2-cell"));
    assert_eq!(task_cell(&plan, "t2").as_deref(), Some("z1-cell"));
    assert_eq!(task_cell(&plan, "t3").as_deref(), Some("z2-cell"));
}

#[test]
fn same_seed_same_plan_and_ties_follow_the_seed() {
    let cells: Vec<CellState> = (0..8)
        .map(|i| cell(&format!("c{i}"), "z", 1000, 1000, 10))
        .collect();
    let run = |seed| {
        let config = AuctionConfig {
            seed,
            ..AuctionConfig::default()
        };
        schedule_default(&cells, vec![lrp("web", 0, 10, 10)], vec![], &config)
    };
    assert_eq!(run(7), run(7));
    let winners: std::collections::BTreeSet<_> =
        (0..32).map(|seed| lrp_cell(&run(seed), "web", 0)).collect();
    assert!(
        winners.len() > 1,
        "ties between identical cells are broken by the seed"
    );
}

/// N identical instances on M identical cells land within ±1 of the mean per cell, and every
/// app is spread evenly over zones.
#[test]
fn uniform_workload_spreads_evenly() {
    let cells: Vec<CellState> = (0..30)
        .map(|i| {
            cell(
                &format!("c{i:02}"),
                ["z1", "z2", "z3"][i % 3],
                100_000,
                100_000,
                250,
            )
        })
        .collect();
    let lrps: Vec<LrpStart> = (0..100)
        .flat_map(|app| (0..9).map(move |index| lrp(&format!("app-{app}"), index, 256, 512)))
        .collect();
    let plan = schedule_default(&cells, lrps, vec![], &AuctionConfig::default());
    assert!(plan.failed_lrps.is_empty());
    let mean = 900.0 / 30.0;
    for (cell_id, work) in &plan.assignments {
        let n = work.lrps.len() as f64;
        assert!((n - mean).abs() <= 1.0, "{cell_id} got {n}, mean {mean}");
    }
    assert_eq!(plan.assignments.len(), 30);
    let mut per_app_zone: HashMap<(String, &str), usize> = HashMap::new();
    for (cell_id, work) in &plan.assignments {
        let zone = &cells
            .iter()
            .find(|c| &c.cell_id == cell_id)
            .map(|c| c.zone.as_str())
            .unwrap_or("");
        for l in &work.lrps {
            *per_app_zone
                .entry((l.process_guid.clone(), zone))
                .or_default() += 1;
        }
    }
    assert!(
        per_app_zone.values().all(|n| *n == 3),
        "9 instances -> 3 per zone"
    );
}
