//! Healthcheck invocation (fresh store + instantiate + check) p50/p99, and an auction workload
//! scored by the wasm default scorer against the native one. Prints figures; asserts nothing
//! about time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use diego_auction::{
    schedule, AuctionConfig, CellState, CellView, DiegoScorer, LrpStart, Resources, ScoreColumns,
    Scorer, WorkView,
};
use diego_wasm_host::{diego_params, Check, CheckKind, Healthcheck, HostConfig, WasmScorer};

const CHECKS: usize = 2_000;
const CELLS: usize = 100;
const LRPS: usize = 2_000;
/// A 0.3 scorer that computes nothing (the misbehave fixture, behaving).
const FLOOR_GUEST: &str = "misbehave_scorer_v3";
/// A 0.4 scorer that computes nothing: it picks the first candidate with room.
const FLOOR_GUEST_V4: &str = "misbehave_scorer_v4";
/// A 0.5 scorer that computes nothing: the SDK's walk over a scorer whose every total is 1
/// (the first candidate with room in the walk's order wins).
const FLOOR_GUEST_V5: &str = "misbehave_scorer_v5";

/// CPU time of the calling thread: on a VM shared with other builds, the time a run was
/// descheduled is most of the noise in its wall time, and this leaves it out.
fn thread_cpu_time() -> Duration {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    /// Linux's CLOCK_THREAD_CPUTIME_ID.
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec (two longs on 64-bit Linux) into `now`.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Wall and thread CPU time of `f`.
fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration, Duration) {
    let (wall, cpu) = (Instant::now(), thread_cpu_time());
    let result = f();
    (result, wall.elapsed(), thread_cpu_time() - cpu)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Accepts forever; answers HTTP 200 to anything that sends a request.
fn server() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 1024];
            if matches!(stream.read(&mut buf), Ok(n) if n > 0) {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            }
        }
    });
    port
}

fn bench_healthcheck(kind: CheckKind, port: u16) {
    let host = common::host(HostConfig::default());
    let healthcheck = Healthcheck::load(&host, &common::guest("diego_healthcheck")).unwrap();
    let check = Check {
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
        kind,
        path: "/".into(),
        timeout_ms: 1_000,
    };
    let mut times = Vec::with_capacity(CHECKS);
    for _ in 0..CHECKS {
        let start = Instant::now();
        healthcheck.check(&check).unwrap().unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "healthcheck {kind:?}: {CHECKS} checks, p50 {:?}, p99 {:?}",
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );
}

fn cells() -> Vec<CellState> {
    (0..CELLS)
        .map(|i| {
            let total = Resources::new(65_536, 131_072, 250);
            let mut cell = CellState::new(format!("cell-{i:03}"), ["z1", "z2", "z3"][i % 3], total)
                .with_standard_providers(&["cflinuxfs4"]);
            cell.cell_index = (i / 3) as i32;
            cell
        })
        .collect()
}

fn lrps() -> Vec<LrpStart> {
    (0..LRPS)
        .map(|i| {
            let memory_mb = [128, 256, 512, 1024][i % 4];
            let guid = format!("app-{:04}", i / 10);
            LrpStart::new(
                guid,
                (i % 10) as i32,
                memory_mb,
                1024,
                "preloaded:cflinuxfs4",
            )
        })
        .collect()
}

/// The auction workload with the native scorer and with `guest` (the default scorer built
/// against one `diego:placement` version), on a host with fuel metering or without it (the
/// epoch deadline alone, ADR 0020).
fn bench_scorer(guest: &str, consume_fuel: bool) {
    let host = common::host(HostConfig {
        consume_fuel,
        ..HostConfig::default()
    });
    let limits = if consume_fuel {
        "fuel + epoch"
    } else {
        "epoch only"
    };
    let digest = host.load(&common::guest(guest)).unwrap();
    let config = AuctionConfig::default();
    let native = DiegoScorer::from_config(&config);
    // The floor: a 0.3 guest that computes nothing (every cell scores 1), so only the ABI,
    // the calls and the host's side remain. Its plan differs (all ties): not compared.
    let floor = [FLOOR_GUEST, FLOOR_GUEST_V4, FLOOR_GUEST_V5].contains(&guest);
    let params = if floor {
        vec![("mode".to_owned(), 0.0)]
    } else {
        diego_params(&native)
    };
    let wasm = WasmScorer::new(&host, digest, guest, params, native).unwrap();
    let cells = cells();
    // More runs (e.g. under a profiler): DIEGO_BENCH_RUNS.
    let runs: usize = std::env::var("DIEGO_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);

    // Best of `runs`, wall and thread CPU time: the VM is shared with other builds.
    let (mut native_time, mut native_cpu) = (Duration::MAX, Duration::MAX);
    let (mut wasm_time, mut wasm_cpu) = (Duration::MAX, Duration::MAX);
    for _ in 0..runs {
        let (expected, wall, cpu) =
            timed(|| schedule(&cells, lrps(), Vec::new(), &config, &native));
        native_time = native_time.min(wall);
        native_cpu = native_cpu.min(cpu);
        let (actual, wall, cpu) = timed(|| schedule(&cells, lrps(), Vec::new(), &config, &wasm));
        wasm_time = wasm_time.min(wall);
        wasm_cpu = wasm_cpu.min(cpu);
        if !floor {
            assert_eq!(actual, expected, "the wasm scorer must give the same plan");
        }
    }
    assert_eq!(wasm.fallback_count(), 0, "{:?}", wasm.last_error());
    let ratio = |wasm: Duration, native: Duration| wasm.as_secs_f64() / native.as_secs_f64();
    println!(
        "auction {CELLS} cells x {LRPS} lrps (best of {runs}), wasm {guest} \
         diego:placement@{} rounds ({} guest picks, {} batch calls per auction), {limits}: wall \
         native {native_time:?} wasm {wasm_time:?} ({:.2}x); thread cpu native {native_cpu:?} \
         wasm {wasm_cpu:?} ({:.2}x)",
        wasm.abi_version(),
        wasm.pick_count() / runs as u64,
        wasm.batch_count() / runs as u64,
        ratio(wasm_time, native_time),
        ratio(wasm_cpu, native_cpu),
    );

    let lrp = &lrps()[0];
    let work = WorkView::Lrp(lrp);
    let views: Vec<CellView<'_>> = cells
        .iter()
        .map(|cell| CellView {
            cell,
            available: cell.available,
            total: cell.total,
            starting_container_count: 0,
            same_process_lrps: 0,
            tasks: 0,
            bin_pack_index: cell.cell_index,
            proxy_memory_mb: 0,
        })
        .collect();

    // One placement call in an open round, by candidate count: the fixed cost of a call and
    // the cost per candidate.
    let states: Vec<&CellState> = cells.iter().collect();
    let ids: Vec<u32> = (0..CELLS as u32).collect();
    let mut round = wasm
        .open_round(&states)
        .expect("a wasm scorer opens rounds");
    let mut out = ScoreColumns::default();
    const CALLS: u32 = 20_000;
    let mut per_call = Vec::new();
    for n in [1, 10, 100] {
        let start = Instant::now();
        for _ in 0..CALLS {
            round.score_columns(&work, &ids[..n], &views[..n], &mut out);
            std::hint::black_box(&out);
        }
        per_call.push(format!("{n} cells {:?}", start.elapsed() / CALLS));
    }
    // 0.4.0: one `place` call (the guest picks among the candidates on its own loads).
    let mut picks = Vec::new();
    if wasm.abi_version() == "0.4.0" {
        for n in [1, 10, 100] {
            let start = Instant::now();
            for _ in 0..CALLS {
                std::hint::black_box(round.pick(&work, &ids[..n]));
            }
            picks.push(format!("{n} cells {:?}", start.elapsed() / CALLS));
        }
    }
    drop(round);
    if !picks.is_empty() {
        println!(
            "one place call in an open round ({guest}, diego:placement@0.4.0, {limits}): {}",
            picks.join(", ")
        );
    }
    println!(
        "one placement call in an open round ({guest}, diego:placement@{}, {limits}): {}",
        wasm.abi_version(),
        per_call.join(", ")
    );

    // One placement over every cell, as a one-off round (open + explain), for comparison
    // with the 0.1 per-call figure. The same for every ABI version: skipped after the first.
    if guest != "diego_scorer" || !consume_fuel {
        return;
    }
    const ROUNDS: u32 = 1_000;
    let start = Instant::now();
    for _ in 0..ROUNDS {
        std::hint::black_box(wasm.score_batch(&work, &views).unwrap());
    }
    let batch = start.elapsed() / ROUNDS;
    let start = Instant::now();
    for _ in 0..ROUNDS {
        let totals: Vec<f64> = views.iter().map(|v| native.score_total(v, &work)).collect();
        std::hint::black_box(totals);
    }
    let native_batch = start.elapsed() / ROUNDS;
    println!(
        "one-off round over {CELLS} cells (fresh store + open + explain): native {native_batch:?}, \
         wasm {batch:?}"
    );
}

/// `cargo bench -p diego-wasm-host --bench wasm [-- healthcheck|scorer|scorer-v5|scorer-v4|
/// scorer-v3|scorer-v2|scorer-floor|scorer-epoch|scorer-floor-epoch]`: everything but the
/// floors and the epoch-only variants by default; `scorer` is the default scorer on 0.5.0
/// (it places batches, ADR 0029), 0.4.0 (it picks, ADR 0026), 0.3.0 and 0.2.0 on the default
/// host (fuel and epoch), `scorer-floor` the 0.5, 0.4 and 0.3 guests that compute nothing,
/// `scorer-epoch` the 0.5 scorer on a host without fuel metering (ADR 0020).
fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |part: &str| only.is_empty() || only.iter().any(|o| o == part);
    if wanted("healthcheck") {
        let port = server();
        bench_healthcheck(CheckKind::Tcp, port);
        bench_healthcheck(CheckKind::Http, port);
    }
    // The current ABI (0.5.0, through the SDK), then the same scorer on older versions.
    let asked = |part: &str| only.iter().any(|o| o == part);
    if wanted("scorer") || wanted("scorer-v5") {
        bench_scorer("diego_scorer", true);
    }
    if wanted("scorer") || wanted("scorer-v4") {
        bench_scorer("diego_scorer_v4", true);
    }
    if asked("scorer-epoch") {
        bench_scorer("diego_scorer", false);
    }
    if asked("scorer-floor") {
        bench_scorer(FLOOR_GUEST_V5, true);
        bench_scorer(FLOOR_GUEST_V4, true);
        bench_scorer(FLOOR_GUEST, true);
    }
    if asked("scorer-floor-epoch") {
        bench_scorer(FLOOR_GUEST, false);
    }
    if wanted("scorer") || wanted("scorer-v3") {
        bench_scorer("diego_scorer_v3", true);
    }
    if wanted("scorer") || wanted("scorer-v2") {
        bench_scorer("diego_scorer_v2", true);
    }
}
