//! The wasm default scorer against the native one on a simulation workload, and the example
//! custom scorer's verdicts.

mod common;

use diego_auction::{
    schedule, AuctionConfig, CellState, CellView, CompositeScorer, DiegoScorer, LrpStart,
    Resources, Scorer, TaskStart, WorkView,
};
use diego_wasm_host::{diego_params, BatchVerdict, HostConfig, WasmScorer};

const CELLS: usize = 100;
const ZONES: [&str; 3] = ["z1", "z2", "z3"];
const APPS: usize = 200;
const INSTANCES_PER_APP: i32 = 10;
const TASKS: usize = 100;
const MEMORY_SIZES_MB: [i32; 4] = [128, 256, 512, 1024];
const ROOTFS: &str = "preloaded:cflinuxfs4";

/// 100 cells in 3 zones, some already busy, so every score term is exercised.
fn cells() -> Vec<CellState> {
    (0..CELLS)
        .map(|i| {
            let total = Resources::new(32_768, 65_536, 250);
            let mut cell = CellState::new(format!("cell-{i:03}"), ZONES[i % 3], total)
                .with_standard_providers(&["cflinuxfs4"]);
            cell.cell_index = (i / 3) as i32;
            cell.starting_container_count = (i % 4) as i32;
            cell.proxy_memory_mb = if i % 2 == 0 { 32 } else { 0 };
            let used = (i % 7) as i32;
            cell.available = Resources::new(
                total.memory_mb - used * 1024,
                total.disk_mb - used * 2048,
                total.containers - used,
            );
            cell
        })
        .collect()
}

/// 2,000 LRP instances (200 apps × 10) and 100 tasks.
fn workload() -> (Vec<LrpStart>, Vec<TaskStart>) {
    let lrps = (0..APPS)
        .flat_map(|app| {
            let memory_mb = MEMORY_SIZES_MB[app % MEMORY_SIZES_MB.len()];
            (0..INSTANCES_PER_APP).map(move |index| {
                LrpStart::new(format!("app-{app:04}"), index, memory_mb, 1024, ROOTFS)
            })
        })
        .collect();
    let tasks = (0..TASKS)
        .map(|i| TaskStart::new(format!("task-{i:04}"), 512, 1024, ROOTFS))
        .collect();
    (lrps, tasks)
}

#[test]
fn the_wasm_default_scorer_gives_identical_plans_to_the_native_one() {
    let host = common::host(HostConfig::default());
    let digest = host.load(&common::guest("diego_scorer")).unwrap();
    let config = AuctionConfig {
        bin_pack_first_fit_weight: 0.5,
        seed: 7,
        // Per-cell explanations would double the guest calls; winners' parts are still compared.
        explain: false,
        ..AuctionConfig::default()
    };
    let native = DiegoScorer::from_config(&config);
    let wasm = WasmScorer::new(&host, digest, "diego", diego_params(&native), native).unwrap();
    let (lrps, tasks) = workload();
    let expected = schedule(&cells(), lrps.clone(), tasks.clone(), &config, &native);
    let actual = schedule(&cells(), lrps, tasks, &config, &wasm);
    assert_eq!(wasm.fallback_count(), 0, "{:?}", wasm.last_error());
    assert!(
        expected.placed_count() > 1_500,
        "the workload must place most of its work"
    );
    assert_eq!(actual, expected);
}

#[test]
fn the_example_scorer_rejects_a_full_cell_and_names_its_terms() {
    let host = common::host(HostConfig::default());
    let digest = host.load(&common::guest("example_spread_scorer")).unwrap();
    let spread = WasmScorer::new(&host, digest, "spread", Vec::new(), DiegoScorer::default());
    let spread = spread.unwrap();
    let cell = CellState::new("c", "z1", Resources::new(4096, 8192, 10));
    let lrp = LrpStart::new("app", 0, 1024, 1024, ROOTFS);
    let view = |containers: i32, same_process_lrps: u32| CellView {
        cell: &cell,
        available: Resources::new(2048, 8192, containers),
        total: cell.total,
        starting_container_count: 0,
        same_process_lrps,
        tasks: 0,
        bin_pack_index: 0,
        proxy_memory_mb: 0,
    };
    let verdicts = spread
        .score_batch(&WorkView::Lrp(&lrp), &[view(1, 0), view(5, 2)])
        .unwrap();
    assert!(matches!(&verdicts[0], BatchVerdict::Reject(r) if r.contains("last free container")));
    match &verdicts[1] {
        BatchVerdict::Score { parts, named } => {
            // (4096 - 2048 + 1024) / 4096 of memory used after placing, plus 2 × 10 spread.
            assert_eq!(parts.plugin, 0.75 + 20.0);
            assert_eq!(named.len(), 2);
        }
        other => panic!("expected a score, got {other:?}"),
    }
    // Through the per-cell seam a rejected cell scores +inf: it can never win.
    assert_eq!(
        spread.score_total(&view(1, 0), &WorkView::Lrp(&lrp)),
        f64::INFINITY
    );
}

#[test]
fn a_weighted_composite_with_the_example_scorer_places_everything() {
    let host = common::host(HostConfig::default());
    let digest = host.load(&common::guest("example_spread_scorer")).unwrap();
    let spread = WasmScorer::new(&host, digest, "spread", Vec::new(), DiegoScorer::default());
    let composite = CompositeScorer::new()
        .with(1.0, Box::new(DiegoScorer::default()))
        .with(0.5, Box::new(spread.unwrap()));
    let lrps: Vec<_> = (0..6)
        .map(|i| LrpStart::new("app", i, 256, 256, ROOTFS))
        .collect();
    let cells: Vec<_> = cells().into_iter().take(6).collect();
    let config = AuctionConfig {
        explain: true,
        ..AuctionConfig::default()
    };
    let plan = schedule(&cells, lrps, Vec::new(), &config, &composite);
    assert_eq!(plan.placed_count(), 6);
    // Spreading: no cell got two instances of the app.
    assert!(plan.assignments.values().all(|a| a.lrps.len() == 1));
}
