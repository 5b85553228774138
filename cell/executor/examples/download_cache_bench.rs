//! The download cache's effect (ADR 0031): a ~20 MB droplet downloaded again
//! with a `cache_key` (revalidated, 304, served from disk) against without
//! (the whole body again), through the Download step on the fake backend and
//! at the fetch layer alone. Loopback HTTP, so the network is as fast as it
//! gets: on a real blobstore the gap is wider.
//!
//!     cargo run --release -p diego-executor --example download_cache_bench [size_mb] [runs]

#[path = "../tests/common/cache_server.rs"]
#[allow(dead_code)]
mod cache_server;

use std::time::{Duration, Instant};

use cache_server::{cache_server, Artifact};
use diego_backend_fake::FakeBackend;
use diego_executor::{
    AllocationRequest, ContainerState, DownloadCache, Executor, ExecutorConfig, Lifecycle,
    Resources, RunRequest,
};
use diego_model::{Action, DownloadAction};

/// A tgz of incompressible bytes, so the body on the wire is `size` bytes.
fn droplet(size: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "app/droplet.bin", &data[..])
        .unwrap();
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run_download(exec: &Executor, guid: &str, action: Action) -> Duration {
    let req = AllocationRequest {
        guid: guid.into(),
        memory_mb: 64,
        disk_mb: 64,
        ..Default::default()
    };
    assert!(exec.allocate(vec![req]).is_empty());
    let start = Instant::now();
    exec.run(guid, RunRequest::new(Lifecycle::Task, action))
        .await
        .unwrap();
    loop {
        let c = exec.get(guid).unwrap();
        if c.state == ContainerState::Completed {
            let r = c.run_result.unwrap();
            assert!(!r.failed, "{}", r.failure_reason);
            break;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let took = start.elapsed();
    exec.delete(guid).await.unwrap();
    took
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let size_mb: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let runs: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(7);
    let body = droplet(size_mb << 20);
    let server = cache_server(0).await;
    server.set(
        "/droplet.tgz",
        Artifact {
            body: body.clone(),
            etag: "\"droplet-v1\"".into(),
            ..Default::default()
        },
    );
    let url = server.url("/droplet.tgz");
    let dir = tempfile::tempdir().unwrap();
    let cfg = ExecutorConfig {
        total: Resources {
            memory_mb: 4096,
            disk_mb: 4096,
            containers: 10,
        },
        download_cache_dir: Some(dir.path().join("cache")),
        download_cache_max_bytes: 1 << 30,
        ..ExecutorConfig::default()
    };
    let exec = Executor::new(FakeBackend::new(), cfg);
    let action = |cache_key: &str| {
        Action::Download(DownloadAction {
            artifact: "droplet".into(),
            from: url.clone(),
            to: "/home/vcap".into(),
            cache_key: cache_key.into(),
            user: "vcap".into(),
            ..Default::default()
        })
    };
    println!(
        "download cache bench: {:.1} MB tgz over loopback, median of {runs}",
        body.len() as f64 / 1e6
    );

    // the Download step end to end (GET, extract, stream into the fake container)
    // one uncached run first as warm-up, then the two kinds interleaved
    run_download(&exec, "warm-up", action("")).await;
    let first = run_download(&exec, "c-first", action("droplet-v1")).await;
    let (mut uncached, mut cached) = (Vec::new(), Vec::new());
    for i in 0..runs {
        uncached.push(run_download(&exec, &format!("u{i}"), action("")).await);
        let bytes_before = server.body_bytes();
        cached.push(run_download(&exec, &format!("c{i}"), action("droplet-v1")).await);
        assert_eq!(
            server.body_bytes(),
            bytes_before,
            "a cached download transferred no body"
        );
    }
    let (u, c) = (median(uncached), median(cached));
    println!("step: without cache_key  {:>8.1} ms", ms(u));
    println!(
        "step: with cache_key     {:>8.1} ms (first, cold: {:.1} ms)",
        ms(c),
        ms(first)
    );
    println!("step: ratio without/with {:>8.2}x", ms(u) / ms(c));

    // the fetch layer alone: a plain GET of the body vs the cache's 304 + read from disk
    let http = reqwest::Client::new();
    let cache = DownloadCache::open(dir.path().join("fetch-cache"), 1 << 30).unwrap();
    cache.fetch(&http, &url, "k", ("", "")).await.unwrap();
    let (mut plain, mut hit) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let b = http.get(&url).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(b.len(), body.len());
        plain.push(t.elapsed());
        let t = Instant::now();
        let f = cache.fetch(&http, &url, "k", ("", "")).await.unwrap();
        assert_eq!((f.bytes.len(), f.transferred_bytes), (body.len(), 0));
        hit.push(t.elapsed());
    }
    let (p, h) = (median(plain), median(hit));
    println!("fetch: plain GET         {:>8.1} ms", ms(p));
    println!("fetch: cache 304 + read  {:>8.1} ms", ms(h));
    println!("fetch: ratio             {:>8.2}x", ms(p) / ms(h));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
