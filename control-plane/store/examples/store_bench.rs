//! Throughput and latency of the production store stack
//! (EncryptedStore over EmbeddedStore on a temp dir), with ActualLRP-sized
//! records.
//!
//! cargo run --release -p diego-store --example store_bench -- [--records 250000]
//!     [--tasks 64] [--batched 32000] [--singles 1000] [--cache-mib N] [--no-wal]

use std::sync::Arc;
use std::time::{Duration, Instant};

use diego_store::{EmbeddedOptions, EmbeddedStore, EncryptedStore, Keyring, Op, Store, Txn};

const RECORD_BYTES: usize = 350;
const BULK_TXN_RECORDS: usize = 1000;
const INSTANCES_PER_PROCESS: usize = 10;

struct Args {
    records: usize,
    tasks: usize,
    batched: usize,
    singles: usize,
    cache_mib: Option<usize>,
    wal: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        records: 250_000,
        tasks: 64,
        batched: 32_000,
        singles: 1000,
        cache_mib: None,
        wal: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || -> usize {
            let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
            v.parse()
                .unwrap_or_else(|_| panic!("{flag}: not a number: {v}"))
        };
        if flag == "--no-wal" {
            args.wal = false;
            continue;
        }
        match flag.as_str() {
            "--records" => args.records = value(),
            "--tasks" => args.tasks = value().max(1),
            "--batched" => args.batched = value(),
            "--singles" => args.singles = value().max(1),
            "--cache-mib" => args.cache_mib = Some(value()),
            other => panic!(
                "unknown flag {other} (--records, --tasks, --batched, --singles, --cache-mib, --no-wal)"
            ),
        }
    }
    args
}

fn process_guid(n: usize) -> String {
    // uuid-shaped, deterministic
    let h = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (h >> 20) & 0xfff,
        h & 0xffff_ffff_ffff
    )
}

fn key(n: usize) -> String {
    let guid = process_guid(n / INSTANCES_PER_PROCESS);
    format!("actual/{guid}/{:010}/0", n % INSTANCES_PER_PROCESS)
}

/// Bytes shaped like a protobuf ActualLRP: guids, cell, address, ports,
/// state, timestamps, padded to RECORD_BYTES.
fn actual_lrp(n: usize, generation: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_BYTES);
    let mut field = |tag: u8, bytes: &[u8]| {
        out.push(tag << 3 | 2);
        out.push(bytes.len() as u8);
        out.extend_from_slice(bytes);
    };
    let guid = process_guid(n / INSTANCES_PER_PROCESS);
    field(1, guid.as_bytes());
    field(2, format!("{}", n % INSTANCES_PER_PROCESS).as_bytes());
    field(3, b"cf-apps");
    field(4, process_guid(n ^ 0x5555).as_bytes());
    field(5, format!("cell-z1-{:04}", n % 200).as_bytes());
    field(6, format!("10.0.{}.{}", n % 250, n % 200).as_bytes());
    field(7, b"8080:61001,2222:61002");
    field(8, b"RUNNING");
    field(9, &generation.to_le_bytes());
    field(10, b"z1");
    field(11, process_guid(n ^ 0xaaaa).as_bytes());
    let mut filler = n as u64 ^ generation;
    while out.len() < RECORD_BYTES {
        filler = filler.wrapping_mul(6364136223846793005).wrapping_add(1);
        out.push((filler >> 56) as u8);
    }
    out.truncate(RECORD_BYTES);
    out
}

fn put(n: usize, generation: u64) -> Op {
    Op::Put {
        key: key(n),
        value: actual_lrp(n, generation),
    }
}

/// A ~100-byte domain event, as the BBS logs with every change.
fn event(n: usize) -> Vec<u8> {
    format!(
        "actual_lrp_changed {} {} RUNNING->RUNNING",
        key(n),
        process_guid(n ^ 0x5555)
    )
    .into_bytes()
}

fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("store.redb");
    let mut opts = EmbeddedOptions::default();
    if let Some(mib) = args.cache_mib {
        opts.cache_size_bytes = mib << 20;
    }
    opts.write_ahead_log = args.wal;
    let keyring = Keyring::generate();
    let embedded = EmbeddedStore::open(&db, opts.clone()).expect("open store");
    let store = Arc::new(EncryptedStore::new(embedded, keyring.clone()));
    let mut rows: Vec<(String, String)> = Vec::new();
    println!(
        "store_bench: {} records of {RECORD_BYTES} bytes in {} (write-ahead log {})",
        args.records,
        db.display(),
        if args.wal { "on" } else { "off" }
    );

    // 1. bulk load, one txn of 1000 puts at a time
    let started = Instant::now();
    for chunk_start in (0..args.records).step_by(BULK_TXN_RECORDS) {
        let end = (chunk_start + BULK_TXN_RECORDS).min(args.records);
        let txn = Txn {
            ops: (chunk_start..end).map(|n| put(n, 1)).collect(),
            ..Txn::default()
        };
        store.commit(txn).await.expect("bulk commit");
    }
    let bulk = started.elapsed();
    let rate = args.records as f64 / bulk.as_secs_f64();
    rows.push((
        "bulk load (txns of 1000 puts)".into(),
        format!("{rate:.0} records/s ({:.2} s)", bulk.as_secs_f64()),
    ));

    // 2. list everything
    let started = Instant::now();
    let (all, revision) = store.scan_prefix("actual/").await.expect("scan");
    let list = started.elapsed();
    assert_eq!(all.len(), args.records, "scan sees every record");
    drop(all);
    rows.push((
        "list all (scan_prefix actual/)".into(),
        format!(
            "{:.1} ms ({} records, rev {revision})",
            ms(list),
            args.records
        ),
    ));

    // again, now that the engine cache is warm
    let started = Instant::now();
    let (all, _) = store.scan_prefix("actual/").await.expect("scan");
    let warm = started.elapsed();
    drop(all);
    rows.push((
        "list all again (warm engine cache)".into(),
        format!("{:.1} ms", ms(warm)),
    ));

    // the same scan without decryption, to separate engine and crypto cost
    let started = Instant::now();
    let (raw, _) = store
        .inner()
        .scan_prefix("actual/")
        .await
        .expect("raw scan");
    let raw_list = started.elapsed();
    drop(raw);
    rows.push((
        "  same scan, engine only (no decrypt)".into(),
        format!("{:.1} ms", ms(raw_list)),
    ));

    // 3. lone durable writes, one after another
    let mut latencies = Vec::with_capacity(args.singles);
    for i in 0..args.singles {
        let n = i % args.records.max(1);
        let txn = Txn {
            ops: vec![put(n, 2)],
            log: vec![event(n)],
            ..Txn::default()
        };
        let started = Instant::now();
        store.commit(txn).await.expect("single commit");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    rows.push((
        format!("single durable write ({} sequential)", args.singles),
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99)),
            ms(*latencies.last().unwrap())
        ),
    ));

    // 4. many concurrent writers, one record per txn, group-committed
    let per_task = args.batched / args.tasks;
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.tasks)
        .map(|t| {
            let store = store.clone();
            let records = args.records.max(1);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_task);
                for i in 0..per_task {
                    let n = (t * per_task + i) % records;
                    let txn = Txn {
                        ops: vec![put(n, 3)],
                        log: vec![event(n)],
                        ..Txn::default()
                    };
                    let began = Instant::now();
                    store.commit(txn).await.expect("batched commit");
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("writer task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let total = per_task * args.tasks;
    rows.push((
        format!(
            "batched: {} tasks x {per_task} single-record txns",
            args.tasks
        ),
        format!(
            "{:.0} records/s (commit p50 {:.2} ms, p99 {:.2} ms)",
            total as f64 / elapsed.as_secs_f64(),
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99))
        ),
    ));

    let (rss, hwm) = memory_mib();
    rows.push((
        "process memory".into(),
        format!("VmRSS {rss:.1} MiB, VmHWM {hwm:.1} MiB"),
    ));
    // a node that just restarted lists with a cold engine cache (the file
    // is still in the OS page cache)
    drop(store);
    let reopened = EmbeddedStore::open(&db, opts).expect("reopen store");
    let store = EncryptedStore::new(reopened, keyring);
    let started = Instant::now();
    let (all, _) = store.scan_prefix("actual/").await.expect("cold scan");
    let cold = started.elapsed();
    assert_eq!(all.len(), args.records, "cold scan sees every record");
    drop(all);
    rows.push((
        "list all after reopen (cold engine cache)".into(),
        format!("{:.1} ms", ms(cold)),
    ));

    let file_mib = std::fs::metadata(&db)
        .map(|m| m.len() as f64 / 1048576.0)
        .unwrap_or(f64::NAN);
    rows.push(("database file".into(), format!("{file_mib:.1} MiB")));

    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    println!("{:-<1$}", "", width + 50);
    for (what, figure) in rows {
        println!("{what:<width$}  {figure}");
    }
    println!("{:-<1$}", "", width + 50);
}
