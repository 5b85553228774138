//! Embedded vs etcd: desire-like single-record commits (latency p50/p99,
//! throughput with concurrent writers) and a list of many records on etcd.
//!
//! `DIEGO_ETCD_ENDPOINTS=http://127.0.0.1:2379 cargo run --release -p diego-store-etcd --example etcd_bench`
//! Optional: `BENCH_COMMITS` (default 500), `BENCH_WRITERS` (32), `BENCH_LIST` (250000),
//! `BENCH_IN_FLIGHT` (group-commit transactions in flight at once, default
//! `EtcdOptions::default()`'s; 1 is the one-at-a-time committer).

use std::sync::Arc;
use std::time::{Duration, Instant};

use diego_store::{Check, EmbeddedOptions, EmbeddedStore, Expect, Op, Store, Txn};
use diego_store_etcd::{EtcdOptions, EtcdStore};

const VALUE_BYTES: usize = 1_024;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What DesireTask does: create-if-absent one record plus its event.
fn desire(key: String) -> Txn {
    Txn {
        checks: vec![Check {
            key: key.clone(),
            expect: Expect::Absent,
        }],
        ops: vec![Op::Put {
            key,
            value: vec![7; VALUE_BYTES],
        }],
        log: vec![vec![1; 64]],
    }
}

struct Figures {
    p50_us: u128,
    p99_us: u128,
    commits_per_s: f64,
}

async fn measure(store: Arc<dyn Store>, name: &str, commits: usize, writers: usize) -> Figures {
    let mut latencies_us = Vec::with_capacity(commits);
    for i in 0..commits {
        let started = Instant::now();
        store
            .commit(desire(format!("seq/{i}")))
            .await
            .expect("commit");
        latencies_us.push(started.elapsed().as_micros());
    }
    latencies_us.sort_unstable();
    let at = |q: f64| latencies_us[((latencies_us.len() - 1) as f64 * q) as usize];
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..commits / writers {
                    store
                        .commit(desire(format!("par/{w}/{i}")))
                        .await
                        .expect("commit");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer");
    }
    let elapsed = started.elapsed();
    let figures = Figures {
        p50_us: at(0.5),
        p99_us: at(0.99),
        commits_per_s: (commits / writers * writers) as f64 / elapsed.as_secs_f64(),
    };
    println!(
        "{name:>8}: single commit p50 {} us, p99 {} us; {writers} writers: {:.0} commits/s",
        figures.p50_us, figures.p99_us, figures.commits_per_s
    );
    figures
}

async fn list(store: &EtcdStore, small_pages: &EtcdStore, records: usize) {
    const PER_TXN: usize = 1_000;
    let started = Instant::now();
    for batch in (0..records).step_by(PER_TXN) {
        let ops = (batch..(batch + PER_TXN).min(records))
            .map(|i| Op::Put {
                key: format!("list/{i:08}"),
                value: vec![3; 256],
            })
            .collect();
        let txn = Txn {
            ops,
            ..Txn::default()
        };
        store.commit(txn).await.expect("seed commit");
    }
    println!(
        "    etcd: seeded {records} records in {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let (found, _) = store.scan_prefix("list/").await.expect("scan");
    assert_eq!(found.len(), records);
    let took: Duration = started.elapsed();
    println!(
        "    etcd: listed {records} records in {} ms ({:.0} records/s)",
        took.as_millis(),
        records as f64 / took.as_secs_f64()
    );
    // the same scan in fixed pages of `scan_page_records` (the page size
    // before pages were sized by bytes): shows what the page size costs
    let started = Instant::now();
    let (found, _) = small_pages.scan_prefix("list/").await.expect("scan");
    assert_eq!(found.len(), records);
    println!(
        "    etcd: listed {records} records in fixed {}-record pages in {} ms",
        EtcdOptions::default().scan_page_records,
        started.elapsed().as_millis()
    );
}

#[tokio::main]
async fn main() {
    let endpoints: Vec<String> = std::env::var("DIEGO_ETCD_ENDPOINTS")
        .expect("set DIEGO_ETCD_ENDPOINTS, e.g. http://127.0.0.1:2379")
        .split(',')
        .map(str::to_string)
        .collect();
    let commits = env_usize("BENCH_COMMITS", 500);
    let writers = env_usize("BENCH_WRITERS", 32).max(1);
    let records = env_usize("BENCH_LIST", 250_000);

    let embedded = EmbeddedStore::open_temp(EmbeddedOptions::default()).expect("embedded");
    let embedded = measure(Arc::new(embedded), "embedded", commits, writers).await;
    let prefix = format!("/bench-{}", std::process::id());
    let opts = EtcdOptions {
        max_batches_in_flight: env_usize(
            "BENCH_IN_FLIGHT",
            EtcdOptions::default().max_batches_in_flight,
        ),
        ..EtcdOptions::default()
    };
    println!(
        "etcd: {} transactions in flight",
        opts.max_batches_in_flight
    );
    let etcd = EtcdStore::connect(&endpoints, &prefix, opts)
        .await
        .expect("connect");
    let etcd = Arc::new(etcd);
    let remote = measure(etcd.clone(), "etcd", commits, writers).await;
    println!(
        "   ratio: etcd/embedded p50 {:.2}x, p99 {:.2}x, throughput {:.2}x",
        remote.p50_us as f64 / embedded.p50_us.max(1) as f64,
        remote.p99_us as f64 / embedded.p99_us.max(1) as f64,
        remote.commits_per_s / embedded.commits_per_s
    );
    let small_pages = EtcdOptions {
        scan_page_bytes: 0,
        ..EtcdOptions::default()
    };
    let small_pages = EtcdStore::connect(&endpoints, &prefix, small_pages)
        .await
        .expect("connect");
    list(&etcd, &small_pages, records).await;
}
