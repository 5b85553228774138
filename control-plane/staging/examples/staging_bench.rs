//! Staging time per example app: the staging Task (upload, download, builder on the wasm
//! backend, droplet upload) on the real stack, measured from DesireTask to its result. Figures
//! only, no assertions. Needs root and runc; uses cell number 82.
//!
//! `cargo run --release -p diego-staging --example staging_bench` (guests built first into
//! `$CARGO_TARGET_DIR/wasm-guests`, e.g. by `cargo test -p diego-staging`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use diego_node::{CellConfig, ControlPlane, ControlPlaneConfig, LocalCell};
use diego_sdk::Client;
use diego_staging::{Lifecycles, PushOptions};

const RUNS: usize = 10;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let guests = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"))
        .join("wasm-guests/wasm32-wasip2/release");
    let dir = tempfile::tempdir().unwrap();
    let cfg = ControlPlaneConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("bbs"));
    let cp = ControlPlane::start(cfg)
        .await
        .expect("control plane starts");
    let fs = diego_fileserver::spawn("127.0.0.1:0".parse().unwrap(), &dir.path().join("fs"))
        .await
        .expect("file server starts");
    let mut cell_cfg = CellConfig::new("bench-cell", "z1", &cp.api_url(), 82);
    cell_cfg.state_dir = dir.path().join("cell");
    let cell = LocalCell::start(cell_cfg).await.expect("cell starts");
    let client = Client::connect(&cp.api_url(), None).await.unwrap();
    let lifecycles = Lifecycles::load(&guests).expect("lifecycles (build the guests first)");

    let wasm_app = tempfile::tempdir().unwrap();
    std::fs::copy(
        guests.join("diego_example_http.wasm"),
        wasm_app.path().join("hello.wasm"),
    )
    .unwrap();
    let apps = [
        ("static-site", repo.join("examples/apps/static-site")),
        ("procfile-shell", repo.join("examples/apps/procfile-shell")),
        ("wasm-http", wasm_app.path().to_path_buf()),
    ];
    println!("staging time per example app ({RUNS} runs each, after one warm-up)");
    for (name, path) in apps {
        let options = PushOptions::new(name, &fs.url());
        let first = Instant::now();
        diego_staging::stage(&client, &options, &lifecycles, &path)
            .await
            .expect("stages");
        let first_ms = first.elapsed().as_secs_f64() * 1e3;
        let mut task_ms = Vec::new();
        let mut total_ms = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let staged = diego_staging::stage(&client, &options, &lifecycles, &path)
                .await
                .expect("stages");
            total_ms.push(t.elapsed().as_secs_f64() * 1e3);
            task_ms.push(staged.staging_ms as f64);
        }
        task_ms.sort_by(f64::total_cmp);
        total_ms.sort_by(f64::total_cmp);
        println!(
            "{name:15} first {first_ms:7.1} ms | task p50 {:7.1} ms max {:7.1} ms | with uploads p50 {:7.1} ms",
            task_ms[RUNS / 2],
            task_ms[RUNS - 1],
            total_ms[RUNS / 2]
        );
    }
    cell.stop().await;
    fs.stop().await;
    cp.stop().await;
}
