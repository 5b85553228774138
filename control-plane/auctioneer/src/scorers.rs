//! Placement scorers from configuration: the native default plus WASM plugins named by
//! content digest, each with a weight; and the fallback when a plugin fails in an auction.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use diego_auction::{
    schedule, AuctionConfig, CellState, CompositeScorer, DiegoScorer, LrpStart, Plan, Scorer,
    TaskStart,
};
use diego_wasm_host::{diego_params, Digest, HostConfig, WasmHost, WasmScorer};

/// What can go wrong loading the configured scorers. Every message names the plugin.
#[derive(Debug, thiserror::Error)]
pub enum ScorerError {
    #[error("scorer {spec:?}: {reason}")]
    Spec { spec: String, reason: String },
    #[error("plugin {digest}: {reason}")]
    Plugin { digest: String, reason: String },
    #[error("wasm host: {0}")]
    Host(String),
}

/// One plugin: its content digest, where to find it, and its weight in the sum.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSpec {
    /// `sha256:<64 hex>`; the file must hash to it.
    pub digest: String,
    /// The `.wasm` file; when absent, the plugin dir is searched (`<hex>.wasm` first, then
    /// any `.wasm` with this digest).
    pub path: Option<PathBuf>,
    pub weight: f64,
    /// Named numbers passed to the plugin (its own configuration).
    pub params: Vec<(String, f64)>,
}

impl PluginSpec {
    /// `sha256:<hex>=<weight>` (the `--scorer` flag); the weight defaults to 1.
    pub fn parse(text: &str) -> Result<Self, ScorerError> {
        let bad = |reason: &str| ScorerError::Spec {
            spec: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (digest, weight) = match text.split_once('=') {
            Some((digest, weight)) => {
                let weight: f64 = weight
                    .trim()
                    .parse()
                    .map_err(|_| bad("weight is not a number"))?;
                (digest.trim(), weight)
            }
            None => (text.trim(), 1.0),
        };
        if !weight.is_finite() || weight < 0.0 {
            return Err(bad("weight must be a finite number >= 0"));
        }
        let hex_part = digest
            .strip_prefix("sha256:")
            .ok_or_else(|| bad("digest must start with sha256:"))?;
        if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("digest must be sha256: and 64 hex digits"));
        }
        Ok(PluginSpec {
            digest: format!("sha256:{}", hex_part.to_ascii_lowercase()),
            path: None,
            weight,
            params: Vec::new(),
        })
    }
}

/// The auctioneer's scoring configuration.
#[derive(Debug, Clone)]
pub struct ScorerConfig {
    /// Weight of the native default scorer in the sum (Diego alone: 1, no plugins).
    pub diego_weight: f64,
    pub plugins: Vec<PluginSpec>,
    pub plugin_dir: Option<PathBuf>,
    /// Limits every plugin call runs under (fuel, deadline, memory) and the compile cache.
    pub host: HostConfig,
}

impl Default for ScorerConfig {
    fn default() -> Self {
        ScorerConfig {
            diego_weight: 1.0,
            plugins: Vec::new(),
            plugin_dir: None,
            host: HostConfig::default(),
        }
    }
}

/// A loaded scorer the auctioneer shares across batches, with a description for logs.
#[derive(Clone)]
pub struct SharedScorer {
    pub scorer: Arc<dyn Scorer + Send + Sync>,
    pub description: String,
}

impl fmt::Debug for SharedScorer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// Reads and hash-checks every configured plugin, loads it into one wasm host, and builds
/// the weighted sum. A missing file, a digest mismatch, bytes that are not a component or
/// a component that is no scorer are refused here, with the reason.
pub fn load_scorer(
    config: &ScorerConfig,
    auction: &AuctionConfig,
) -> Result<SharedScorer, ScorerError> {
    let native = DiegoScorer::from_config(auction);
    if !config.diego_weight.is_finite() || config.diego_weight < 0.0 {
        return Err(ScorerError::Spec {
            spec: format!("diego={}", config.diego_weight),
            reason: "weight must be a finite number >= 0".into(),
        });
    }
    if config.plugins.is_empty() {
        return Ok(SharedScorer {
            scorer: Arc::new(native),
            description: "diego".into(),
        });
    }
    let host =
        Arc::new(WasmHost::new(config.host.clone()).map_err(|e| ScorerError::Host(e.to_string()))?);
    let mut composite = CompositeScorer::new();
    let mut description = Vec::new();
    if config.diego_weight > 0.0 {
        composite = composite.with(config.diego_weight, Box::new(native));
        description.push(format!("{}×diego", config.diego_weight));
    }
    for spec in &config.plugins {
        let fail = |reason: String| ScorerError::Plugin {
            digest: spec.digest.clone(),
            reason,
        };
        let (path, bytes) = find_plugin(spec, config.plugin_dir.as_deref()).map_err(fail)?;
        let digest = host.load(&bytes).map_err(|e| fail(e.to_string()))?;
        let name = plugin_name(&path, &digest);
        // Diego-compatible plugins read the auction's weights; others ignore them.
        let mut params = diego_params(&native);
        params.extend(spec.params.iter().cloned());
        let scorer = WasmScorer::new(&host, digest, name.clone(), params, native)
            .map_err(|e| fail(e.to_string()))?;
        description.push(format!(
            "{}×{name} ({digest}, diego:placement@{})",
            spec.weight,
            scorer.abi_version()
        ));
        composite = composite.with(spec.weight, Box::new(scorer));
    }
    Ok(SharedScorer {
        scorer: Arc::new(composite),
        description: description.join(" + "),
    })
}

/// The plugin's file and bytes, refusing a file whose sha256 is not the configured digest.
fn find_plugin(spec: &PluginSpec, dir: Option<&Path>) -> Result<(PathBuf, Vec<u8>), String> {
    let hex_part = spec.digest.trim_start_matches("sha256:");
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    if let Some(path) = &spec.path {
        let bytes = read(path)?;
        check_digest(path, &bytes, &spec.digest)?;
        return Ok((path.clone(), bytes));
    }
    let dir = dir.ok_or("no plugin file or plugin dir configured")?;
    let named = dir.join(format!("{hex_part}.wasm"));
    if named.exists() {
        let bytes = read(&named)?;
        check_digest(&named, &bytes, &spec.digest)?;
        return Ok((named, bytes));
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let bytes = read(&path)?;
            if Digest::of(&bytes).to_string() == spec.digest {
                return Ok((path, bytes));
            }
        }
    }
    Err(format!(
        "no .wasm file with this digest in {}",
        dir.display()
    ))
}

fn check_digest(path: &Path, bytes: &[u8], expected: &str) -> Result<(), String> {
    let actual = Digest::of(bytes).to_string();
    if actual != expected {
        return Err(format!(
            "{} has digest {actual}, not the configured one; refusing it",
            path.display()
        ));
    }
    Ok(())
}

/// The file stem (`spread.wasm` -> `spread`), or the digest's first 12 hex digits when the
/// file is named by its digest.
fn plugin_name(path: &Path, digest: &Digest) -> String {
    let hex_digest = digest.to_string();
    let short = &hex_digest["sha256:".len().."sha256:".len() + 12];
    match path.file_stem().and_then(|s| s.to_str()) {
        Some(stem) if !hex_digest.ends_with(stem) => stem.to_owned(),
        _ => short.to_owned(),
    }
}

/// Plans with `scorer`; if a plugin failed during the auction, logs it and plans the whole
/// auction again with the default scorer (the plan stays a function of one scorer), noting
/// the failure in every decision's explanation.
pub fn plan_with_fallback(
    cells: &[CellState],
    lrps: Vec<LrpStart>,
    tasks: Vec<TaskStart>,
    config: &AuctionConfig,
    scorer: &(dyn Scorer + Send + Sync),
) -> Plan {
    if scorer.as_diego().is_some() {
        return schedule(cells, lrps, tasks, config, scorer);
    }
    let plan = schedule(cells, lrps.clone(), tasks.clone(), config, scorer);
    if plan.scorer_failures.is_empty() {
        return plan;
    }
    for failure in &plan.scorer_failures {
        tracing::warn!(%failure, "scorer plugin failed; the auction falls back to the default scorer");
    }
    let note = format!(
        "{}; placed by the default scorer instead",
        plan.scorer_failures.join("; ")
    );
    let failures = plan.scorer_failures;
    let mut plan = schedule(
        cells,
        lrps,
        tasks,
        config,
        &DiegoScorer::from_config(config),
    );
    for decision in &mut plan.decisions {
        decision.notes.push(note.clone());
    }
    plan.scorer_failures = failures;
    plan
}
