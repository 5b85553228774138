//! Paged scans against real etcd: pages grow from `scan_page_records` to
//! about `scan_page_bytes`, and every scan is one snapshot at the revision
//! it returns, even while commits land between its pages; and a page read
//! from a member that is behind falls back to a linearizable read.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use diego_store::{Op, Store, Txn};
use diego_store_etcd::{connect_client, EtcdOptions, EtcdStore};

const KEYS: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paged_scans_are_snapshots_while_commits_land() {
    let cluster = common::Cluster::single();
    let opts = EtcdOptions {
        // a first page of 7, then pages of about 40 records (~50 bytes each)
        scan_page_records: 7,
        scan_page_bytes: 2_000,
        ..EtcdOptions::default()
    };
    let store = Arc::new(
        EtcdStore::connect(&cluster.endpoints(), "/scan", opts)
            .await
            .expect("connect"),
    );
    let base = store.current_revision().await.unwrap();
    // one key per commit, so at revision base + n exactly n keys exist
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..KEYS {
                store
                    .commit(Txn {
                        ops: vec![Op::Put {
                            key: format!("s/{i:04}"),
                            value: vec![b'v'; 16],
                        }],
                        ..Txn::default()
                    })
                    .await
                    .expect("commit");
            }
        })
    };
    let mut scans = 0;
    loop {
        let done = writer.is_finished();
        let (records, revision) = store.scan_prefix("s/").await.expect("scan");
        let n = (revision - base) as usize;
        assert_eq!(
            records.len(),
            n,
            "a scan at revision {revision} sees {n} keys"
        );
        for (i, record) in records.iter().enumerate() {
            assert_eq!(record.key, format!("s/{i:04}"), "key order");
            assert_eq!(record.mod_revision, base + 1 + i as u64);
            assert_eq!(record.value, vec![b'v'; 16]);
        }
        scans += 1;
        if done {
            assert_eq!(n, KEYS);
            break;
        }
    }
    writer.await.unwrap();
    println!("{scans} scans while writing");
    assert!(scans > 1, "at least one scan overlapped the writes");
}

/// etcd answers a serializable read pinned to a revision its member has not
/// applied with `OutOfRange` "required revision is a future revision".
const OUT_OF_RANGE_READS: &str =
    "grpc_server_handled_total{grpc_code=\"OutOfRange\",grpc_method=\"Range\"";

fn put(key: String) -> Txn {
    Txn {
        ops: vec![Op::Put {
            key,
            value: vec![b'p'; 32],
        }],
        ..Txn::default()
    }
}

/// Three members, one partitioned off (a real cut of its peer traffic) after
/// some commits: it keeps answering serializable reads from its stale copy.
/// A scan whose pages land on it gets "future revision" (its counter read
/// was linearizable, on a member that is up to date) and must read those
/// pages linearizably instead, returning every record at the scan's
/// revision, not the stale member's view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_pages_from_a_member_behind_fall_back_to_linearizable_reads() {
    const BEFORE: usize = 40;
    const DURING: usize = 120;
    let (cluster, partitions, proxies) = common::Cluster::start_partitionable(3);
    let endpoints = cluster.endpoints();
    let mut client = connect_client(&endpoints, &EtcdOptions::default())
        .await
        .expect("etcd client");
    let members = client.member_list().await.expect("member list");
    let ids: Vec<String> = cluster
        .members
        .iter()
        .map(|m| {
            let id = members
                .members()
                .iter()
                .find(|info| info.name() == m.name)
                .expect("member listed")
                .id();
            format!("{id:x}")
        })
        .collect();
    for (proxy, id) in proxies.iter().zip(&ids) {
        proxy.set_owner(id);
    }
    // cut a follower, so the other two keep their leader and quorum
    let leader = format!("{:x}", client.status().await.expect("status").leader());
    let behind = ids.iter().position(|id| *id != leader).expect("a follower");
    let up: Vec<usize> = (0..3).filter(|&i| i != behind).collect();
    let up_endpoints: Vec<String> = up.iter().map(|&i| endpoints[i].clone()).collect();

    let writer = EtcdStore::connect(&up_endpoints, "/behind", EtcdOptions::default())
        .await
        .expect("writer");
    for i in 0..BEFORE {
        writer
            .commit(put(format!("p/{i:04}")))
            .await
            .expect("commit");
    }
    partitions.cut(&ids[behind], &proxies);
    for i in BEFORE..BEFORE + DURING {
        writer
            .commit(put(format!("p/{i:04}")))
            .await
            .expect("commit");
    }
    let newest = writer.current_revision().await.expect("revision");

    // the cut member really is behind: its own (serializable) view lags
    let mut stale = connect_client(&[endpoints[behind].clone()], &EtcdOptions::default())
        .await
        .expect("client of the member behind");
    let theirs = stale
        .get(
            "/",
            Some(etcd_client::GetOptions::new().with_serializable()),
        )
        .await
        .expect("serializable read on the member behind")
        .header()
        .expect("header")
        .revision();
    // (linearizable, on the members that are up: the cut one has no leader)
    let mut up_client = connect_client(&up_endpoints, &EtcdOptions::default())
        .await
        .expect("client of the members up");
    let ours = up_client
        .get("/", None)
        .await
        .expect("linearizable read")
        .header()
        .expect("header")
        .revision();
    assert!(
        theirs < ours,
        "the cut member is at etcd revision {theirs}, the cluster at {ours}"
    );

    // a reader on one member that is up and the one behind, in small pages
    let opts = EtcdOptions {
        scan_page_records: 5,
        scan_page_bytes: 400,
        // a linearizable read sent to the cut member never gets a leader:
        // give up on it quickly and retry (on the balanced channel)
        request_timeout: Duration::from_millis(500),
        retry_budget: Duration::from_secs(30),
        ..EtcdOptions::default()
    };
    let reader_endpoints = vec![endpoints[up[0]].clone(), endpoints[behind].clone()];
    let reader = EtcdStore::connect(&reader_endpoints, "/behind", opts)
        .await
        .expect("reader");
    let refused_before = cluster.members[behind].metric(OUT_OF_RANGE_READS);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut scans = 0;
    loop {
        let (records, revision) = reader.scan_prefix("p/").await.expect("scan");
        scans += 1;
        assert_eq!(revision, newest, "scan revision");
        assert_eq!(records.len(), BEFORE + DURING, "records in scan {scans}");
        for (i, record) in records.iter().enumerate() {
            assert_eq!(record.key, format!("p/{i:04}"));
            assert_eq!(record.mod_revision, i as u64 + 1);
            assert_eq!(record.value, vec![b'p'; 32]);
        }
        let refused = cluster.members[behind].metric(OUT_OF_RANGE_READS) - refused_before;
        if refused > 0.0 {
            println!("{scans} scans; the member behind refused {refused} page reads");
            break;
        }
        // the channel balances requests over both members; a page lands
        // on the one behind soon
        assert!(
            Instant::now() < deadline,
            "no page read reached the member behind in {scans} scans"
        );
    }
}
