//! Writes survive a SIGKILL of etcd; a dead etcd gives a clear error; a
//! 3-member cluster keeps committing with one member down.

mod common;

use std::time::Duration;

use diego_store::{Expect, Op, Store, StoreError, Txn};
use diego_store_etcd::{EtcdOptions, EtcdStore};

fn put(key: &str, value: &[u8]) -> Txn {
    Txn {
        ops: vec![Op::Put {
            key: key.to_string(),
            value: value.to_vec(),
        }],
        log: vec![value.to_vec()],
        ..Txn::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_survive_kill_9_and_restart() {
    let mut cluster = common::Cluster::single();
    let opts = EtcdOptions::default();
    let store = EtcdStore::connect(&cluster.endpoints(), "/durable", opts.clone())
        .await
        .expect("connect");
    let mut last = 0;
    for i in 0..20u32 {
        last = store
            .commit(put(&format!("k/{i}"), &i.to_be_bytes()))
            .await
            .expect("commit");
    }
    drop(store);
    cluster.members[0].kill();
    cluster.members[0].start();
    cluster.wait_healthy();

    let store = EtcdStore::connect(&cluster.endpoints(), "/durable", opts)
        .await
        .expect("reconnect");
    assert_eq!(store.current_revision().await.expect("revision"), last);
    let (records, revision) = store.scan_prefix("k/").await.expect("scan");
    assert_eq!((records.len(), revision), (20, last));
    let k7 = store.get("k/7").await.expect("get").expect("k/7 survived");
    assert_eq!(k7.value, 7u32.to_be_bytes());
    let log = store.log_since(0, 100).await.expect("log");
    assert_eq!(log.len(), 20, "every logged commit survived");
    let next = store.commit(put("k/after", b"x")).await.expect("commit");
    assert_eq!(next, last + 1, "the counter continues where it stopped");
}

#[tokio::test]
async fn unreachable_etcd_is_a_backend_error_naming_the_endpoint() {
    let endpoint = format!("http://127.0.0.1:{}", common::free_port());
    let opts = EtcdOptions {
        retry_budget: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(200),
        ..EtcdOptions::default()
    };
    match EtcdStore::connect(std::slice::from_ref(&endpoint), "/nowhere", opts).await {
        Err(StoreError::Backend(message)) => {
            assert!(
                message.contains(&endpoint),
                "message names the endpoint: {message}"
            )
        }
        Err(other) => panic!("expected a backend error, got {other}"),
        Ok(_) => panic!("connect to a closed port succeeded"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_prefix_share_revisions_and_wake_each_other() {
    let cluster = common::Cluster::single();
    let opts = EtcdOptions::default();
    let a = EtcdStore::connect(&cluster.endpoints(), "/shared", opts.clone())
        .await
        .expect("a");
    let b = EtcdStore::connect(&cluster.endpoints(), "/shared", opts)
        .await
        .expect("b");
    let mut seen_by_b = b.subscribe();
    let create = Txn {
        checks: vec![diego_store::Check {
            key: "lock".into(),
            expect: Expect::Absent,
        }],
        ..put("lock", b"a")
    };
    let first = a.commit(create.clone()).await.expect("a creates");
    match b.commit(create).await {
        Err(StoreError::Conflict { key }) => assert_eq!(key, "lock"),
        other => panic!("b must see a's key: {other:?}"),
    }
    let second = b.commit(put("other", b"b")).await.expect("b commits");
    assert_eq!(second, first + 1, "one revision sequence across writers");
    let third = a.commit(put("other", b"a")).await.expect("a after b");
    assert_eq!(
        third,
        second + 1,
        "a's cached revision was stale and it recovered"
    );
    tokio::time::timeout(Duration::from_secs(5), seen_by_b.wait_for(|r| *r >= third))
        .await
        .expect("b woken by a's commit within 5 s")
        .expect("sender alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_keep_committing_with_one_killed() {
    let mut cluster = common::Cluster::start(3);
    let store = EtcdStore::connect(&cluster.endpoints(), "/ha", EtcdOptions::default())
        .await
        .expect("connect");
    let before = store.commit(put("k/0", b"0")).await.expect("commit");
    // the first member is the one a fresh client is likeliest to use
    cluster.members[0].kill();
    let mut last = before;
    for i in 1..20u32 {
        last = store
            .commit(put(&format!("k/{i}"), b"v"))
            .await
            .expect("commit with one member down");
    }
    assert_eq!(
        last,
        before + 19,
        "no commit lost or doubled across the failover"
    );
    let (records, revision) = store.scan_prefix("k/").await.expect("scan");
    assert_eq!((records.len(), revision), (20, last));
    assert_eq!(
        store.log_since(before - 1, 100).await.expect("log").len(),
        20
    );
}
