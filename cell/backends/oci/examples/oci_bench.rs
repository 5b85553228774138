//! create -> running for N busybox `sleep` containers through the executor on runc,
//! `CONCURRENCY` at a time; prints p50/p99 latencies and teardown time.
//! Usage: cargo run --release -p diego-backend-oci --example oci_bench [-- N CONCURRENCY]

use std::sync::Arc;
use std::time::{Duration, Instant};

use diego_backend_oci::{OciBackend, OciConfig};
use diego_executor::*;
use diego_model::Action;
use futures::stream::{self, StreamExt};

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    let idx = ((sorted_ms.len() as f64 - 1.0) * p).round() as usize;
    sorted_ms[idx]
}

async fn until_running(exec: &Executor, guid: &str) {
    loop {
        match exec.get(guid).map(|c| c.state) {
            Some(ContainerState::Running) => return,
            Some(ContainerState::Completed) => {
                panic!("{guid} completed: {:?}", exec.get(guid).unwrap().run_result)
            }
            _ => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

fn summary(label: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{label}: n={} p50={:.1}ms p99={:.1}ms max={:.1}ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(0.0)
    );
}

#[tokio::main]
async fn main() {
    if let Err(reason) = OciBackend::available() {
        eprintln!("oci_bench needs root and runc: {reason}");
        return;
    }
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (count, concurrency) = (
        args.first().copied().unwrap_or(100),
        args.get(1).copied().unwrap_or(10),
    );
    let backend = OciBackend::new(OciConfig::new("bench", 250));
    for guid in backend.list().await.unwrap() {
        backend.destroy(&guid).await.unwrap();
    }
    let cfg = ExecutorConfig {
        total: Resources {
            memory_mb: 64 * 1024,
            disk_mb: 64 * 1024,
            containers: 1000,
        },
        graceful_shutdown_interval_ms: 1000,
        ..ExecutorConfig::default()
    };
    let exec = Executor::new(backend.clone() as Arc<dyn Backend>, cfg);
    let guids: Vec<String> = (0..count).map(|i| format!("bench-{i:04}")).collect();
    let reqs = guids
        .iter()
        .map(|g| AllocationRequest {
            guid: g.clone(),
            memory_mb: 32,
            disk_mb: 64,
            ..Default::default()
        })
        .collect();
    assert!(exec.allocate(reqs).is_empty());

    let started = Instant::now();
    let create_ms: Vec<f64> = stream::iter(guids.clone())
        .map(|guid| {
            let exec = exec.clone();
            async move {
                let t = Instant::now();
                let mut req = RunRequest::new(Lifecycle::Lrp, Action::run("/bin/sleep", &["3600"]));
                req.ports = vec![8080];
                exec.run(&guid, req).await.unwrap();
                until_running(&exec, &guid).await;
                t.elapsed().as_secs_f64() * 1000.0
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let create_total = started.elapsed();

    let started = Instant::now();
    let delete_ms: Vec<f64> = stream::iter(guids)
        .map(|guid| {
            let exec = exec.clone();
            async move {
                let t = Instant::now();
                exec.delete(&guid).await.unwrap();
                t.elapsed().as_secs_f64() * 1000.0
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let delete_total = started.elapsed();

    println!("oci_bench: {count} busybox sleep containers (with one mapped port), concurrency {concurrency}");
    summary("create->running", create_ms);
    println!(
        "create->running total: {:.2}s ({:.1} containers/s)",
        create_total.as_secs_f64(),
        count as f64 / create_total.as_secs_f64()
    );
    summary("teardown (stop+destroy)", delete_ms);
    println!("teardown total: {:.2}s", delete_total.as_secs_f64());
}
