//! `diego:placement@0.5.0`, `@0.4.0`, `@0.3.0` and `@0.2.0` rounds through the auction: a
//! misbehaving plugin (endless loop, memory hog, trap, malformed output, a bad pick) fails
//! within its limits with a typed error, the rest of the round is scored by the fallback, and the plan reports the failure;
//! a component exporting no scorer is refused. Every case runs against both ABI versions'
//! fixtures (`misbehave_scorer_v3`, `misbehave_scorer`).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use diego_auction::{
    schedule, AuctionConfig, CellState, CompositeScorer, DiegoScorer, LrpStart, Resources,
};
use diego_wasm_host::{HostConfig, WasmError, WasmHost, WasmScorer};

/// The misbehaving fixtures: (guest, the ABI version it was built against).
const FIXTURES: [(&str, &str); 2] = [
    ("misbehave_scorer_v3", "0.3.0"),
    ("misbehave_scorer", "0.2.0"),
];

fn misbehave(host: &Arc<WasmHost>, guest: &str, mode: f64, after: f64) -> WasmScorer {
    let digest = host.load(&common::guest(guest)).unwrap();
    let params = vec![("mode".to_owned(), mode), ("after".to_owned(), after)];
    WasmScorer::new(host, digest, "misbehave", params, DiegoScorer::default()).unwrap()
}

fn cells() -> Vec<CellState> {
    (0..6)
        .map(|i| {
            let mut cell = CellState::new(
                format!("cell-{i}"),
                ["z1", "z2"][i % 2],
                Resources::new(8192, 16384, 50),
            )
            .with_standard_providers(&["cflinuxfs4"]);
            cell.available.memory_mb -= i as i32 * 512;
            cell
        })
        .collect()
}

fn lrps() -> Vec<LrpStart> {
    (0..8)
        .map(|i| LrpStart::new("app", i, 256, 256, "preloaded:cflinuxfs4"))
        .collect()
}

/// Runs an auction where the plugin misbehaves from its third call on; returns the plan's
/// failures and how long the auction took.
fn auction(host: &Arc<WasmHost>, guest: &str, mode: f64, explain: bool) -> (Vec<String>, Duration) {
    let plugin = misbehave(host, guest, mode, 2.0);
    let composite = CompositeScorer::new()
        .with(1.0, Box::new(DiegoScorer::default()))
        .with(1.0, Box::new(plugin));
    let config = AuctionConfig {
        explain,
        ..AuctionConfig::default()
    };
    let started = Instant::now();
    let plan = schedule(&cells(), lrps(), Vec::new(), &config, &composite);
    let took = started.elapsed();
    // The auction still finishes: the fallback scored what the plugin could not.
    assert_eq!(plan.placed_count(), 8, "{:?}", plan.failed_lrps);
    (plan.scorer_failures, took)
}

/// Whether an error is the expected typed one.
type IsError = fn(&WasmError) -> bool;

fn limited() -> HostConfig {
    HostConfig {
        fuel: 50_000_000,
        epoch_deadline_ms: 200,
        max_memory_bytes: 16 << 20,
        ..HostConfig::default()
    }
}

fn expect_failure(guest: &str, mode: f64, explain: bool, expected: &str) {
    let host = common::host(limited());
    let (failures, took) = auction(&host, guest, mode, explain);
    assert_eq!(failures.len(), 1, "{guest}: {failures:?}");
    assert!(
        failures[0].contains("scorer misbehave (sha256:") && failures[0].contains(expected),
        "{guest}: {failures:?} should say {expected:?}"
    );
    // Within the limits: one deadline (200 ms) plus scheduling slack, never a hang.
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn a_well_behaved_plugin_reports_no_failure() {
    let host = common::host(limited());
    for (guest, _) in FIXTURES {
        for explain in [false, true] {
            let (failures, _) = auction(&host, guest, 0.0, explain);
            assert!(failures.is_empty(), "{guest}: {failures:?}");
        }
    }
}

#[test]
fn an_endless_loop_fails_the_plugin_out_of_fuel() {
    for (guest, _) in FIXTURES {
        expect_failure(guest, 1.0, false, "out of fuel");
    }
}

#[test]
fn an_endless_loop_with_unbounded_fuel_hits_the_deadline() {
    let host = common::host(HostConfig {
        fuel: u64::MAX / 2,
        ..limited()
    });
    for (guest, _) in FIXTURES {
        let (failures, took) = auction(&host, guest, 1.0, false);
        assert!(
            failures[0].contains("epoch deadline"),
            "{guest}: {failures:?}"
        );
        assert!(took < Duration::from_secs(10), "{took:?}");
    }
}

#[test]
fn an_endless_loop_without_fuel_metering_is_stopped_by_the_deadline() {
    // The epoch-only configuration (ADR 0020): the deadline alone bounds a runaway scorer,
    // with the typed error, and the auction still finishes on the fallback.
    let host = common::host(HostConfig {
        consume_fuel: false,
        ..limited()
    });
    let config = AuctionConfig::default();
    for (guest, _) in FIXTURES {
        let (failures, took) = auction(&host, guest, 1.0, false);
        assert!(
            failures[0].contains("epoch deadline"),
            "{guest}: {failures:?}"
        );
        assert!(took < Duration::from_secs(10), "{took:?}");
        // Scoring alone (the columnar hot path), the error is the typed deadline.
        let plugin = misbehave(&host, guest, 1.0, 0.0);
        let plan = schedule(&cells(), lrps(), Vec::new(), &config, &plugin);
        assert_eq!(plan.placed_count(), 8, "{guest}");
        assert_eq!(plugin.last_error(), Some(WasmError::Deadline), "{guest}");
        assert_eq!(plan.scorer_failures.len(), 1, "{guest}");
    }
}

#[test]
fn a_guest_sleeping_in_a_host_call_hits_the_deadline() {
    for (guest, _) in FIXTURES {
        expect_failure(guest, 7.0, true, "epoch deadline");
    }
}

#[test]
fn a_memory_hog_is_stopped_by_the_limiter() {
    for (guest, _) in FIXTURES {
        expect_failure(guest, 2.0, false, "memory limit");
    }
}

#[test]
fn a_trap_fails_the_plugin() {
    for (guest, _) in FIXTURES {
        expect_failure(guest, 3.0, true, "trapped");
        expect_failure(guest, 3.0, false, "trapped");
    }
}

#[test]
fn a_trap_when_the_round_opens_fails_the_plugin() {
    for (guest, _) in FIXTURES {
        expect_failure(guest, 8.0, false, "trapped");
    }
}

#[test]
fn malformed_output_fails_the_plugin_with_the_reason() {
    expect_failure(
        "misbehave_scorer",
        4.0,
        false,
        "malformed guest output: 5 scores for 6 cells",
    );
    // 0.3.0: a wrong-length part list, from `score` and from `explain`.
    expect_failure(
        "misbehave_scorer_v3",
        4.0,
        false,
        "malformed guest output: 30 score parts for 6 cells (6 per cell)",
    );
    expect_failure(
        "misbehave_scorer_v3",
        4.0,
        true,
        "malformed guest output: 5 verdicts for 6 cells",
    );
    for (guest, _) in FIXTURES {
        expect_failure(guest, 5.0, false, "score term plugin is NaN");
        expect_failure(guest, 6.0, false, "rejection of position");
    }
}

#[test]
fn malformed_output_of_a_plugin_scoring_alone_fails_it_with_the_reason() {
    // Without a composite around it the auction takes the plugin's columns as they are
    // (`score_columns`); they are checked the same way.
    let host = common::host(limited());
    let config = AuctionConfig::default();
    let cases = [
        (4.0, "30 score parts for 6 cells (6 per cell)"),
        (5.0, "score term plugin is NaN"),
        (6.0, "rejection of position 13 in a call over 6 cells"),
    ];
    for (mode, reason) in cases {
        let plugin = misbehave(&host, "misbehave_scorer_v3", mode, 0.0);
        let plan = schedule(&cells(), lrps(), Vec::new(), &config, &plugin);
        assert_eq!(plan.placed_count(), 8, "mode {mode}");
        assert_eq!(
            plugin.last_error(),
            Some(WasmError::Malformed(reason.into())),
            "mode {mode}"
        );
    }
}

#[test]
fn a_trap_while_interning_the_rounds_strings_fails_the_plugin() {
    // 0.3.0 only: `intern` is called before the first placement naming new strings.
    expect_failure("misbehave_scorer_v3", 9.0, false, "trapped");
}

#[test]
fn the_failure_is_counted_and_kept() {
    let host = common::host(limited());
    let config = AuctionConfig::default();
    for (guest, version) in FIXTURES {
        let plugin = misbehave(&host, guest, 3.0, 0.0);
        let plan = schedule(&cells(), lrps(), Vec::new(), &config, &plugin);
        assert_eq!(plan.placed_count(), 8);
        assert_eq!(plugin.fallback_count(), 1, "one failure per round");
        assert!(matches!(plugin.last_error(), Some(WasmError::Trap(_))));
        assert_eq!(plugin.abi_version(), version);
    }
    // The typed errors of the other limits, on 0.3.0.
    let cases: [(f64, IsError); 3] = [
        (1.0, |e| matches!(e, WasmError::OutOfFuel)),
        (2.0, |e| matches!(e, WasmError::MemoryLimit)),
        (4.0, |e| matches!(e, WasmError::Malformed(_))),
    ];
    for (mode, expected) in cases {
        let plugin = misbehave(&host, "misbehave_scorer_v3", mode, 0.0);
        let plan = schedule(&cells(), lrps(), Vec::new(), &config, &plugin);
        assert_eq!(plan.placed_count(), 8, "mode {mode}");
        let error = plugin.last_error();
        assert!(
            error.as_ref().is_some_and(expected),
            "mode {mode}: {error:?}"
        );
    }
}

#[test]
fn a_component_that_is_no_scorer_is_refused_with_the_reason() {
    let host = common::host(HostConfig::default());
    let digest = host.load(&common::guest("diego_healthcheck")).unwrap();
    let refused = WasmScorer::new(&host, digest, "hc", Vec::new(), DiegoScorer::default());
    match refused {
        Err(WasmError::Invalid(reason)) => assert!(reason.contains("not a scorer"), "{reason}"),
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
}

/// `diego:placement@0.4.0` (ADR 0026): the fixture scoring alone, so the auction asks it to
/// pick every winner. Returns the plan's failures, the plugin's typed error and the plan's
/// placements.
fn picking(host: &Arc<WasmHost>, mode: f64, cells: &[CellState]) -> (Vec<String>, WasmError) {
    let plugin = misbehave(host, "misbehave_scorer_v4", mode, 0.0);
    assert_eq!(plugin.abi_version(), "0.4.0");
    let started = Instant::now();
    let plan = schedule(
        cells,
        lrps(),
        Vec::new(),
        &AuctionConfig::default(),
        &plugin,
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // The fallback placed everything the plugin could not.
    assert_eq!(
        plan.placed_count(),
        8,
        "mode {mode}: {:?}",
        plan.failed_lrps
    );
    assert_eq!(plan.scorer_failures.len(), 1, "mode {mode}");
    assert_eq!(plugin.fallback_count(), 1, "mode {mode}");
    let error = plugin.last_error().expect("the failure is kept");
    (plan.scorer_failures, error)
}

#[test]
fn a_0_4_plugin_that_picks_reports_no_failure() {
    let host = common::host(limited());
    let plugin = misbehave(&host, "misbehave_scorer_v4", 0.0, 0.0);
    let plan = schedule(
        &cells(),
        lrps(),
        Vec::new(),
        &AuctionConfig::default(),
        &plugin,
    );
    assert!(
        plan.scorer_failures.is_empty(),
        "{:?}",
        plan.scorer_failures
    );
    assert_eq!(plan.placed_count(), 8);
    assert!(plugin.pick_count() >= 8, "{} picks", plugin.pick_count());
}

#[test]
fn a_0_4_plugin_misbehaving_while_it_picks_fails_within_its_limits() {
    let host = common::host(limited());
    let cases: [(f64, IsError); 4] = [
        (1.0, |e| matches!(e, WasmError::OutOfFuel)),
        (2.0, |e| matches!(e, WasmError::MemoryLimit)),
        (3.0, |e| matches!(e, WasmError::Trap(_))),
        (9.0, |e| matches!(e, WasmError::Trap(_))),
    ];
    for (mode, expected) in cases {
        let (failures, error) = picking(&host, mode, &cells());
        assert!(expected(&error), "mode {mode}: {error:?}");
        assert!(failures[0].contains("scorer misbehave"), "{failures:?}");
    }
    // Unbounded fuel: the epoch deadline stops the loop.
    let host = common::host(HostConfig {
        fuel: u64::MAX / 2,
        ..limited()
    });
    let (_, error) = picking(&host, 1.0, &cells());
    assert_eq!(error, WasmError::Deadline);
}

#[test]
fn a_pick_the_host_cannot_accept_fails_the_plugin_with_the_reason() {
    let host = common::host(limited());
    // One cell without a free container, in every group of the auction.
    let mut cells = cells();
    cells[3].available.containers = 0;
    let cases = [
        (4.0, "winner at position 13 of a group of 6 cells"),
        (5.0, "score term plugin is NaN"),
        (
            6.0,
            "refused pick: picked cell cell-3, which has no room for the work",
        ),
        (
            7.0,
            "refused pick: no winner among 5 candidates with room, but 0 rejected",
        ),
    ];
    for (mode, reason) in cases {
        let (failures, error) = picking(&host, mode, &cells);
        assert_eq!(error, WasmError::Malformed(reason.into()), "mode {mode}");
        assert!(failures[0].contains(reason), "mode {mode}: {failures:?}");
    }
}

#[test]
fn a_0_4_plugin_in_a_composite_with_the_default_scorer_is_asked_for_scores_not_picks() {
    // The sum needs every candidate's score: no pick; `score` behaves in the fixture.
    let host = common::host(limited());
    let plugin = misbehave(&host, "misbehave_scorer_v4", 3.0, 0.0);
    let composite = CompositeScorer::new()
        .with(1.0, Box::new(DiegoScorer::default()))
        .with(1.0, Box::new(plugin));
    let plan = schedule(
        &cells(),
        lrps(),
        Vec::new(),
        &AuctionConfig::default(),
        &composite,
    );
    assert!(
        plan.scorer_failures.is_empty(),
        "{:?}",
        plan.scorer_failures
    );
    assert_eq!(plan.placed_count(), 8);
}

/// `diego:placement@0.5.0` (ADR 0029): the fixture scoring alone, so the auction sends it
/// batches of works to place. Returns the plan, the plugin's typed error and its failures.
fn batching(
    host: &Arc<WasmHost>,
    mode: f64,
    after: f64,
    cells: &[CellState],
) -> (diego_auction::Plan, WasmError) {
    let plugin = misbehave(host, "misbehave_scorer_v5", mode, after);
    assert_eq!(plugin.abi_version(), "0.5.0");
    let started = Instant::now();
    let plan = schedule(
        cells,
        lrps(),
        Vec::new(),
        &AuctionConfig::default(),
        &plugin,
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // The fallback placed everything the plugin could not, each work once.
    assert_eq!(
        plan.placed_count(),
        8,
        "mode {mode}: {:?}",
        plan.failed_lrps
    );
    let mut placed: Vec<i32> = plan
        .assignments
        .values()
        .flat_map(|a| a.lrps.iter().map(|l| l.index))
        .collect();
    placed.sort();
    assert_eq!(placed, (0..8).collect::<Vec<_>>(), "mode {mode}");
    assert_eq!(plan.scorer_failures.len(), 1, "mode {mode}");
    assert_eq!(plugin.fallback_count(), 1, "mode {mode}");
    let error = plugin.last_error().expect("the failure is kept");
    (plan, error)
}

#[test]
fn a_0_5_plugin_that_places_batches_reports_no_failure() {
    let host = common::host(limited());
    let plugin = misbehave(&host, "misbehave_scorer_v5", 0.0, 0.0);
    let plan = schedule(
        &cells(),
        lrps(),
        Vec::new(),
        &AuctionConfig::default(),
        &plugin,
    );
    assert!(
        plan.scorer_failures.is_empty(),
        "{:?}",
        plan.scorer_failures
    );
    assert_eq!(plan.placed_count(), 8);
    // One batch for the eight works, every winner the guest's.
    assert_eq!(plugin.batch_count(), 1);
    assert_eq!(plugin.pick_count(), 8);
}

#[test]
fn a_0_5_plugin_misbehaving_while_it_places_a_batch_fails_within_its_limits() {
    let host = common::host(limited());
    let cases: [(f64, IsError); 4] = [
        (1.0, |e| matches!(e, WasmError::OutOfFuel)),
        (2.0, |e| matches!(e, WasmError::MemoryLimit)),
        (3.0, |e| matches!(e, WasmError::Trap(_))),
        (9.0, |e| matches!(e, WasmError::Trap(_))),
    ];
    for (mode, expected) in cases {
        let (plan, error) = batching(&host, mode, 0.0, &cells());
        assert!(expected(&error), "mode {mode}: {error:?}");
        assert!(
            plan.scorer_failures[0].contains("scorer misbehave"),
            "{:?}",
            plan.scorer_failures
        );
    }
    // Unbounded fuel: the epoch deadline stops the loop.
    let host = common::host(HostConfig {
        fuel: u64::MAX / 2,
        ..limited()
    });
    let (_, error) = batching(&host, 1.0, 0.0, &cells());
    assert_eq!(error, WasmError::Deadline);
}

#[test]
fn a_bad_batch_pick_fails_the_0_5_plugin_with_the_reason_from_that_work_on() {
    let host = common::host(limited());
    // One cell without a free container, a candidate of every work.
    let mut cells = cells();
    cells[3].available.containers = 0;
    let cases = [
        (
            4.0,
            "malformed guest output: refused pick: picked cell cell-3, which has no room for \
             the work",
        ),
        (5.0, "with total NaN"),
        (
            7.0,
            "malformed guest output: refused pick: no winner among 5 candidates with room, but \
             0 rejected",
        ),
        (
            8.0,
            "malformed guest output: refused pick: picked cell position 1000 of 6 cells",
        ),
    ];
    // The batch goes wrong at its fourth work: the first three are the guest's picks.
    let good = batching_plan(&host, &cells);
    for (mode, reason) in cases {
        let (plan, error) = batching(&host, mode, 3.0, &cells);
        let WasmError::Malformed(message) = &error else {
            panic!("mode {mode}: {error:?}");
        };
        assert!(
            format!("malformed guest output: {message}").contains(reason),
            "mode {mode}: {error:?}"
        );
        assert!(
            plan.scorer_failures[0].contains(reason),
            "mode {mode}: {:?}",
            plan.scorer_failures
        );
        assert_eq!(plan.decisions[..3], good.decisions[..3], "mode {mode}");
    }
}

#[test]
fn a_batch_answer_of_the_wrong_shape_fails_the_0_5_plugin_before_anything_is_placed() {
    let host = common::host(limited());
    let (plan, error) = batching(&host, 6.0, 0.0, &cells());
    let reason = "7 winners, 7 rejection counts and 42 score parts for a batch of 8 works \
                  (one, one and 6 per work)";
    assert_eq!(error, WasmError::Malformed(reason.into()));
    assert!(plan.scorer_failures[0].contains(reason));
    // The fallback placed the whole batch: the default scorer's plan.
    let native = schedule(
        &cells(),
        lrps(),
        Vec::new(),
        &AuctionConfig::default(),
        &DiegoScorer::default(),
    );
    assert_eq!(plan.assignments, native.assignments);
}

/// The behaving 0.5 fixture's plan on `cells`.
fn batching_plan(host: &Arc<WasmHost>, cells: &[CellState]) -> diego_auction::Plan {
    let plugin = misbehave(host, "misbehave_scorer_v5", 0.0, 0.0);
    let plan = schedule(
        cells,
        lrps(),
        Vec::new(),
        &AuctionConfig::default(),
        &plugin,
    );
    assert!(
        plan.scorer_failures.is_empty(),
        "{:?}",
        plan.scorer_failures
    );
    plan
}
