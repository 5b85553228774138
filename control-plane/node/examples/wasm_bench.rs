//! WASM app LRPs on a real cell: desire -> RUNNING latency, where it goes, and memory per
//! instance.
//!
//! `cargo run --release -p diego-node --example wasm_bench [N]` (root and runc, like every
//! runc cell; the guests must be built: `scripts/up.sh` or the wasm backend's tests do it).
//! Desires N single-instance LRPs of the `diego_app_http` component one after another, each
//! desired as `diego push` desires a wasm app (control-plane/staging/src/lrp.rs): the droplet
//! (a tgz holding `app/app.wasm`) is a blob of a real file server, downloaded to `/` with its
//! sha256 checksum and `cache_key: droplet-<sha256>`, so every instance after the cell's first
//! is a revalidation (`If-None-Match`, a 304) served from the cell's download cache (ADR 0031).
//! Each is health-checked on its port; the bench reports the p50/p99 of desire -> RUNNING (the
//! first, which downloads and compiles the component, apart), the p50 of each phase between
//! (from the executor's events and log lines), and the process RSS growth per running
//! instance; then N more without a health check (RUNNING once spawned). RUNNING is seen on
//! the BBS event stream (a watch), not by polling.
//! `DIEGO_BENCH_UNCACHED=1` desires the download without a `cache_key` (every instance
//! fetches the body), the path before ADR 0031.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use diego_executor::ContainerEventKind;
use diego_model::{ActualState, Event};
use diego_node::{CellConfig, ControlPlane, ControlPlaneConfig, LocalCell};
use diego_rep::RepConfig;
use diego_sdk::{Client, WatchOptions};
use futures::StreamExt;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The droplet a wasm push stages: the component at `app/app.wasm`.
fn droplet_tgz(wasm: &[u8]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(wasm.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "app/app.wasm", wasm).unwrap();
    let mut gz = tar.into_inner().unwrap();
    gz.flush().unwrap();
    gz.finish().unwrap()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// When things happened to one LRP, as offsets from its desire.
#[derive(Default, Clone)]
struct Phases {
    desired: Duration,
    reserved: Option<Duration>,
    download_started_ms: Option<u64>,
    downloaded_ms: Option<u64>,
    checks_started_ms: Option<u64>,
    container_running: Option<Duration>,
    bbs_running: Duration,
}

/// p50 of one phase over the LRPs that have both ends, in ms.
fn phase_p50(phases: &[Phases], f: impl Fn(&Phases) -> Option<f64>) -> String {
    let mut v: Vec<f64> = phases.iter().filter_map(f).collect();
    if v.is_empty() {
        return "n/a".into();
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!("{:.1}", v[(v.len() - 1) / 2])
}

fn report_phases(phases: &[Phases]) {
    let d = |a: Duration, b: Duration| Some(ms(b.saturating_sub(a)));
    println!(
        "    phases (p50 ms): desire rpc {} | -> reserved on the cell (auction) {} | -> running in the executor {} | -> RUNNING seen on the watch {}",
        phase_p50(phases, |p| Some(ms(p.desired))),
        phase_p50(phases, |p| d(p.desired, p.reserved?)),
        phase_p50(phases, |p| d(p.reserved?, p.container_running?)),
        phase_p50(phases, |p| d(p.container_running?, p.bbs_running)),
    );
    // log lines carry wall-clock ms: these are whole milliseconds
    let wall = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?) as f64);
    let since_reserved = |p: &Phases, at: Option<u64>| Some(at? as f64 - ms(p.reserved?));
    println!(
        "    in the executor (p50 ms, log lines: whole ms): reserved -> download started {} | download+extract+copy {} | -> checks started {} | downloaded -> running {}",
        phase_p50(phases, |p| since_reserved(p, p.download_started_ms)),
        phase_p50(phases, |p| wall(p.download_started_ms, p.downloaded_ms)),
        phase_p50(phases, |p| wall(p.downloaded_ms, p.checks_started_ms)),
        phase_p50(phases, |p| Some(ms(p.container_running?) - p.downloaded_ms? as f64)),
    );
}

type Seen = Arc<Mutex<HashMap<String, Instant>>>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(40);
    let cached = std::env::var_os("DIEGO_BENCH_UNCACHED").is_none();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let guests = target.join("wasm-guests/wasm32-wasip2/release");
    let wasm = std::fs::read(guests.join("diego_app_http.wasm"))
        .expect("build the guests first (cargo test -p diego-backend-wasm)");
    let dir = tempfile::tempdir().unwrap();
    let files = diego_fileserver::spawn("127.0.0.1:0".parse().unwrap(), &dir.path().join("blobs"))
        .await
        .expect("file server");
    let droplet = diego_fileserver::client::upload(&files.url(), droplet_tgz(&wasm))
        .await
        .expect("upload the droplet");
    let url = diego_fileserver::client::blob_url(&files.url(), &droplet);

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

    // RUNNING from the BBS's event stream, by process guid
    let running: Seen = Arc::default();
    let running_notify = Arc::new(tokio::sync::Notify::new());
    let mut events = client
        .watch(WatchOptions {
            kinds: vec!["actual_lrp".into()],
            ..Default::default()
        })
        .await
        .expect("watch");
    let (seen, notify) = (running.clone(), running_notify.clone());
    tokio::spawn(async move {
        while let Some(Ok(item)) = events.next().await {
            if let Event::ActualLrpChanged { after, .. } = item.event {
                if after.state == ActualState::Running {
                    let key = format!(
                        "{}/{}",
                        after.key.process_guid, after.instance_key.instance_guid
                    );
                    seen.lock().unwrap().insert(key, Instant::now());
                    notify.notify_waiters();
                }
            }
        }
    });
    // the executor's reserved / running events, by container (instance) guid
    let executor_events: Arc<Mutex<HashMap<(String, bool), Instant>>> = Arc::default();
    let mut rx = cell.rep.executor().subscribe();
    let seen = executor_events.clone();
    tokio::spawn(async move {
        while let Ok(ev) = rx.recv().await {
            let reserved = match ev.kind {
                ContainerEventKind::Reserved => true,
                ContainerEventKind::Running => false,
                ContainerEventKind::Completed => continue,
            };
            seen.lock()
                .unwrap()
                .entry((ev.guid, reserved))
                .or_insert_with(Instant::now);
        }
    });

    let rss_before = rss_kib();
    let mut rss_after = rss_before;
    let mut times = Vec::with_capacity(n);
    let mut unchecked = Vec::with_capacity(n);
    let mut phases = Vec::with_capacity(n);
    let mut unchecked_phases = Vec::with_capacity(n);
    for i in 0..2 * n {
        let checked = i < n;
        let pg = format!("wasm-{i}");
        // what `diego push` desires for a wasm http app, but for the check kind
        let mut download = serde_json::json!({
            "artifact": "droplet", "from": url, "to": "/", "user": "root",
            "checksum_algorithm": "sha256", "checksum_value": droplet.hex(),
        });
        if cached {
            download["cache_key"] = format!("droplet-{}", droplet.hex()).into();
        }
        let mut lrp: serde_json::Value = serde_json::json!({
            "process_guid": pg, "domain": "bench", "rootfs": "wasm:", "instances": 1,
            "memory_mb": 16, "disk_mb": 16, "ports": [8080], "metric_tags": {},
            "setup": {"download": download},
            "action": {"run": {"path": "/app/app.wasm", "user": "root"}},
            "check_definition": {"checks": [{"tcp_check": {"port": 8080}}]},
            "start_timeout_ms": 60000
        });
        if !checked {
            // Without checks an instance is RUNNING once its component is spawned.
            lrp.as_object_mut().unwrap().remove("check_definition");
        }
        let lrp = serde_json::from_value(lrp).unwrap();
        let start = Instant::now();
        let start_unix_ms = unix_ms();
        client.desire_lrp(lrp).await.unwrap();
        let desired = start.elapsed();
        let prefix = format!("{pg}/");
        let (instance_guid, at) = loop {
            let notified = running_notify.notified();
            let found = running
                .lock()
                .unwrap()
                .iter()
                .find(|(k, _)| k.starts_with(&prefix))
                .map(|(k, at)| (k[prefix.len()..].to_string(), *at));
            if let Some(found) = found {
                break found;
            }
            let left = Duration::from_secs(60).saturating_sub(start.elapsed());
            assert!(!left.is_zero(), "{pg} never ran");
            let _ = tokio::time::timeout(left, notified).await;
        };
        let took = at.duration_since(start);
        let ev = executor_events.lock().unwrap().clone();
        let since = |key: (String, bool)| ev.get(&key).map(|t| t.duration_since(start));
        let logs = cell.rep.executor().logs(&instance_guid);
        let line_at = |text: &str| {
            logs.iter()
                .find(|l| l.line.starts_with(text))
                .map(|l| l.timestamp_ms.saturating_sub(start_unix_ms))
        };
        let p = Phases {
            desired,
            reserved: since((instance_guid.clone(), true)),
            download_started_ms: line_at("Downloading droplet"),
            downloaded_ms: line_at("Downloaded droplet"),
            checks_started_ms: line_at("Starting health monitoring"),
            container_running: since((instance_guid.clone(), false)),
            bbs_running: took,
        };
        if checked {
            times.push(took);
            phases.push(p);
        } else {
            unchecked.push(took);
            unchecked_phases.push(p);
        }
        if i + 1 == n {
            rss_after = rss_kib();
        }
    }
    let cold = times[0];
    let mut warm = times[1..].to_vec();
    warm.sort();
    let how = if cached {
        "droplet download with cache_key (as diego push): a 304 after the first"
    } else {
        "droplet download without cache_key: the body every time"
    };
    println!("wasm app lrp desire -> RUNNING, {n} lrps one after another; {how}");
    println!(
        "  first (downloads and compiles the component): {:.1} ms",
        ms(cold)
    );
    println!(
        "  others: p50 {:.1} ms  p99 {:.1} ms",
        ms(pct(&warm, 0.5)),
        ms(pct(&warm, 0.99))
    );
    report_phases(&phases[1..]);
    unchecked.sort();
    println!(
        "  without a health check: p50 {:.1} ms  p99 {:.1} ms",
        ms(pct(&unchecked, 0.5)),
        ms(pct(&unchecked, 0.99))
    );
    report_phases(&unchecked_phases);
    if let Some(cache) = cell.rep.executor().download_cache() {
        let stats = cache.stats();
        println!(
            "  download cache: {} entries, {} bytes",
            stats.entries, stats.used_bytes
        );
    }
    println!(
        "memory: rss {} KiB -> {} KiB, {:.0} KiB per running wasm instance",
        rss_before,
        rss_after,
        (rss_after.saturating_sub(rss_before)) as f64 / n as f64
    );
    cell.stop().await;
    cp.stop().await;
    files.stop().await;
}
