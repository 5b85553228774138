//! WASM app LRPs on a real cell: desire -> RUNNING latency and memory per instance.
//!
//! `cargo run --release -p diego-node --example wasm_bench [N]` (root and runc, like every
//! runc cell; the guests must be built: `scripts/up.sh` or the wasm backend's tests do it).
//! Desires N single-instance LRPs of the `diego_app_http` component one after another, each
//! downloaded from a local HTTP server, health-checked on its port, then reports the p50/p99
//! of desire -> RUNNING (the first, which compiles the component, apart) and the process RSS
//! growth per running instance; then N more without a health check (RUNNING once spawned).

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use diego_model::ActualState;
use diego_node::{CellConfig, ControlPlane, ControlPlaneConfig, LocalCell};
use diego_rep::RepConfig;
use diego_sdk::{ActualFilter, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn app_tgz(wasm: &[u8]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(wasm.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "app.wasm", wasm).unwrap();
    let mut gz = tar.into_inner().unwrap();
    gz.flush().unwrap();
    gz.finish().unwrap()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(40);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let guests = target.join("wasm-guests/wasm32-wasip2/release");
    let wasm = std::fs::read(guests.join("diego_app_http.wasm"))
        .expect("build the guests first (cargo test -p diego-backend-wasm)");
    let tgz = app_tgz(&wasm);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/app.tgz", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let body = tgz.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
            });
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(ControlPlaneConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().join("bbs"),
    ))
    .await
    .expect("control plane");
    let client = Client::connect(&cp.api_url(), None).await.unwrap();
    let mut cfg = CellConfig::new("bench-cell", "z1", &cp.api_url(), 71);
    cfg.state_dir = dir.path().join("cell");
    cfg.healthcheck_wasm = Some(guests.join("diego_healthcheck.wasm"));
    cfg.rep = Some(RepConfig::new("bench-cell", "z1", ""));
    let cell = LocalCell::start(cfg).await.expect("cell");

    let rss_before = rss_kib();
    let mut rss_after = rss_before;
    let mut times = Vec::with_capacity(n);
    let mut unchecked = Vec::with_capacity(n);
    for i in 0..2 * n {
        let checked = i < n;
        let pg = format!("wasm-{i}");
        let mut lrp: serde_json::Value = serde_json::json!({
            "process_guid": pg, "domain": "bench", "rootfs": "wasm:", "instances": 1,
            "memory_mb": 16, "disk_mb": 16, "ports": [8080], "metric_tags": {},
            "setup": {"download": {"from": url, "to": "/app", "user": "vcap"}},
            "action": {"run": {"path": "/app/app.wasm", "user": "vcap"}},
            "check_definition": {"checks": [{"tcp_check": {"port": 8080}}]},
            "start_timeout_ms": 60000
        });
        if !checked {
            // Without checks an instance is RUNNING once its component is spawned.
            lrp.as_object_mut().unwrap().remove("check_definition");
        }
        let lrp = serde_json::from_value(lrp).unwrap();
        let start = Instant::now();
        client.desire_lrp(lrp).await.unwrap();
        let filter = ActualFilter {
            process_guid: pg.clone(),
            ..Default::default()
        };
        loop {
            let actuals = client.actual_lrps(filter.clone()).await.unwrap();
            if actuals.iter().any(|a| a.state == ActualState::Running) {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "{pg} never ran");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if checked {
            times.push(start.elapsed());
        } else {
            unchecked.push(start.elapsed());
        }
        if i + 1 == n {
            rss_after = rss_kib();
        }
    }
    let cold = times[0];
    let mut warm = times[1..].to_vec();
    warm.sort();
    println!("wasm app lrp desire -> RUNNING, {n} lrps one after another");
    println!(
        "  first (compiles the component): {:.1} ms",
        cold.as_secs_f64() * 1e3
    );
    println!(
        "  others: p50 {:.1} ms  p99 {:.1} ms",
        pct(&warm, 0.5).as_secs_f64() * 1e3,
        pct(&warm, 0.99).as_secs_f64() * 1e3
    );
    unchecked.sort();
    println!(
        "  without a health check: p50 {:.1} ms  p99 {:.1} ms",
        pct(&unchecked, 0.5).as_secs_f64() * 1e3,
        pct(&unchecked, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "memory: rss {} KiB -> {} KiB, {:.0} KiB per running wasm instance",
        rss_before,
        rss_after,
        (rss_after.saturating_sub(rss_before)) as f64 / n as f64
    );
    cell.stop().await;
    cp.stop().await;
}
