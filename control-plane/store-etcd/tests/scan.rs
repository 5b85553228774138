//! Paged scans against real etcd: pages grow from `scan_page_records` to
//! about `scan_page_bytes`, and every scan is one snapshot at the revision
//! it returns, even while commits land between its pages.

mod common;

use std::sync::Arc;

use diego_store::{Op, Store, Txn};
use diego_store_etcd::{EtcdOptions, EtcdStore};

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
