//! Bad input: runaway, greedy, crashing and lying guests fail with typed errors within their
//! limits; malformed bytes are refused at load.

mod common;

use std::sync::Arc;

use diego_auction::{
    CellState, CellView, DiegoScorer, LrpStart, Resources, ScoreParts, Scorer, WorkView,
};
use diego_wasm_host::{BatchVerdict, HostConfig, WasmError, WasmHost, WasmScorer};

const MODE_LOOP: f64 = 1.0;
const MODE_HOARD: f64 = 2.0;
const MODE_TRAP: f64 = 3.0;
const MODE_SHORT: f64 = 4.0;
const MODE_SLEEP: f64 = 5.0;

fn misbehave(host: &Arc<WasmHost>, mode: f64) -> WasmScorer {
    let digest = host.load(&common::guest("diego_misbehave")).unwrap();
    let params = vec![("mode".to_owned(), mode)];
    WasmScorer::new(host, digest, "misbehave", params, DiegoScorer::default()).unwrap()
}

fn fixture() -> (CellState, LrpStart) {
    let cell = CellState::new("cell-a", "z1", Resources::new(4096, 8192, 100));
    (
        cell,
        LrpStart::new("app", 0, 256, 512, "preloaded:cflinuxfs4"),
    )
}

fn view(cell: &CellState) -> CellView<'_> {
    CellView {
        cell,
        available: cell.available,
        total: cell.total,
        starting_container_count: 2,
        same_process_lrps: 1,
        tasks: 0,
        bin_pack_index: 0,
        proxy_memory_mb: 0,
    }
}

fn call(host: &Arc<WasmHost>, mode: f64) -> Result<Vec<BatchVerdict>, WasmError> {
    let (cell, lrp) = fixture();
    let views = [view(&cell), view(&cell)];
    misbehave(host, mode).score_batch(&WorkView::Lrp(&lrp), &views)
}

/// Limits generous in every dimension but the one under test.
fn generous() -> HostConfig {
    HostConfig {
        fuel: u64::MAX / 2,
        epoch_deadline_ms: 60_000,
        ..HostConfig::default()
    }
}

#[test]
fn a_well_behaved_call_returns_one_verdict_per_cell() {
    let verdicts = call(&common::host(HostConfig::default()), 0.0).unwrap();
    assert_eq!(verdicts.len(), 2);
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let config = HostConfig {
        fuel: 10_000_000,
        ..generous()
    };
    assert_eq!(
        call(&common::host(config), MODE_LOOP),
        Err(WasmError::OutOfFuel)
    );
}

#[test]
fn an_endless_loop_with_unbounded_fuel_hits_the_epoch_deadline() {
    let config = HostConfig {
        epoch_deadline_ms: 100,
        ..generous()
    };
    assert_eq!(
        call(&common::host(config), MODE_LOOP),
        Err(WasmError::Deadline)
    );
}

#[test]
fn a_guest_blocked_in_host_calls_hits_the_epoch_deadline() {
    let config = HostConfig {
        epoch_deadline_ms: 100,
        ..generous()
    };
    assert_eq!(
        call(&common::host(config), MODE_SLEEP),
        Err(WasmError::Deadline)
    );
}

#[test]
fn a_memory_hog_is_refused_by_the_limiter() {
    let config = HostConfig {
        max_memory_bytes: 16 << 20,
        ..generous()
    };
    assert_eq!(
        call(&common::host(config), MODE_HOARD),
        Err(WasmError::MemoryLimit)
    );
}

#[test]
fn a_trap_is_reported_as_a_trap() {
    let result = call(&common::host(HostConfig::default()), MODE_TRAP);
    assert!(matches!(result, Err(WasmError::Trap(_))), "{result:?}");
}

#[test]
fn too_few_verdicts_is_malformed_output() {
    let result = call(&common::host(HostConfig::default()), MODE_SHORT);
    assert_eq!(
        result,
        Err(WasmError::Malformed("1 verdicts for 2 cells".into()))
    );
}

#[test]
fn a_failing_plugin_falls_back_to_diego_and_records_why() {
    let host = common::host(HostConfig::default());
    let scorer = misbehave(&host, MODE_TRAP);
    let (cell, lrp) = fixture();
    let (view, work) = (view(&cell), WorkView::Lrp(&lrp));
    let parts: ScoreParts = scorer.score(&view, &work);
    assert_eq!(parts, DiegoScorer::default().score(&view, &work));
    assert_eq!(scorer.fallback_count(), 1);
    assert!(matches!(scorer.last_error(), Some(WasmError::Trap(_))));
    let described = scorer.describe(&view, &work);
    assert!(described[0]
        .0
        .starts_with("fell back to diego: guest trapped"));
}

#[test]
fn malformed_bytes_are_refused_at_load_with_a_reason() {
    let host = common::host(HostConfig::default());
    match host.load(b"definitely not wasm") {
        Err(WasmError::Invalid(reason)) => assert!(!reason.is_empty()),
        other => panic!("expected invalid, got {other:?}"),
    }
    // A valid core module is still not a component.
    match host.load(b"\0asm\x01\0\0\0") {
        Err(WasmError::Invalid(reason)) => assert!(reason.contains("component"), "{reason}"),
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn compiled_components_are_cached_on_disk_by_digest() {
    let dir = tempfile::tempdir().unwrap();
    let config = HostConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..HostConfig::default()
    };
    let bytes = common::guest("diego_misbehave");
    let digest = common::host(config.clone()).load(&bytes).unwrap();
    let hex = digest.to_string().trim_start_matches("sha256:").to_owned();
    let cached: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(cached[0].starts_with(&hex), "{cached:?}");
    // A second host (a restarted process) loads from the cache and still runs the guest.
    let second = common::host(config);
    assert_eq!(second.load(&bytes).unwrap(), digest);
    let scorer = WasmScorer::new(&second, digest, "m", Vec::new(), DiegoScorer::default());
    let (cell, lrp) = fixture();
    let verdicts = scorer
        .unwrap()
        .score_batch(&WorkView::Lrp(&lrp), &[view(&cell)])
        .unwrap();
    assert_eq!(verdicts.len(), 1);
}

#[test]
fn an_unknown_digest_is_an_error() {
    let host = common::host(HostConfig::default());
    let digest = diego_wasm_host::Digest::of(b"never loaded");
    let result = WasmScorer::new(&host, digest, "x", Vec::new(), DiegoScorer::default());
    assert_eq!(result.err(), Some(WasmError::Unknown(digest)));
}
