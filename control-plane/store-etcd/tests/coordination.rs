//! Leader election with fencing tokens and leased presences, against a real
//! etcd (issue 8 item 2).

mod common;

use std::time::{Duration, Instant};

use diego_coordination::Presences;
use diego_model::CellPresence;
use diego_store::{Op, Store, StoreError, Txn};
use diego_store_etcd::{connect_client, Election, EtcdOptions, EtcdPresences, EtcdStore};

const TTL: Duration = Duration::from_secs(2);

fn put(key: &str) -> Txn {
    Txn {
        ops: vec![Op::Put {
            key: key.to_string(),
            value: b"v".to_vec(),
        }],
        log: vec![b"v".to_vec()],
        ..Txn::default()
    }
}

async fn candidate(endpoints: &[String], name: &str) -> Election {
    let client = connect_client(endpoints, &EtcdOptions::default())
        .await
        .expect("etcd client");
    Election::new(client, "/fence/locks/bbs", name, TTL).expect("election")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leader_cannot_write() {
    let cluster = common::Cluster::single();
    let endpoints = cluster.endpoints();
    let a = candidate(&endpoints, "a").await;
    let b = candidate(&endpoints, "b").await;

    let leader_a = a.campaign().await;
    assert_eq!(a.holder().await.unwrap().as_deref(), Some("a"));
    let store_a = EtcdStore::connect_fenced(
        &endpoints,
        "/fence",
        EtcdOptions::default(),
        Some(leader_a.fence.clone()),
    )
    .await
    .expect("connect");
    store_a.commit(put("x")).await.expect("the leader writes");

    // b waits while a holds the lock
    let b_campaign = tokio::spawn(async move { b.campaign().await });
    tokio::time::sleep(TTL + Duration::from_millis(500)).await;
    assert!(!b_campaign.is_finished(), "b must not win a held lock");

    // a stops renewing without resigning (a crash or a long pause): its
    // lease runs out and b takes over with a larger token
    let fence_a = leader_a.fence.clone();
    drop(leader_a);
    let started = Instant::now();
    let leader_b = tokio::time::timeout(Duration::from_secs(15), b_campaign)
        .await
        .expect("b wins within the ttl and some")
        .expect("campaign task");
    println!("takeover after {:?}", started.elapsed());
    assert!(leader_b.fence.token > fence_a.token, "tokens grow");

    // a wakes up and tries to write: refused, and nothing changed
    let before = store_a.current_revision().await.unwrap();
    match store_a.commit(put("y")).await {
        Err(StoreError::Fenced(reason)) => {
            assert!(reason.contains("another leader"), "{reason}")
        }
        other => panic!("a deposed leader's write must be fenced, got {other:?}"),
    }
    assert!(store_a.get("y").await.unwrap().is_none());
    assert_eq!(store_a.current_revision().await.unwrap(), before);

    let store_b = EtcdStore::connect_fenced(
        &endpoints,
        "/fence",
        EtcdOptions::default(),
        Some(leader_b.fence.clone()),
    )
    .await
    .expect("connect");
    store_b
        .commit(put("y"))
        .await
        .expect("the new leader writes");

    // a clean resign hands over at once, not after the ttl
    let c = candidate(&endpoints, "c").await;
    let c_campaign = tokio::spawn(async move { c.campaign().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let resigned = Instant::now();
    leader_b.resign().await;
    let leader_c = tokio::time::timeout(Duration::from_secs(5), c_campaign)
        .await
        .expect("c wins right after the resign")
        .expect("campaign task");
    assert!(
        resigned.elapsed() < TTL,
        "a resign does not wait for the ttl"
    );
    match store_b.commit(put("z")).await {
        Err(StoreError::Fenced(reason)) => assert!(reason.contains("lock"), "{reason}"),
        other => panic!("after resigning, writes are fenced, got {other:?}"),
    }
    drop(leader_c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_learns_it_lost_the_lock() {
    let cluster = common::Cluster::single();
    let endpoints = cluster.endpoints();
    let a = candidate(&endpoints, "a").await;
    let mut leader = a.campaign().await;
    assert!(!leader.is_lost());
    // the lease is revoked behind its back (as when etcd expired it)
    let mut client = connect_client(&endpoints, &EtcdOptions::default())
        .await
        .unwrap();
    let lease = client
        .get("/fence/locks/bbs", None)
        .await
        .unwrap()
        .kvs()
        .first()
        .map(|kv| kv.lease())
        .expect("the lock key has a lease");
    client.lease_revoke(lease).await.unwrap();
    tokio::time::timeout(TTL * 2, leader.lost())
        .await
        .expect("the keepalive notices the lease is gone");
}

fn cell(id: &str) -> CellPresence {
    CellPresence {
        cell_id: id.into(),
        zone: "z1".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presences_expire_with_their_lease() {
    let cluster = common::Cluster::single();
    let endpoints = cluster.endpoints();
    let client = connect_client(&endpoints, &EtcdOptions::default())
        .await
        .unwrap();
    let presences = EtcdPresences::new(client.clone(), "/p");
    // a second reader (another bbs replica) sees the same set
    let other = EtcdPresences::new(client, "/p");

    presences.report(cell("c1"), TTL).await.unwrap();
    presences.report(cell("c2"), TTL).await.unwrap();
    let ids = |v: Vec<CellPresence>| v.into_iter().map(|c| c.cell_id).collect::<Vec<_>>();
    assert_eq!(ids(other.live().await.unwrap()), ["c1", "c2"]);

    let lost = other.lost().notified();
    tokio::pin!(lost);
    lost.as_mut().enable();
    // c1 keeps heartbeating, c2 stops
    let started = Instant::now();
    while started.elapsed() < TTL * 3 {
        presences.report(cell("c1"), TTL).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(ids(other.live().await.unwrap()), ["c1"]);
    tokio::time::timeout(Duration::from_secs(1), lost)
        .await
        .expect("the expiry was announced");

    presences.release("c1").await.unwrap();
    assert!(other.live().await.unwrap().is_empty());
}
