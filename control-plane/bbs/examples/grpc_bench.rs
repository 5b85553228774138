//! The BBS over gRPC on loopback, on an encrypted embedded store in a temp
//! dir: DesireTask and StartActualLrp round trips, a 250,000-row ActualLrps
//! list, and the process's peak RSS.
//!
//! cargo run --release -p diego-bbs --example grpc_bench

use std::sync::Arc;
use std::time::{Duration, Instant};

use diego_bbs::grpc::{serve, BbsGrpc, DecisionLog, ServeOptions};
use diego_bbs::{codec, keys, Bbs, BbsConfig, NoAuctioneer, StaticCells, SystemClock};
use diego_model::{
    Action, ActualLrp, ActualLrpKey, ActualState, DesiredLrp, InstanceKey, ModificationTag,
    NetInfo, Presence, RunningInfo, TaskDefinition,
};
use diego_proto::bbs::v1 as pb;
use diego_proto::bbs::v1::bbs_client::BbsClient;
use diego_store::{open_local, AtRest, EmbeddedOptions, Op, Txn};
use prost::Message;

const TASKS: usize = 2_000;
const STARTS: i32 = 2_000;
const LIST_ROWS: usize = 250_000;
const BATCH: usize = 1_000;
const ROWS_PER_LRP: usize = 1_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn row(table: &mut Vec<(String, String)>, name: &str, value: String) {
    table.push((name.to_string(), value));
}

/// Round-trip times of `n` sequential calls: (p50, p99, total).
async fn timed<F, Fut>(n: usize, mut call: F) -> (Duration, Duration, Duration)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        call(i).await;
        times.push(t.elapsed());
    }
    let total = start.elapsed();
    times.sort();
    (percentile(&times, 0.50), percentile(&times, 0.99), total)
}

fn bulk_row(pg: &str, index: i32, now: i64) -> ActualLrp {
    ActualLrp {
        key: ActualLrpKey::new(pg, index, "bench"),
        instance_key: InstanceKey::new(&format!("{pg}-{index}"), &format!("cell-{}", index % 50)),
        net_info: NetInfo {
            address: format!("10.0.{}.{}", index / 250, index % 250),
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

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_local(dir.path(), AtRest::Encrypted, EmbeddedOptions::default())
        .expect("open the store");
    let bbs = Bbs::new(
        store.clone(),
        Arc::new(SystemClock),
        Arc::new(NoAuctioneer),
        Arc::new(StaticCells::default()),
        BbsConfig::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let grpc = BbsGrpc::new(bbs.clone(), Arc::new(DecisionLog::default()));
    tokio::spawn(serve(
        grpc,
        listener,
        ServeOptions::default(),
        std::future::pending(),
    ));
    let client = diego_sdk::Client::connect(&url, None).await.unwrap();
    let mut table = Vec::new();

    let def = TaskDefinition {
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(Action::run("/bin/true", &[])),
        memory_mb: 64,
        ..Default::default()
    };
    let (p50, p99, total) = timed(TASKS, |i| {
        let (c, def) = (client.clone(), def.clone());
        async move {
            c.desire_task(&format!("task-{i}"), "bench", def)
                .await
                .unwrap()
        }
    })
    .await;
    row(&mut table, "DesireTask x2000 p50", ms(p50));
    row(&mut table, "DesireTask x2000 p99", ms(p99));
    let rate = TASKS as f64 / total.as_secs_f64();
    row(
        &mut table,
        "DesireTask sequential rate",
        format!("{rate:.0} /s"),
    );

    // Claimed actuals prepared through the Bbs API, started over gRPC.
    let lrp = DesiredLrp {
        process_guid: "starts".into(),
        domain: "bench".into(),
        root_fs: "preloaded:cflinuxfs4".into(),
        instances: STARTS,
        action: Some(Action::run("/bin/server", &[])),
        ..Default::default()
    };
    bbs.desire_lrp(lrp).await.unwrap();
    let ik = |i: i32| InstanceKey::new(&format!("starts-{i}"), "cell-1");
    for i in 0..STARTS {
        bbs.claim_actual_lrp("starts", i, &ik(i)).await.unwrap();
    }
    let info = RunningInfo {
        net_info: NetInfo {
            address: "10.1.0.1".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let (p50, p99, _) = timed(STARTS as usize, |i| {
        let (c, info) = (client.clone(), info.clone());
        let i = i as i32;
        async move {
            let key = ActualLrpKey::new("starts", i, "bench");
            c.start_actual_lrp(&key, &ik(i), &info).await.unwrap()
        }
    })
    .await;
    row(&mut table, "StartActualLrp x2000 p50", ms(p50));
    row(&mut table, "StartActualLrp x2000 p99", ms(p99));

    // 250,000 running rows written straight into the store.
    let now = bbs.clock().now_ns();
    let load = Instant::now();
    let mut txn = Txn::default();
    for n in 0..LIST_ROWS {
        let pg = format!("bulk-{:04}", n / ROWS_PER_LRP);
        let index = (n % ROWS_PER_LRP) as i32;
        txn.ops.push(Op::Put {
            key: keys::actual(&pg, index, Presence::Ordinary),
            value: codec::encode(&bulk_row(&pg, index, now)),
        });
        if txn.ops.len() == BATCH {
            store.commit(std::mem::take(&mut txn)).await.unwrap();
        }
    }
    if !txn.ops.is_empty() {
        store.commit(txn).await.unwrap();
    }
    let load = load.elapsed();
    let rate = LIST_ROWS as f64 / load.as_secs_f64();
    row(
        &mut table,
        "bulk load 250k actual rows",
        format!("{} ({rate:.0} rows/s)", ms(load)),
    );

    let expected = LIST_ROWS + STARTS as usize;
    let mut raw = BbsClient::connect(url.clone())
        .await
        .unwrap()
        .max_decoding_message_size(usize::MAX);
    let t = Instant::now();
    let resp = raw
        .actual_lrps(pb::ActualLrpsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let raw_time = t.elapsed();
    assert_eq!(resp.actual_lrps.len(), expected);
    let bytes = resp.encoded_len();
    drop(resp);
    row(&mut table, "ActualLrps 252k rows, wire types", ms(raw_time));
    let t = Instant::now();
    let rows = client
        .actual_lrps(diego_sdk::ActualFilter::default())
        .await
        .unwrap();
    let sdk_time = t.elapsed();
    assert_eq!(rows.len(), expected);
    drop(rows);
    row(
        &mut table,
        "ActualLrps 252k rows, sdk (domain types)",
        ms(sdk_time),
    );
    let mib = bytes as f64 / (1024.0 * 1024.0);
    row(
        &mut table,
        "ActualLrps message size",
        format!("{mib:.1} MiB ({} B/row)", bytes / expected),
    );
    row(
        &mut table,
        "peak RSS (VmHWM)",
        format!("{:.0} MiB", peak_rss_kib() as f64 / 1024.0),
    );

    let width = table.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    println!("{:width$}  value", "measure");
    println!("{}", "-".repeat(width + 24));
    for (name, value) in &table {
        println!("{name:width$}  {value}");
    }
}
