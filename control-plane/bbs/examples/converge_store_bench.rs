//! A whole convergence pass over 250,000 LRPs on the encrypted embedded
//! store: 25,000 desired LRPs x 10 instances running on 200 cells. Reads the
//! snapshot through the store, plans, applies. A first pass (every record
//! decoded), then passes with every cell present (nothing to do: the steady
//! state an operator sees every 30 s), then one pass after 3 cells vanish
//! (3,750 instances marked suspect and auctioned again, in batched CAS
//! transactions).
//!
//! The first pass is measured twice (ADR 0030): first as at a start, the
//! start-time warm-up followed at once by the first pass (the worst case:
//! a pass due before the warm-up ends waits for it; the converger's first
//! pass is normally 30 s after the start); at the end, with the cache
//! dropped, a cold pass (every record decoded, as without the warm-up;
//! it runs in a process whose heap is already grown). The process's RSS is
//! printed at each stage; with `memory` as the second argument the heap
//! bytes the cache holds are counted exactly (every allocation is counted
//! then, so the timings of that run are not comparable).
//!
//! cargo run --release -p diego-bbs --example converge_store_bench [-- RUNS [memory]]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use diego_bbs::{
    codec, keys, Bbs, BbsConfig, ConvergeReport, ConvergenceConfig, NoAuctioneer, StaticCells,
    SystemClock,
};
use diego_model::{
    Action, ActualLrp, ActualLrpKey, ActualState, CellPresence, DesiredLrp, InstanceKey,
    ModificationTag, NetInfo, Presence,
};
use diego_store::{open_local, AtRest, EmbeddedOptions, Op, Txn};

const DESIRED: usize = 25_000;
const INSTANCES: i32 = 10;
const CELLS: usize = 200;
const GONE: usize = 3;
const BATCH: usize = 1_000;

/// The system allocator, counting live heap bytes when `COUNTING` is set.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on unchanged
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        }
        // SAFETY: as above
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        }
        // SAFETY: as above
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The process's resident set in MB (Linux), or 0 where unknown.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cell(n: usize) -> String {
    format!("cell-{n:03}")
}

fn presence(n: usize) -> CellPresence {
    CellPresence {
        cell_id: cell(n),
        rep_address: format!("http://10.0.0.{n}:1800"),
        zone: format!("z{}", n % 3),
        ..Default::default()
    }
}

fn desired(pg: &str) -> DesiredLrp {
    DesiredLrp {
        process_guid: pg.into(),
        domain: "bench".into(),
        root_fs: "preloaded:busybox".into(),
        instances: INSTANCES,
        memory_mb: 64,
        disk_mb: 64,
        action: Some(Action::run("/bin/server", &[])),
        modification_tag: ModificationTag::new(format!("epoch-{pg}")),
        ..Default::default()
    }
}

fn running(pg: &str, index: i32, cell_n: usize, now: i64) -> ActualLrp {
    ActualLrp {
        key: ActualLrpKey::new(pg, index, "bench"),
        instance_key: InstanceKey::new(&format!("{pg}-{index}"), &cell(cell_n)),
        net_info: NetInfo {
            address: format!("10.0.0.{cell_n}"),
            ..Default::default()
        },
        state: ActualState::Running,
        since: now,
        modification_tag: ModificationTag::new(format!("epoch-{pg}-{index}")),
        presence: Presence::Ordinary,
        routable: Some(true),
        ..Default::default()
    }
}

fn line(what: &str, r: &ConvergeReport) {
    let m = &r.metrics;
    println!(
        "{what}: pass {:.0} ms (snapshot read {:.0} ms, {} records decoded, plan {:.0} ms, apply {:.0} ms); running {}, missing {}, suspect actions {}, missing cells {}",
        r.duration_ms,
        r.snapshot_ms,
        r.records_decoded,
        r.plan_ms,
        r.duration_ms - r.snapshot_ms - r.plan_ms,
        m.lrps_running,
        m.lrps_missing,
        r.lrp_actions_applied,
        m.missing_cells,
    );
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let count_memory = std::env::args().nth(2).as_deref() == Some("memory");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_local(dir.path(), AtRest::Encrypted, EmbeddedOptions::default())
        .expect("open the store");
    let cells = Arc::new(StaticCells::default());
    *cells.presences.lock().unwrap() = (0..CELLS).map(presence).collect();
    let bbs = Bbs::new(
        store.clone(),
        Arc::new(SystemClock),
        Arc::new(NoAuctioneer),
        cells.clone(),
        BbsConfig::default(),
    );
    bbs.upsert_domain("bench", 0).await.expect("fresh domain");

    let now = bbs.clock().now_ns();
    let load = Instant::now();
    let mut txn = Txn::default();
    let flush = |txn: &mut Txn, force: bool| {
        if force || txn.ops.len() >= BATCH {
            Some(std::mem::take(txn))
        } else {
            None
        }
    };
    for d in 0..DESIRED {
        let pg = format!("lrp-{d:05}");
        txn.ops.push(Op::Put {
            key: keys::desired(&pg),
            value: codec::encode(&desired(&pg)),
        });
        for index in 0..INSTANCES {
            let n = (d * INSTANCES as usize + index as usize) % CELLS;
            txn.ops.push(Op::Put {
                key: keys::actual(&pg, index, Presence::Ordinary),
                value: codec::encode(&running(&pg, index, n, now)),
            });
        }
        if let Some(t) = flush(&mut txn, false) {
            store.commit(t).await.expect("load");
        }
    }
    if let Some(t) = flush(&mut txn, true) {
        store.commit(t).await.expect("load");
    }
    println!(
        "loaded {DESIRED} desired lrps and {} running instances on {CELLS} cells in {:.1} s",
        DESIRED * INSTANCES as usize,
        load.elapsed().as_secs_f64()
    );

    println!("load average {}; rss {:.0} MB", load_average(), rss_mb());

    let cfg = ConvergenceConfig::default();
    // A start with the warm-up (ADR 0030), the first pass due at once.
    let start = Instant::now();
    COUNTING.store(count_memory, Ordering::SeqCst);
    let heap_before = LIVE_BYTES.load(Ordering::SeqCst);
    let w = bbs.warm_convergence_cache().await.expect("warm up");
    let heap_after = LIVE_BYTES.load(Ordering::SeqCst);
    COUNTING.store(false, Ordering::SeqCst);
    println!(
        "warm-up: {:.0} ms ({} records decoded); rss {:.0} MB",
        w.duration_ms,
        w.records_decoded,
        rss_mb()
    );
    if count_memory {
        println!(
            "heap held by the cache: {:.1} MB ({} rows)",
            (heap_after - heap_before) as f64 / (1024.0 * 1024.0),
            w.records_decoded
        );
    }
    let r = bbs.converge(&cfg).await.expect("converge");
    assert_eq!(r.lrp_actions_applied, 0, "a steady state has nothing to do");
    line("first pass after the warm-up", &r);
    println!(
        "start to first pass complete: {:.0} ms (warm-up, then the pass at once); load average {}",
        start.elapsed().as_secs_f64() * 1e3,
        load_average()
    );
    let mut steady = Vec::new();
    for run in 1..=runs {
        let r = bbs.converge(&cfg).await.expect("converge");
        assert_eq!(r.lrp_actions_applied, 0, "a steady state has nothing to do");
        line(&format!("steady pass {run}"), &r);
        steady.push(r.duration_ms);
    }
    steady.sort_by(f64::total_cmp);
    println!(
        "steady state over {} LRPs: best {:.0} ms, median {:.0} ms, worst {:.0} ms ({runs} passes)",
        DESIRED * INSTANCES as usize,
        steady[0],
        steady[steady.len() / 2],
        steady[steady.len() - 1]
    );

    cells.presences.lock().unwrap().truncate(CELLS - GONE);
    let r = bbs.converge(&cfg).await.expect("converge");
    line(&format!("{GONE} cells gone"), &r);
    assert_eq!(r.metrics.missing_cells, GONE as u64);
    let r = bbs.converge(&cfg).await.expect("converge");
    line("the pass after", &r);
    println!("load average {}; rss {:.0} MB", load_average(), rss_mb());

    // Without the warm-up, the first pass after a start decodes every
    // record; later passes only those written since the pass before.
    bbs.forget_convergence_cache();
    println!("rss after dropping the cache {:.0} MB", rss_mb());
    let r = bbs.converge(&cfg).await.expect("converge");
    assert_eq!(
        r.lrp_actions_applied, 0,
        "nothing changed since the pass before"
    );
    line("cold pass (the cache dropped first)", &r);
    println!("load average {}; rss {:.0} MB", load_average(), rss_mb());
}
