//! Scorers from configuration: plugins by digest with weights, the fallback to the default
//! scorer when a plugin misbehaves (recorded in the explanation), and refusals at load.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use common::*;
use diego_auction::{schedule_default, AuctionConfig, CellState, LrpStart, Resources};
use diego_auctioneer::{
    load_scorer, plan_with_fallback, AuctioneerConfig, PluginSpec, ScorerConfig, ScorerError,
};
use diego_wasm_host::{Digest, HostConfig};

/// Builds the plugins workspace once (into `$CARGO_TARGET_DIR/wasm-guests`).
fn guest(name: &str) -> Vec<u8> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| manifest_dir.join("../../target"))
            .join("wasm-guests");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(manifest_dir.join("../../plugins"))
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("run cargo for the plugins");
        assert!(status.success(), "building the plugins failed");
        target.join("wasm32-wasip2/release")
    });
    std::fs::read(dir.join(format!("{name}.wasm"))).expect("plugin built")
}

/// A plugin dir holding `file` with the bytes of guest `name`; returns the dir and digest.
fn plugin_dir(name: &str, file: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = guest(name);
    std::fs::write(dir.path().join(file), &bytes).unwrap();
    (dir, Digest::of(&bytes).to_string())
}

fn config(dir: &Path, plugins: Vec<PluginSpec>) -> ScorerConfig {
    ScorerConfig {
        plugins,
        plugin_dir: Some(dir.to_owned()),
        host: HostConfig {
            fuel: 20_000_000,
            epoch_deadline_ms: 200,
            max_memory_bytes: 16 << 20,
            ..HostConfig::default()
        },
        ..ScorerConfig::default()
    }
}

fn spec(digest: &str, weight: f64, params: &[(&str, f64)]) -> PluginSpec {
    let mut spec = PluginSpec::parse(&format!("{digest}={weight}")).unwrap();
    spec.params = params.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    spec
}

/// "a" is empty but busy starting containers; "b" is three-quarters full and idle. Diego
/// prefers "b" (starting containers cost more than memory); the spread plugin prefers "a"
/// (less memory used), by 0.75 per unit of weight against Diego's 0.75.
fn two_cells() -> Vec<CellState> {
    let total = Resources::new(4096, 8192, 100);
    let mut a = CellState::new("a", "z1", total).with_standard_providers(&["cflinuxfs4"]);
    a.starting_container_count = 4;
    let mut b = CellState::new("b", "z1", total).with_standard_providers(&["cflinuxfs4"]);
    b.available.memory_mb = 1024;
    vec![a, b]
}

fn one_lrp() -> Vec<LrpStart> {
    vec![LrpStart::new("web", 0, 64, 64, ROOTFS)]
}

#[test]
fn a_plugins_weight_decides_between_it_and_the_default_scorer() {
    let (dir, digest) = plugin_dir("example_spread_scorer", "spread.wasm");
    let auction = AuctionConfig {
        explain: true,
        ..AuctionConfig::default()
    };
    let default = schedule_default(&two_cells(), one_lrp(), Vec::new(), &auction);
    assert_eq!(default.decisions[0].placed_on(), Some("b"));
    for (weight, expected) in [(0.5, "b"), (2.0, "a")] {
        let loaded = load_scorer(
            &config(dir.path(), vec![spec(&digest, weight, &[])]),
            &auction,
        )
        .unwrap();
        assert!(
            loaded.description.contains("×spread (sha256:"),
            "{}",
            loaded.description
        );
        let plan = plan_with_fallback(
            &two_cells(),
            one_lrp(),
            Vec::new(),
            &auction,
            &*loaded.scorer,
        );
        let decision = &plan.decisions[0];
        assert_eq!(
            decision.placed_on(),
            Some(expected),
            "weight {weight}: {}",
            decision.summary()
        );
        // Each scorer's score for the winner is in the summary, and each plugin's terms in
        // the per-cell lines.
        let summary = decision.summary();
        assert!(summary.contains("= 1×diego "), "{summary}");
        assert!(
            summary.contains(&format!(" + {weight}×spread ")),
            "{summary}"
        );
        let lines: Vec<String> = decision.cells.iter().map(|c| c.to_string()).collect();
        assert!(
            lines.iter().all(|l| l.contains("spread.memory-after")),
            "{lines:?}"
        );
        assert!(plan.scorer_failures.is_empty());
    }
}

#[test]
fn the_wasm_default_scorer_alone_gives_the_default_plan() {
    let (dir, digest) = plugin_dir("diego_scorer", "diego.wasm");
    let auction = AuctionConfig::default();
    let mut cfg = config(dir.path(), vec![spec(&digest, 1.0, &[])]);
    cfg.diego_weight = 0.0;
    let loaded = load_scorer(&cfg, &auction).unwrap();
    let plan = plan_with_fallback(
        &two_cells(),
        one_lrp(),
        Vec::new(),
        &auction,
        &*loaded.scorer,
    );
    assert_eq!(plan.decisions[0].placed_on(), Some("b"));
}

#[test]
fn each_misbehaving_plugin_falls_back_to_the_default_scorer_and_says_why() {
    each_misbehaving_plugin_falls_back(
        "misbehave_scorer",
        "malformed guest output: 1 scores for 2 cells",
    );
}

#[test]
fn each_misbehaving_0_3_plugin_falls_back_to_the_default_scorer_and_says_why() {
    each_misbehaving_plugin_falls_back(
        "misbehave_scorer_v3",
        "malformed guest output: 6 score parts for 2 cells (6 per cell)",
    );
}

/// Every misbehaviour of fixture `guest` (a 0.2 or 0.3 scorer): the plan is the default
/// one and the decision says why; `short` is its message for a too-short answer.
fn each_misbehaving_plugin_falls_back(guest: &str, short: &str) {
    let (dir, digest) = plugin_dir(guest, "misbehave.wasm");
    let auction = AuctionConfig::default();
    let cases = [
        (1.0, "out of fuel"),
        (2.0, "memory limit"),
        (3.0, "trapped"),
        (4.0, short),
        (5.0, "NaN"),
        (6.0, "rejection of position"),
        (7.0, "epoch deadline"),
    ];
    for (mode, reason) in cases {
        // Weight 100: if the plugin's (constant) scores were used, nothing would change, so
        // the check is the recorded fallback and a plan identical to the default one.
        let plugins = vec![spec(&digest, 100.0, &[("mode", mode)])];
        let loaded = load_scorer(&config(dir.path(), plugins), &auction).unwrap();
        let plan = plan_with_fallback(
            &two_cells(),
            one_lrp(),
            Vec::new(),
            &auction,
            &*loaded.scorer,
        );
        let default = schedule_default(&two_cells(), one_lrp(), Vec::new(), &auction);
        assert_eq!(plan.assignments, default.assignments, "{guest} mode {mode}");
        assert_eq!(plan.scorer_failures.len(), 1, "{guest} mode {mode}");
        let summary = plan.decisions[0].summary();
        assert!(
            summary.contains("scorer misbehave (sha256:") && summary.contains(reason),
            "{guest} mode {mode}: {summary}"
        );
        assert!(
            summary.contains("placed by the default scorer instead"),
            "{summary}"
        );
    }
}

#[test]
fn the_auctioneer_records_the_fallback_in_the_placement_explanation() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (dir, digest) = plugin_dir("misbehave_scorer", "misbehave.wasm");
    let plugins = vec![spec(&digest, 1.0, &[("mode", 3.0)])];
    let shared = load_scorer(&config(dir.path(), plugins), &AuctionConfig::default()).unwrap();
    rt.block_on(async {
        let cells = [sim_cell("c1", "z1"), sim_cell("c2", "z2")];
        let reps = Arc::new(Reps::new(&cells));
        let config = AuctioneerConfig {
            scorer: Some(shared),
            ..AuctioneerConfig::default()
        };
        let (a, sink) = auctioneer(reps.clone(), config);
        a.submit(vec![lrp("web", 0)], vec![]);
        a.run_batch().await;
        let (summary, lines) = sink.decision("lrp/web/0").expect("a decision");
        assert!(summary.contains("placed on c"), "{summary}");
        assert!(summary.contains("guest trapped"), "{summary}");
        assert!(
            summary.contains("placed by the default scorer instead"),
            "{summary}"
        );
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(reps.performed().len(), 1);
    });
}

#[test]
fn a_file_whose_digest_does_not_match_is_refused() {
    let (dir, digest) = plugin_dir("example_spread_scorer", "spread.wasm");
    // The configured digest names the file by its hex, but the bytes are another plugin's.
    let hex_name = format!("{}.wasm", digest.trim_start_matches("sha256:"));
    std::fs::write(dir.path().join(&hex_name), guest("diego_scorer")).unwrap();
    let cfg = config(dir.path(), vec![spec(&digest, 1.0, &[])]);
    let error = load_scorer(&cfg, &AuctionConfig::default()).expect_err("refused");
    let text = error.to_string();
    assert!(
        text.contains("not the configured one; refusing it"),
        "{text}"
    );
    assert!(text.starts_with(&format!("plugin {digest}")), "{text}");
}

#[test]
fn a_malformed_wasm_file_is_refused_at_load_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = b"\0asm\x0d\0\x01\0 definitely not a component".to_vec();
    let digest = Digest::of(&bytes).to_string();
    std::fs::write(dir.path().join("broken.wasm"), &bytes).unwrap();
    let cfg = config(dir.path(), vec![spec(&digest, 1.0, &[])]);
    let error = load_scorer(&cfg, &AuctionConfig::default()).expect_err("refused");
    assert!(matches!(error, ScorerError::Plugin { .. }), "{error}");
    assert!(error.to_string().contains("invalid component"), "{error}");

    // A valid component that is not a scorer is refused too.
    let (dir, digest) = plugin_dir("diego_scorer", "x.wasm");
    std::fs::remove_file(dir.path().join("x.wasm")).unwrap();
    let cfg = config(dir.path(), vec![spec(&digest, 1.0, &[])]);
    let error = load_scorer(&cfg, &AuctionConfig::default()).expect_err("missing");
    assert!(
        error.to_string().contains("no .wasm file with this digest"),
        "{error}"
    );
}

#[test]
fn scorer_flags_are_checked() {
    let hex = "ab".repeat(32);
    let ok = PluginSpec::parse(&format!("sha256:{hex}=0.5")).unwrap();
    assert_eq!(ok.weight, 0.5);
    assert_eq!(
        PluginSpec::parse(&format!("sha256:{hex}")).unwrap().weight,
        1.0
    );
    for (bad, reason) in [
        (format!("md5:{hex}=1"), "must start with sha256:"),
        ("sha256:abc=1".to_owned(), "64 hex digits"),
        (format!("sha256:{hex}=heavy"), "weight is not a number"),
        (format!("sha256:{hex}=-1"), ">= 0"),
        (format!("sha256:{hex}=NaN"), ">= 0"),
    ] {
        let error = PluginSpec::parse(&bad).unwrap_err().to_string();
        assert!(error.contains(reason), "{bad}: {error}");
    }
}
