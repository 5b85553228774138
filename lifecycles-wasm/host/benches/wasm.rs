//! Healthcheck invocation (fresh store + instantiate + check) p50/p99, and an auction workload
//! scored by the wasm default scorer against the native one. Prints figures; asserts nothing
//! about time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use diego_auction::{
    schedule, AuctionConfig, CellState, CellView, DiegoScorer, LrpStart, Resources, Scorer,
    WorkView,
};
use diego_wasm_host::{diego_params, Check, CheckKind, Healthcheck, HostConfig, WasmScorer};

const CHECKS: usize = 2_000;
const CELLS: usize = 100;
const LRPS: usize = 2_000;

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

fn bench_scorer() {
    let host = common::host(HostConfig::default());
    let digest = host.load(&common::guest("diego_scorer")).unwrap();
    let config = AuctionConfig::default();
    let native = DiegoScorer::from_config(&config);
    let wasm = WasmScorer::new(&host, digest, "diego", diego_params(&native), native).unwrap();
    let cells = cells();
    const RUNS: usize = 5;

    // Best of RUNS: the VM is shared with other builds.
    let mut native_time = Duration::MAX;
    let mut wasm_time = Duration::MAX;
    for _ in 0..RUNS {
        let start = Instant::now();
        let expected = schedule(&cells, lrps(), Vec::new(), &config, &native);
        native_time = native_time.min(start.elapsed());
        let start = Instant::now();
        let actual = schedule(&cells, lrps(), Vec::new(), &config, &wasm);
        wasm_time = wasm_time.min(start.elapsed());
        assert_eq!(actual, expected, "the wasm scorer must give the same plan");
    }
    assert_eq!(wasm.fallback_count(), 0, "{:?}", wasm.last_error());
    println!(
        "auction {CELLS} cells x {LRPS} lrps (best of {RUNS}): native {native_time:?}, wasm \
         diego:placement@{} rounds {wasm_time:?} ({:.2}x)",
        wasm.abi_version(),
        wasm_time.as_secs_f64() / native_time.as_secs_f64()
    );

    // One placement over every cell, as a one-off round (open + explain), for comparison
    // with the 0.1 per-call figure.
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

fn main() {
    let port = server();
    bench_healthcheck(CheckKind::Tcp, port);
    bench_healthcheck(CheckKind::Http, port);
    bench_scorer();
}
