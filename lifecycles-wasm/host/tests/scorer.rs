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

/// The plan of `guest` (the default scorer built against one ABI version) on the simulation
/// workload must be the native scorer's, decision for decision.
fn assert_identical_plans(guest: &str, version: &str) {
    assert_identical_plans_on(HostConfig::default(), guest, version);
}

fn assert_identical_plans_on(host_config: HostConfig, guest: &str, version: &str) {
    let host = common::host(host_config);
    let digest = host.load(&common::guest(guest)).unwrap();
    let config = AuctionConfig {
        bin_pack_first_fit_weight: 0.5,
        seed: 7,
        // Per-cell explanations would double the guest calls; winners' parts are still compared.
        explain: false,
        ..AuctionConfig::default()
    };
    let native = DiegoScorer::from_config(&config);
    let wasm = WasmScorer::new(&host, digest, "diego", diego_params(&native), native).unwrap();
    assert_eq!(wasm.abi_version(), version);
    let (lrps, tasks) = workload();
    let expected = schedule(&cells(), lrps.clone(), tasks.clone(), &config, &native);
    let actual = schedule(&cells(), lrps, tasks, &config, &wasm);
    assert_eq!(wasm.fallback_count(), 0, "{:?}", wasm.last_error());
    // 0.5.0 places batches (ADR 0029): every winner is the guest's pick, in a few calls;
    // 0.4.0 picks every winner (one `place` per placement or group of tied zones); older
    // versions never pick.
    match version {
        "0.5.0" => {
            assert_eq!(wasm.pick_count(), actual.placed_count() as u64);
            // 2,100 works in batches of 256.
            assert_eq!(wasm.batch_count(), 9);
        }
        "0.4.0" => assert!(wasm.pick_count() >= 2_100, "{} picks", wasm.pick_count()),
        _ => assert_eq!(wasm.pick_count(), 0),
    }
    assert!(
        expected.placed_count() > 1_500,
        "the workload must place most of its work"
    );
    assert_eq!(actual, expected);
}

#[test]
fn the_wasm_default_scorer_gives_identical_plans_to_the_native_one() {
    // Built with the SDK, so on the current ABI: the guest places batches, walking the
    // auction and picking every winner itself (ADR 0029).
    assert_identical_plans("diego_scorer", "0.5.0");
}

#[test]
fn the_0_5_default_scorer_walks_tags_zones_and_the_inflight_limit_as_the_native_auction() {
    // The guest's own walk (ADR 0029) against the native one where it can differ: works whose
    // tags rule out some cells of a zone (a zone's instance count still counts every cell of
    // it), a rootfs no cell has, cells already holding instances, and the in-flight limit
    // cutting a batch short.
    let host = common::host(HostConfig::default());
    let digest = host.load(&common::guest("diego_scorer")).unwrap();
    let mut cells = cells();
    for (i, cell) in cells.iter_mut().enumerate() {
        if i % 4 == 1 {
            cell.optional_placement_tags = vec!["ssd".into()];
        }
        if i % 5 == 0 {
            cell.lrps.push(diego_auction::CellLrp {
                process_guid: format!("app-{:04}", i % 7),
                index: 50,
            });
        }
    }
    let (mut lrps, tasks) = workload();
    for (i, lrp) in lrps.iter_mut().enumerate() {
        if i % 3 == 0 {
            lrp.placement_tags = vec!["ssd".into()];
        }
        if i % 97 == 0 {
            lrp.rootfs = "preloaded:nowhere".into();
        }
    }
    for maximum in [0, 1_500] {
        let config = AuctionConfig {
            bin_pack_first_fit_weight: 0.25,
            starting_container_count_maximum: maximum,
            seed: 13,
            ..AuctionConfig::default()
        };
        let native = DiegoScorer::from_config(&config);
        let wasm = WasmScorer::new(&host, digest, "diego", diego_params(&native), native);
        let wasm = wasm.unwrap();
        let expected = schedule(&cells, lrps.clone(), tasks.clone(), &config, &native);
        let actual = schedule(&cells, lrps.clone(), tasks.clone(), &config, &wasm);
        assert_eq!(wasm.fallback_count(), 0, "{:?}", wasm.last_error());
        assert!(wasm.batch_count() >= 9);
        assert!(expected.placed_count() > 1_000, "maximum {maximum}");
        assert!(!expected.failed_lrps.is_empty());
        for (i, (a, e)) in actual.decisions.iter().zip(&expected.decisions).enumerate() {
            assert_eq!(a, e, "maximum {maximum}, decision {i}");
        }
        assert_eq!(actual, expected, "maximum {maximum}");
    }
}

#[test]
fn a_default_scorer_built_against_0_4_still_loads_and_gives_identical_plans() {
    assert_identical_plans("diego_scorer_v4", "0.4.0");
}

#[test]
fn a_default_scorer_built_against_0_3_still_loads_and_gives_identical_plans() {
    assert_identical_plans("diego_scorer_v3", "0.3.0");
}

#[test]
fn the_0_5_and_0_4_default_scorers_alone_in_a_composite_give_the_composites_plan() {
    // The auctioneer's `--diego-scorer-weight 0` with one plugin at weight 1: the composite
    // lets the plugin place batches (0.5) or pick (0.4); the plan must be the one the
    // composite gets by scoring every candidate through the 0.3 component (the same sums),
    // decision for decision.
    let host = common::host(HostConfig::default());
    let config = AuctionConfig {
        bin_pack_first_fit_weight: 0.5,
        seed: 3,
        ..AuctionConfig::default()
    };
    let native = DiegoScorer::from_config(&config);
    let alone = |guest: &str| {
        let digest = host.load(&common::guest(guest)).unwrap();
        let wasm = WasmScorer::new(&host, digest, "diego", diego_params(&native), native);
        CompositeScorer::new().with(1.0, Box::new(wasm.unwrap()))
    };
    let (lrps, tasks) = workload();
    let expected = schedule(
        &cells(),
        lrps.clone(),
        tasks.clone(),
        &config,
        &alone("diego_scorer_v3"),
    );
    let actual = schedule(
        &cells(),
        lrps.clone(),
        tasks.clone(),
        &config,
        &alone("diego_scorer"),
    );
    assert!(
        actual.scorer_failures.is_empty(),
        "{:?}",
        actual.scorer_failures
    );
    assert!(expected.placed_count() > 1_500);
    assert_eq!(actual, expected);
    let v4 = schedule(&cells(), lrps, tasks, &config, &alone("diego_scorer_v4"));
    assert!(v4.scorer_failures.is_empty(), "{:?}", v4.scorer_failures);
    assert_eq!(v4, expected);
    // The same placements as the native scorer's (the parts differ: all in `plugin`).
    let native_plan = schedule(&cells(), workload().0, workload().1, &config, &native);
    assert_eq!(actual.assignments, native_plan.assignments);
}

#[test]
fn the_wasm_default_scorer_without_fuel_metering_gives_identical_plans() {
    let epoch_only = HostConfig {
        consume_fuel: false,
        ..HostConfig::default()
    };
    assert_identical_plans_on(epoch_only, "diego_scorer", "0.5.0");
}

#[test]
fn a_default_scorer_built_against_0_2_still_loads_and_gives_identical_plans() {
    assert_identical_plans("diego_scorer_v2", "0.2.0");
}

#[test]
fn explained_plans_of_the_default_scorer_are_the_native_ones() {
    // With explanations every candidate's verdict is compared, through `explain`.
    let host = common::host(HostConfig::default());
    let digest = host.load(&common::guest("diego_scorer")).unwrap();
    let config = AuctionConfig {
        bin_pack_first_fit_weight: 0.5,
        seed: 11,
        explain: true,
        ..AuctionConfig::default()
    };
    let native = DiegoScorer::from_config(&config);
    let wasm = WasmScorer::new(&host, digest, "diego", diego_params(&native), native).unwrap();
    let (lrps, tasks) = workload();
    let lrps: Vec<_> = lrps.into_iter().take(60).collect();
    let tasks: Vec<_> = tasks.into_iter().take(10).collect();
    let expected = schedule(&cells(), lrps.clone(), tasks.clone(), &config, &native);
    let actual = schedule(&cells(), lrps, tasks, &config, &wasm);
    assert_eq!(wasm.fallback_count(), 0, "{:?}", wasm.last_error());
    assert_eq!(actual.placed_count(), 70);
    assert_eq!(actual, expected);
}

#[test]
fn placement_tags_and_other_strings_reach_a_0_5_guest_through_the_round_tables() {
    // Cells with tags and works with new guids and tags, so the round's tables are filled at
    // open and extended by `intern` mid-round; the guest (the example spread scorer, whose
    // score ignores strings) must answer every call. That strings arrive intact is shown by
    // the prefer-tagged example (zone and optional tags) in `diego plugin test` (push_up).
    let host = common::host(HostConfig::default());
    let digest = host.load(&common::guest("example_spread_scorer")).unwrap();
    let spread = WasmScorer::new(&host, digest, "spread", Vec::new(), DiegoScorer::default());
    let spread = spread.unwrap();
    assert_eq!(spread.abi_version(), "0.5.0");
    let mut cells = cells();
    for cell in cells.iter_mut().take(50) {
        cell.placement_tags = vec!["gpu".into()];
        cell.optional_placement_tags = vec!["ssd".into()];
    }
    let mut lrps: Vec<_> = (0..20)
        .map(|i| LrpStart::new(format!("app-{}", i % 4), i / 4, 256, 256, ROOTFS))
        .collect();
    for lrp in lrps.iter_mut().step_by(2) {
        lrp.placement_tags = vec!["gpu".into()];
    }
    let config = AuctionConfig::default();
    let plan = schedule(&cells, lrps, Vec::new(), &config, &spread);
    assert!(
        plan.scorer_failures.is_empty(),
        "{:?}",
        plan.scorer_failures
    );
    assert_eq!(plan.placed_count(), 20);
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
