//! End-to-end auction throughput: BBS -> auctioneer -> simulated reps, all
//! over gRPC on loopback in one process.
//!
//! ```text
//! cargo run --release -p diego-node --example auction_e2e -- \
//!     [--cells 100] [--zones 3] [--instances 20000] [--app-size 10] [--tasks 2000] [--clients 32]
//! ```
//!
//! Desires `instances / app-size` LRPs and `tasks` tasks through the sdk
//! (`clients` requests in flight), then waits until the simulated cells hold
//! every instance and task. Placements/s counts from the first desire to the
//! last placement, so it includes the BBS writes and every gRPC hop.

#[path = "../tests/sim/mod.rs"]
mod sim;

use std::time::{Duration, Instant};

use diego_auction::Resources;
use futures::stream::{self, StreamExt};
use sim::{lrp, task, SimCluster, ROOTFS};

struct Args {
    cells: usize,
    zones: usize,
    instances: usize,
    app_size: usize,
    tasks: usize,
    clients: usize,
}

fn args() -> Args {
    let mut a = Args {
        cells: 100,
        zones: 3,
        instances: 20_000,
        app_size: 10,
        tasks: 2_000,
        clients: 32,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let value = || -> usize {
            pair.get(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{} needs a number", pair[0]))
        };
        match pair[0].as_str() {
            "--cells" => a.cells = value(),
            "--zones" => a.zones = value(),
            "--instances" => a.instances = value(),
            "--app-size" => a.app_size = value(),
            "--tasks" => a.tasks = value(),
            "--clients" => a.clients = value(),
            other => panic!("unknown option {other}"),
        }
    }
    a.app_size = a.app_size.max(1);
    a.instances = a.instances.div_ceil(a.app_size) * a.app_size;
    a
}

/// `VmHWM` / `VmRSS` from /proc, in MiB (Linux).
fn memory_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() {
    let a = args();
    let dir = tempfile::tempdir().expect("a temp dir");
    // Room for every instance: nothing is refused for lack of resources.
    let per_cell = ((a.instances + a.tasks) / a.cells.max(1) + 1) as i32 * 4;
    let total = Resources::new(per_cell * 128, per_cell * 128, per_cell);
    let c = SimCluster::start(dir.path(), a.cells, a.zones, total).await;
    let rss_idle = memory_mib("VmRSS:").unwrap_or(0.0);
    println!(
        "{} simulated cells in {} zones over gRPC; desiring {} lrp instances ({} apps of {}) and {} tasks, {} requests in flight",
        a.cells, a.zones, a.instances, a.instances / a.app_size, a.app_size, a.tasks, a.clients
    );

    let started = Instant::now();
    let apps = (0..a.instances / a.app_size)
        .map(|i| lrp(&format!("app-{i}"), a.app_size as i32, 64))
        .map(|l| {
            let client = c.client.clone();
            async move { client.desire_lrp(l).await }
        });
    let tasks = (0..a.tasks).map(|i| {
        let client = c.client.clone();
        async move {
            client
                .desire_task(&format!("task-{i}"), sim::DOMAIN, task(64, ROOTFS))
                .await
        }
    });
    let desires = stream::iter(apps.map(futures::future::Either::Left))
        .chain(stream::iter(tasks.map(futures::future::Either::Right)))
        .buffer_unordered(a.clients)
        .collect::<Vec<_>>();
    let desired = desires.await;
    let desire_errors = desired.iter().filter(|r| r.is_err()).count();
    let desire_time = started.elapsed();

    let want = (a.instances, a.tasks);
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut placed = c.placed();
    while placed != want {
        if Instant::now() > deadline {
            panic!("placed {placed:?} of {want:?} after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        placed = c.placed();
    }
    let elapsed = started.elapsed();

    let n = (a.instances + a.tasks) as f64;
    println!(
        "desired in {:.2} s ({} errors); all {} placed in {:.2} s: {:.0} placements/s end to end",
        desire_time.as_secs_f64(),
        desire_errors,
        n,
        elapsed.as_secs_f64(),
        n / elapsed.as_secs_f64()
    );
    let per_cell: Vec<usize> = c
        .cells
        .iter()
        .map(|cell| {
            let s = cell.snapshot();
            s.lrps.len() + s.task_guids.len()
        })
        .collect();
    let min = per_cell.iter().min().copied().unwrap_or(0);
    let max = per_cell.iter().max().copied().unwrap_or(0);
    println!(
        "per cell: min {min}, max {max}, mean {:.1} (lrps + tasks)",
        n / a.cells as f64
    );
    let mut per_zone = std::collections::BTreeMap::<String, usize>::new();
    for cell in &c.cells {
        *per_zone.entry(cell.presence.zone.clone()).or_default() += cell.snapshot().lrps.len();
    }
    println!("lrp instances per zone: {per_zone:?}");
    let why = c
        .client
        .placement_decisions("lrp", "app-0", Some(0))
        .await
        .unwrap_or_default();
    if let Some((_, summary, _)) = why.first() {
        println!("diego why lrp app-0 0: {summary}");
    }
    println!(
        "memory: rss {:.0} MiB with idle cells, {:.0} MiB now, peak {:.0} MiB",
        rss_idle,
        memory_mib("VmRSS:").unwrap_or(0.0),
        memory_mib("VmHWM:").unwrap_or(0.0)
    );
    c.stop().await;
}
