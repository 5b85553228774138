//! Auction simulation and benchmark driver.
//!
//! `cargo run --release -p diego-auction --example auction_sim [-- --batch N --seed S]`
//!
//! (a) 25,000 apps × 10 instances (128/256/512/1024 MB) onto 1,000 cells in 3 zones, submitted
//!     in batches like a real auctioneer would see them; (b) 10,000 tasks; (c) 50 cells lost,
//!     their instances re-placed in one batch. Prints throughput, peak RSS and how evenly the
//!     work landed. Figures only: benchmarks do not assert wall-clock times.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diego_auction::{
    schedule, AuctionConfig, CellLrp, CellState, DiegoScorer, LrpStart, Plan, Resources, TaskStart,
};

const CELLS: usize = 1_000;
const ZONES: [&str; 3] = ["z1", "z2", "z3"];
const APPS: usize = 25_000;
const INSTANCES_PER_APP: i32 = 10;
const TASKS: usize = 10_000;
const LOST_CELLS: usize = 50;
const MEMORY_SIZES_MB: [i32; 4] = [128, 256, 512, 1024];
const ROOTFS: &str = "preloaded:cflinuxfs4";

struct Sim {
    cells: Vec<CellState>,
    index_of: HashMap<String, usize>,
    schedule_time: Duration,
    placed: usize,
    failed: usize,
}

impl Sim {
    fn new() -> Self {
        // 192 GiB, 512 GiB disk, 400 containers: 250k instances fit with room for losing 50.
        let total = Resources::new(196_608, 524_288, 400);
        let cells: Vec<CellState> = (0..CELLS)
            .map(|i| {
                let mut cell = CellState::new(format!("cell-{i:04}"), ZONES[i % 3], total)
                    .with_standard_providers(&["cflinuxfs4"]);
                cell.cell_index = (i / 3) as i32;
                cell
            })
            .collect();
        let index_of = cells
            .iter()
            .enumerate()
            .map(|(i, c)| (c.cell_id.clone(), i))
            .collect();
        Self {
            cells,
            index_of,
            schedule_time: Duration::ZERO,
            placed: 0,
            failed: 0,
        }
    }

    /// Runs one auction and applies its plan to the cells, as reps would after `POST /work`.
    fn auction(&mut self, lrps: Vec<LrpStart>, tasks: Vec<TaskStart>, config: &AuctionConfig) {
        let scorer = DiegoScorer::from_config(config);
        let started = Instant::now();
        let plan: Plan = schedule(&self.cells, lrps, tasks, config, &scorer);
        self.schedule_time += started.elapsed();
        self.placed += plan.placed_count();
        self.failed += plan.failed_lrps.len() + plan.failed_tasks.len();
        if let Some((lrp, error)) = plan.failed_lrps.first() {
            eprintln!("  failed {}/{}: {error}", lrp.process_guid, lrp.index);
        }
        for (cell_id, work) in plan.assignments {
            let cell = &mut self.cells[self.index_of[&cell_id]];
            for lrp in work.lrps {
                cell.available.memory_mb -= lrp.memory_mb;
                cell.available.disk_mb -= lrp.disk_mb;
                cell.available.containers -= 1;
                cell.lrps.push(CellLrp {
                    process_guid: lrp.process_guid,
                    index: lrp.index,
                });
            }
            for task in work.tasks {
                cell.available.memory_mb -= task.memory_mb;
                cell.available.disk_mb -= task.disk_mb;
                cell.available.containers -= 1;
                cell.task_guids.push(task.task_guid);
            }
        }
        // Containers finish starting between batches.
        for cell in &mut self.cells {
            cell.starting_container_count = 0;
        }
    }

    fn reset_counters(&mut self) {
        self.schedule_time = Duration::ZERO;
        self.placed = 0;
        self.failed = 0;
    }

    fn report(&self, name: &str, wall: Duration) {
        let rate = self.placed as f64 / self.schedule_time.as_secs_f64();
        println!(
            "{name}: placed {} failed {} | schedule {:.3} s ({rate:.0} placements/s) | wall {:.3} s",
            self.placed,
            self.failed,
            self.schedule_time.as_secs_f64(),
            wall.as_secs_f64()
        );
    }

    fn distribution(&self) {
        let per_cell: Vec<f64> = self
            .cells
            .iter()
            .filter(|c| !c.evacuating)
            .map(|c| (c.lrps.len() + c.task_guids.len()) as f64)
            .collect();
        let mean = per_cell.iter().sum::<f64>() / per_cell.len() as f64;
        let variance =
            per_cell.iter().map(|n| (n - mean).powi(2)).sum::<f64>() / per_cell.len() as f64;
        let min = per_cell.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = per_cell.iter().cloned().fold(0.0, f64::max);
        println!(
            "  work per cell: min {min} max {max} mean {mean:.2} stddev {:.2} ({:.2}% of mean)",
            variance.sqrt(),
            100.0 * variance.sqrt() / mean
        );
        let mut zone_totals: HashMap<&str, usize> = HashMap::new();
        let mut app_zone: HashMap<&str, [i32; 3]> = HashMap::new();
        for cell in &self.cells {
            *zone_totals.entry(cell.zone.as_str()).or_default() += cell.lrps.len();
            let zone = ZONES.iter().position(|z| *z == cell.zone).unwrap_or(0);
            for lrp in &cell.lrps {
                app_zone.entry(lrp.process_guid.as_str()).or_default()[zone] += 1;
            }
        }
        let mut zones: Vec<_> = zone_totals.into_iter().collect();
        zones.sort();
        println!("  lrp instances per zone: {zones:?}");
        let spreads: Vec<i32> = app_zone
            .values()
            .map(|z| z.iter().max().unwrap_or(&0) - z.iter().min().unwrap_or(&0))
            .collect();
        let worst = spreads.iter().max().copied().unwrap_or(0);
        let mean_spread = spreads.iter().sum::<i32>() as f64 / spreads.len().max(1) as f64;
        let mut histogram = [0usize; 4];
        for s in &spreads {
            histogram[(*s as usize).min(3)] += 1;
        }
        println!(
            "  per-app zone spread (max - min instances in a zone): worst {worst}, mean {mean_spread:.3}, apps with spread 0/1/2/3+: {histogram:?}"
        );
        let mut app_cell_max = 0;
        for cell in &self.cells {
            let mut on_cell: HashMap<&str, usize> = HashMap::new();
            for lrp in &cell.lrps {
                *on_cell.entry(&lrp.process_guid).or_default() += 1;
            }
            app_cell_max = app_cell_max.max(on_cell.values().copied().max().unwrap_or(0));
        }
        println!("  most instances of one app on one cell: {app_cell_max}");
    }
}

fn app_lrps(app: usize) -> impl Iterator<Item = LrpStart> {
    let memory_mb = MEMORY_SIZES_MB[app % MEMORY_SIZES_MB.len()];
    (0..INSTANCES_PER_APP).map(move |index| {
        let mut lrp = LrpStart::new(format!("app-{app:05}"), index, memory_mb, 1024, ROOTFS);
        lrp.domain = "cf-apps".into();
        lrp
    })
}

fn peak_rss_kib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|at| args.get(at + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let batch_instances = arg("--batch", 5_000) as usize;
    let config = AuctionConfig {
        seed: arg("--seed", 42),
        ..AuctionConfig::default()
    };
    let mut sim = Sim::new();
    println!(
        "auction_sim: {CELLS} cells in {} zones; {APPS} apps x {INSTANCES_PER_APP} instances in batches of {batch_instances}",
        ZONES.len()
    );

    // (a) apps arrive one desire (all indices) at a time; the auctioneer drains whole batches.
    let wall = Instant::now();
    let apps_per_batch = (batch_instances / INSTANCES_PER_APP as usize).max(1);
    for first_app in (0..APPS).step_by(apps_per_batch) {
        let batch: Vec<LrpStart> = (first_app..(first_app + apps_per_batch).min(APPS))
            .flat_map(app_lrps)
            .collect();
        sim.auction(batch, Vec::new(), &config);
    }
    sim.report("(a) 250k lrp instances", wall.elapsed());
    sim.distribution();

    // (b) tasks of mixed sizes in one batch.
    sim.reset_counters();
    let wall = Instant::now();
    let tasks: Vec<TaskStart> = (0..TASKS)
        .map(|i| TaskStart::new(format!("task-{i:05}"), 256 << (i % 4), 1024, ROOTFS))
        .collect();
    sim.auction(Vec::new(), tasks, &config);
    sim.report("(b) 10k tasks", wall.elapsed());

    // (c) lose 50 cells (spread over zones) and re-place their instances in one batch, as
    // convergence would after their presences expire.
    sim.reset_counters();
    let wall = Instant::now();
    let mut orphans: Vec<LrpStart> = Vec::new();
    for i in (0..CELLS).step_by(CELLS / LOST_CELLS).take(LOST_CELLS) {
        let cell = &mut sim.cells[i];
        cell.evacuating = true; // stands in for "gone": excluded from every auction
        for lrp in cell.lrps.drain(..) {
            let app: usize = lrp.process_guid[4..].parse().unwrap_or(0);
            let memory_mb = MEMORY_SIZES_MB[app % MEMORY_SIZES_MB.len()];
            orphans.push(LrpStart::new(
                lrp.process_guid,
                lrp.index,
                memory_mb,
                1024,
                ROOTFS,
            ));
        }
        cell.task_guids.clear();
    }
    let orphan_count = orphans.len();
    sim.auction(orphans, Vec::new(), &config);
    sim.report(
        &format!("(c) cell loss: {LOST_CELLS} cells, {orphan_count} instances re-placed"),
        wall.elapsed(),
    );
    sim.distribution();

    // Cost of full explanations on one batch of the same shape as (a).
    let explain = AuctionConfig {
        explain: true,
        ..config.clone()
    };
    let batch: Vec<LrpStart> = (APPS..APPS + 100).flat_map(app_lrps).collect();
    let started = Instant::now();
    let plan = schedule(
        &sim.cells,
        batch,
        Vec::new(),
        &explain,
        &DiegoScorer::from_config(&explain),
    );
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "explain=true: {} placements in {elapsed:.3} s ({:.0}/s); e.g. {}",
        plan.placed_count(),
        plan.placed_count() as f64 / elapsed,
        plan.decisions[0].summary()
    );
    println!("peak RSS (VmHWM): {}", peak_rss_kib());
}
