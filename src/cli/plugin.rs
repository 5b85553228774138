//! `diego plugin build DIR` and `diego plugin test DIR --snapshot FILE`: build a placement
//! scorer plugin for wasm32-wasip2 and run it against a recorded cell snapshot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Subcommand;
use diego_auction::{
    AuctionConfig, CellLrp, CellState, CompositeScorer, DiegoScorer, LrpStart, Resources, TaskStart,
};
use diego_wasm_host::{diego_params, Digest, HostConfig, WasmHost, WasmScorer};
use serde::Deserialize;

#[derive(Subcommand, Debug)]
pub enum PluginCmd {
    /// Build the plugin project in DIR (cargo, --release, wasm32-wasip2); prints the
    /// component's path and its sha256 digest (what `--scorer` names).
    Build { dir: PathBuf },
    /// Build DIR, then run one auction over the snapshot with the plugin (weighted against
    /// the default scorer) and print every cell's verdict and the plan.
    Test {
        dir: PathBuf,
        /// A JSON cell snapshot: cells, lrps, tasks, params (see plugins/examples/).
        #[arg(long)]
        snapshot: PathBuf,
        /// The plugin's weight.
        #[arg(long, default_value_t = 1.0)]
        weight: f64,
        /// The default scorer's weight (0: the plugin alone).
        #[arg(long, default_value_t = 1.0)]
        diego_weight: f64,
    },
}

pub fn run(cmd: &PluginCmd) -> anyhow::Result<i32> {
    match cmd {
        PluginCmd::Build { dir } => {
            let (path, bytes) = build(dir)?;
            println!("component: {}", path.display());
            println!("digest: {}", Digest::of(&bytes));
            Ok(0)
        }
        PluginCmd::Test {
            dir,
            snapshot,
            weight,
            diego_weight,
        } => test(dir, snapshot, *weight, *diego_weight),
    }
}

/// Runs cargo in DIR and returns the `.wasm` it produced for DIR's own package.
fn build(dir: &Path) -> anyhow::Result<(PathBuf, Vec<u8>)> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("{} has no Cargo.toml", dir.display());
    }
    let manifest = manifest.canonicalize()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .args([
            "--message-format",
            "json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        // Host flags must not leak into the wasm build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo")?;
    if !output.status.success() {
        bail!(
            "cargo build of {} failed ({})",
            dir.display(),
            output.status
        );
    }
    let mut wasm = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact"
            || message["manifest_path"].as_str().map(Path::new) != Some(manifest.as_path())
        {
            continue;
        }
        let files = message["filenames"].as_array().into_iter().flatten();
        for file in files.filter_map(|f| f.as_str()) {
            if file.ends_with(".wasm") {
                wasm = Some(PathBuf::from(file));
            }
        }
    }
    let path = wasm.with_context(|| {
        format!(
            "cargo built no .wasm for {} (is its crate-type cdylib?)",
            dir.display()
        )
    })?;
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((path, bytes))
}

/// The snapshot file: what the auctioneer saw at one auction, in a hand-writable form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Snapshot {
    cells: Vec<SnapCell>,
    #[serde(default)]
    lrps: Vec<SnapWork>,
    #[serde(default)]
    tasks: Vec<SnapWork>,
    /// The plugin's params.
    #[serde(default)]
    params: BTreeMap<String, f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapResources {
    memory_mb: i32,
    disk_mb: i32,
    containers: i32,
}

impl From<&SnapResources> for Resources {
    fn from(r: &SnapResources) -> Self {
        Resources::new(r.memory_mb, r.disk_mb, r.containers)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapCell {
    cell_id: String,
    zone: String,
    total: SnapResources,
    /// Defaults to `total`.
    available: Option<SnapResources>,
    #[serde(default)]
    cell_index: i32,
    /// `preloaded:` stacks; defaults to cflinuxfs4.
    #[serde(default)]
    stacks: Vec<String>,
    #[serde(default)]
    starting_container_count: i32,
    /// `process_guid/index` of the LRP instances on the cell.
    #[serde(default)]
    lrps: Vec<String>,
    #[serde(default)]
    tasks: Vec<String>,
    #[serde(default)]
    placement_tags: Vec<String>,
    #[serde(default)]
    proxy_memory_mb: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapWork {
    /// Process guid (lrps) or task guid (tasks).
    guid: String,
    #[serde(default)]
    index: i32,
    memory_mb: i32,
    disk_mb: i32,
    #[serde(default = "default_rootfs")]
    rootfs: String,
}

fn default_rootfs() -> String {
    "preloaded:cflinuxfs4".into()
}

fn cell_state(c: &SnapCell) -> anyhow::Result<CellState> {
    let stacks: Vec<&str> = if c.stacks.is_empty() {
        vec!["cflinuxfs4"]
    } else {
        c.stacks.iter().map(String::as_str).collect()
    };
    let mut cell =
        CellState::new(&c.cell_id, &c.zone, (&c.total).into()).with_standard_providers(&stacks);
    if let Some(available) = &c.available {
        cell.available = available.into();
    }
    cell.cell_index = c.cell_index;
    cell.starting_container_count = c.starting_container_count;
    cell.task_guids = c.tasks.clone();
    cell.placement_tags = c.placement_tags.clone();
    cell.proxy_memory_mb = c.proxy_memory_mb;
    for lrp in &c.lrps {
        let (guid, index) = lrp
            .rsplit_once('/')
            .and_then(|(g, i)| Some((g, i.parse().ok()?)))
            .with_context(|| format!("cell {}: lrp {lrp:?} is not guid/index", c.cell_id))?;
        cell.lrps.push(CellLrp {
            process_guid: guid.into(),
            index,
        });
    }
    Ok(cell)
}

fn test(dir: &Path, snapshot: &Path, weight: f64, diego_weight: f64) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(snapshot)
        .with_context(|| format!("cannot read {}", snapshot.display()))?;
    let snap: Snapshot = serde_json::from_str(&text)
        .with_context(|| format!("snapshot {} is not valid", snapshot.display()))?;
    let cells = snap
        .cells
        .iter()
        .map(cell_state)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let lrps: Vec<LrpStart> = snap
        .lrps
        .iter()
        .map(|w| LrpStart::new(&w.guid, w.index, w.memory_mb, w.disk_mb, &w.rootfs))
        .collect();
    let tasks: Vec<TaskStart> = snap
        .tasks
        .iter()
        .map(|w| TaskStart::new(&w.guid, w.memory_mb, w.disk_mb, &w.rootfs))
        .collect();

    let (path, bytes) = build(dir)?;
    let host = Arc::new(WasmHost::new(HostConfig::default())?);
    let digest = host.load(&bytes)?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plugin")
        .to_owned();
    let config = AuctionConfig {
        explain: true,
        ..AuctionConfig::default()
    };
    let native = DiegoScorer::from_config(&config);
    let mut params = diego_params(&native);
    params.extend(snap.params);
    let plugin = WasmScorer::new(&host, digest, name.clone(), params, native)?;
    println!(
        "plugin {name} ({digest}, diego:placement@{}), weight {weight}; diego weight {diego_weight}",
        plugin.abi_version()
    );
    let mut scorer = CompositeScorer::new();
    if diego_weight > 0.0 {
        scorer = scorer.with(diego_weight, Box::new(native));
    }
    let scorer = scorer.with(weight, Box::new(plugin));
    let plan = diego_auctioneer::plan_with_fallback(&cells, lrps, tasks, &config, &scorer);

    println!("\nverdicts:");
    for decision in &plan.decisions {
        println!("{}", decision.summary());
        for cell in &decision.cells {
            println!("  {cell}");
        }
    }
    println!("\nplan:");
    for (cell, work) in &plan.assignments {
        let mut names: Vec<String> = work
            .lrps
            .iter()
            .map(|l| format!("{}/{}", l.process_guid, l.index))
            .collect();
        names.extend(work.tasks.iter().map(|t| format!("task {}", t.task_guid)));
        println!("  {cell}: {}", names.join(", "));
    }
    for (lrp, error) in &plan.failed_lrps {
        println!("  not placed: {}/{}: {error}", lrp.process_guid, lrp.index);
    }
    for (task, error) in &plan.failed_tasks {
        println!("  not placed: task {}: {error}", task.task_guid);
    }
    if !plan.scorer_failures.is_empty() {
        eprintln!("\nthe plugin failed: {}", plan.scorer_failures.join("; "));
        return Ok(1);
    }
    Ok(0)
}
