//! Group commit against real etcd: concurrent commits from two stores on one
//! prefix (so batches also lose races to the other writer), a deposed
//! leader's batches, and batches in flight while an etcd member dies.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use diego_store::{Check, Expect, Op, Revision, Store, StoreError, Txn};
use diego_store_etcd::{connect_client, Election, EtcdOptions, EtcdStore};

fn put(key: &str, tag: &str) -> Op {
    Op::Put {
        key: key.to_string(),
        value: tag.as_bytes().to_vec(),
    }
}

fn check(key: &str, expect: Expect) -> Check {
    Check {
        key: key.to_string(),
        expect,
    }
}

/// etcd's own revision: it steps by one per etcd write transaction, so its
/// growth counts the transactions our commits took.
async fn etcd_revision(endpoints: &[String]) -> i64 {
    let mut client = connect_client(endpoints, &EtcdOptions::default())
        .await
        .expect("etcd client");
    let resp = client.get("/", None).await.expect("get");
    resp.header().expect("header").revision()
}

/// Follows `subscribe` + `log_since` like a BBS event watcher, collecting
/// every (revision, entry) until `until` is reached.
fn follow(
    store: Arc<EtcdStore>,
    from: Revision,
    until: Revision,
) -> tokio::task::JoinHandle<Vec<(Revision, Vec<u8>)>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut after = from;
        let mut newest = store.subscribe();
        while after < until {
            for entry in store.log_since(after, 1_000).await.expect("log_since") {
                after = entry.revision;
                seen.extend(entry.entries.into_iter().map(|e| (entry.revision, e)));
            }
            if after < until {
                let _ = tokio::time::timeout(Duration::from_millis(200), newest.changed()).await;
            }
        }
        seen
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_batch_mixed_commits_each_with_its_own_result() {
    mixed_commits(EtcdOptions::default()).await;
}

/// The same with up to four transactions in flight per store: each is
/// chained on the counter value the one before writes, so a lost race or a
/// failed check in one sends the ones behind it back to the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_writers_batch_mixed_commits_each_with_its_own_result() {
    mixed_commits(EtcdOptions {
        max_batches_in_flight: 4,
        ..EtcdOptions::default()
    })
    .await;
}

async fn mixed_commits(opts: EtcdOptions) {
    const PER_STORE: usize = 60;
    const HOT: usize = 4;
    let cluster = common::Cluster::single();
    let endpoints = cluster.endpoints();
    let a = Arc::new(
        EtcdStore::connect(&endpoints, "/mixed", opts.clone())
            .await
            .expect("a"),
    );
    let b = Arc::new(
        EtcdStore::connect(&endpoints, "/mixed", opts)
            .await
            .expect("b"),
    );
    a.commit(Txn {
        ops: vec![put("taken", "first"), put("guard", "guard")],
        ..Txn::default()
    })
    .await
    .expect("setup");
    let guard = a.get("guard").await.unwrap().expect("guard").mod_revision;
    let start = a.current_revision().await.unwrap();
    let etcd_before = etcd_revision(&endpoints).await;

    // (store, task) -> what it tried; every commit logs its own tag
    let mut tasks = Vec::new();
    for (s, store) in [&a, &b].into_iter().enumerate() {
        for i in 0..PER_STORE {
            let tag = format!("{s}/{i}");
            let own = format!("own/{tag}");
            let (checks, key) = match i % 5 {
                // must succeed (blind: existence check only)
                0 => (vec![check(&own, Expect::Absent)], own),
                // must conflict on "taken"
                1 => (vec![check("taken", Expect::Absent)], "taken".to_string()),
                // must succeed (judged on a read: mod revision)
                2 => (vec![check("guard", Expect::ModRevision(guard))], own),
                // must conflict on "guard"
                3 => (vec![check("guard", Expect::ModRevision(guard + 999))], own),
                // one winner per hot key across both stores
                _ => {
                    let hot = format!("hot/{}", (i / 5) % HOT);
                    (vec![check(&hot, Expect::Absent)], hot)
                }
            };
            let txn = Txn {
                checks,
                ops: vec![put(&key, &tag)],
                log: vec![tag.clone().into_bytes()],
            };
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                (tag, i % 5, key, store.commit(txn).await)
            }));
        }
    }
    let mut landed: BTreeMap<Revision, (String, String)> = BTreeMap::new();
    let mut hot_wins: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        let (tag, kind, key, result) = task.await.expect("task");
        match (kind, result) {
            (0 | 2 | 4, Ok(rev)) => {
                if kind == 4 {
                    *hot_wins.entry(key.clone()).or_default() += 1;
                }
                assert!(
                    landed.insert(rev, (tag, key)).is_none(),
                    "revision {rev} twice"
                );
            }
            (1, Err(StoreError::Conflict { key })) => assert_eq!(key, "taken"),
            (3, Err(StoreError::Conflict { key })) => assert_eq!(key, "guard"),
            (4, Err(StoreError::Conflict { key: failed })) => assert_eq!(failed, key),
            (kind, other) => panic!("commit {tag} (kind {kind}) got {other:?}"),
        }
    }
    assert_eq!(hot_wins.len(), HOT, "every hot key has a winner");
    assert!(
        hot_wins.values().all(|&n| n == 1),
        "one winner per hot key: {hot_wins:?}"
    );

    let end = a.current_revision().await.unwrap();
    assert_eq!(
        landed.keys().copied().collect::<Vec<_>>(),
        (start + 1..=end).collect::<Vec<_>>(),
        "successes of both writers take consecutive revisions; conflicts take none"
    );
    let log: Vec<(Revision, Vec<Vec<u8>>)> = b
        .log_since(start, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.revision, e.entries))
        .collect();
    let wanted: Vec<(Revision, Vec<Vec<u8>>)> = landed
        .iter()
        .map(|(rev, (tag, _))| (*rev, vec![tag.clone().into_bytes()]))
        .collect();
    assert_eq!(
        log, wanted,
        "the log holds each success once, at its revision"
    );
    for (rev, (tag, key)) in &landed {
        let record = b.get(key).await.unwrap().expect("written");
        assert_eq!(
            (record.mod_revision, record.value),
            (*rev, tag.clone().into_bytes())
        );
    }
    assert_eq!(a.get("taken").await.unwrap().unwrap().value, b"first");

    // a watcher on either store replays every event once, in order
    let replay = follow(a.clone(), start, end).await.expect("follower");
    let flat: Vec<(Revision, Vec<u8>)> = landed
        .iter()
        .map(|(rev, (tag, _))| (*rev, tag.clone().into_bytes()))
        .collect();
    assert_eq!(replay, flat);

    // fewer etcd write transactions than commits: they were grouped
    let etcd_writes = etcd_revision(&endpoints).await - etcd_before;
    println!(
        "{} commits in {etcd_writes} etcd write transactions",
        landed.len()
    );
    assert!(
        (etcd_writes as usize) < landed.len(),
        "{} commits took {etcd_writes} etcd transactions: not grouped",
        landed.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leaders_batched_writes_are_all_refused() {
    const TTL: Duration = Duration::from_secs(2);
    let cluster = common::Cluster::single();
    let endpoints = cluster.endpoints();
    let candidate = |name: &'static str| {
        let endpoints = endpoints.clone();
        async move {
            let client = connect_client(&endpoints, &EtcdOptions::default())
                .await
                .unwrap();
            Election::new(client, "/deposed/locks/bbs", name, TTL).unwrap()
        }
    };
    let leader_a = candidate("a").await.campaign().await;
    let store_a = Arc::new(
        EtcdStore::connect_fenced(
            &endpoints,
            "/deposed",
            EtcdOptions::default(),
            Some(leader_a.fence.clone()),
        )
        .await
        .unwrap(),
    );
    store_a
        .commit(Txn {
            ops: vec![put("existing", "a")],
            log: vec![b"a".to_vec()],
            ..Txn::default()
        })
        .await
        .expect("the leader writes");
    let existing = store_a.get("existing").await.unwrap().unwrap().mod_revision;

    // a stops renewing (a long pause); b takes the lock
    let b = candidate("b").await;
    drop(leader_a);
    let leader_b = tokio::time::timeout(Duration::from_secs(15), b.campaign())
        .await
        .expect("b takes over");

    // a wakes up with a burst of writes that would each succeed alone
    let before = store_a.current_revision().await.unwrap();
    let burst: Vec<_> = (0..40)
        .map(|i| {
            let store = store_a.clone();
            let key = format!("burst/{i}");
            let checks = match i % 4 {
                0 => vec![],
                1 => vec![check(&key, Expect::Absent)],
                2 => vec![check("existing", Expect::ModRevision(existing))],
                _ => vec![check("existing", Expect::Present)],
            };
            let txn = Txn {
                checks,
                ops: vec![put(&key, "late")],
                log: vec![b"late".to_vec()],
            };
            tokio::spawn(async move { store.commit(txn).await })
        })
        .collect();
    for commit in burst {
        match commit.await.unwrap() {
            Err(StoreError::Fenced(reason)) => {
                assert!(reason.contains("another leader"), "{reason}")
            }
            other => panic!("a deposed leader's write must be fenced, got {other:?}"),
        }
    }
    assert_eq!(store_a.current_revision().await.unwrap(), before);
    let (written, _) = store_a.scan_prefix("burst/").await.unwrap();
    assert!(
        written.is_empty(),
        "nothing of the burst landed: {written:?}"
    );
    assert_eq!(store_a.log_since(before, 100).await.unwrap(), vec![]);

    let store_b = EtcdStore::connect_fenced(
        &endpoints,
        "/deposed",
        EtcdOptions::default(),
        Some(leader_b.fence.clone()),
    )
    .await
    .unwrap();
    assert_eq!(
        store_b
            .commit(Txn {
                ops: vec![put("burst/0", "b")],
                ..Txn::default()
            })
            .await
            .unwrap(),
        before + 1,
        "the new leader writes on from where the old one stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_in_flight_when_a_member_dies_land_once() {
    member_dies_under_writers(EtcdOptions::default()).await;
}

/// With four chained transactions in flight when the member dies, several
/// can be in doubt at once, each landing only right after the one before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_batches_in_flight_when_a_member_dies_land_once() {
    member_dies_under_writers(EtcdOptions {
        max_batches_in_flight: 4,
        ..EtcdOptions::default()
    })
    .await;
}

async fn member_dies_under_writers(opts: EtcdOptions) {
    const WRITERS: usize = 12;
    const EACH: usize = 25;
    let mut cluster = common::Cluster::start(3);
    let endpoints = cluster.endpoints();
    let store = Arc::new(
        EtcdStore::connect(&endpoints, "/doubt", opts)
            .await
            .unwrap(),
    );
    let start = store.current_revision().await.unwrap();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for i in 0..EACH {
                    let tag = format!("{w}/{i}");
                    let txn = Txn {
                        checks: vec![check(&format!("k/{tag}"), Expect::Absent)],
                        ops: vec![put(&format!("k/{tag}"), &tag)],
                        log: vec![tag.clone().into_bytes()],
                    };
                    outcomes.push((tag, store.commit(txn).await));
                }
                outcomes
            })
        })
        .collect();
    // the first member is the one the client most likely talks to
    tokio::time::sleep(Duration::from_millis(150)).await;
    cluster.members[0].kill();

    let mut acknowledged = BTreeMap::new();
    let mut unknown = Vec::new();
    for writer in writers {
        for (tag, outcome) in writer.await.unwrap() {
            match outcome {
                Ok(rev) => assert!(acknowledged.insert(rev, tag).is_none(), "revision twice"),
                Err(StoreError::Backend(reason)) if reason.contains("outcome unknown") => {
                    unknown.push(tag)
                }
                Err(e) => panic!("commit {tag}: {e}"),
            }
        }
    }
    println!(
        "{} acknowledged, {} unknown",
        acknowledged.len(),
        unknown.len()
    );
    assert!(
        acknowledged.len() >= WRITERS * EACH / 2,
        "most commits got through"
    );
    let end = store.current_revision().await.unwrap();
    let log = store.log_since(start, 100_000).await.unwrap();
    let revisions: Vec<Revision> = log.iter().map(|e| e.revision).collect();
    assert_eq!(
        revisions,
        (start + 1..=end).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    let mut tags: Vec<Vec<u8>> = log.into_iter().flat_map(|e| e.entries).collect();
    for (rev, tag) in &acknowledged {
        let logged = store.log_since(rev - 1, 1).await.unwrap();
        assert_eq!(
            logged[0].entries,
            vec![tag.clone().into_bytes()],
            "acknowledged at its revision"
        );
    }
    let logged = tags.len();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), logged, "no commit applied twice");
    // an unknown outcome landed at most once: it is in the log or not
    assert!(logged >= acknowledged.len() && logged <= acknowledged.len() + unknown.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_commit_is_answered_while_others_keep_arriving() {
    const WRITERS: usize = 16;
    let cluster = common::Cluster::single();
    let store = Arc::new(
        EtcdStore::connect(&cluster.endpoints(), "/stream", EtcdOptions::default())
            .await
            .unwrap(),
    );
    store
        .commit(Txn {
            ops: vec![put("taken", "first")],
            ..Txn::default()
        })
        .await
        .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // a steady stream of creates that succeed, so every batch has new
    // arrivals besides the conflicting commit
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut done = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let key = format!("s/{w}/{done}");
                    store
                        .commit(Txn {
                            checks: vec![check(&key, Expect::Absent)],
                            ops: vec![put(&key, "v")],
                            log: vec![key.clone().into_bytes()],
                        })
                        .await
                        .expect("stream commit");
                    done += 1;
                }
                done
            })
        })
        .collect();
    for round in 0..20 {
        let clash = Txn {
            checks: vec![check("taken", Expect::Absent)],
            ops: vec![put("taken", "again")],
            log: vec![b"clash".to_vec()],
        };
        match tokio::time::timeout(Duration::from_secs(10), store.commit(clash)).await {
            Ok(Err(StoreError::Conflict { key })) => assert_eq!(key, "taken"),
            Ok(other) => panic!("round {round}: expected a conflict, got {other:?}"),
            Err(_) => panic!("round {round}: the conflicting commit was never answered"),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut streamed = 0;
    for writer in writers {
        streamed += writer.await.unwrap();
    }
    println!("{streamed} stream commits beside 20 conflicts");
    assert_eq!(
        store.current_revision().await.unwrap() as usize,
        1 + streamed,
        "every stream commit took one revision, no conflict took any"
    );
    assert_eq!(store.get("taken").await.unwrap().unwrap().value, b"first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_etcd_refuses_is_retried_commit_by_commit() {
    // our limits above the test etcd's --max-txn-ops=10000, so a batch of
    // commits that each fit can still be refused as a whole
    const COMMITS: usize = 40;
    const OPS: usize = 400;
    let cluster = common::Cluster::single();
    let opts = EtcdOptions {
        max_txn_ops: 1_000_000,
        max_txn_bytes: 64 * 1024 * 1024,
        ..EtcdOptions::default()
    };
    let store = Arc::new(
        EtcdStore::connect(&cluster.endpoints(), "/refused", opts)
            .await
            .unwrap(),
    );
    let start = store.current_revision().await.unwrap();
    let commits: Vec<_> = (0..COMMITS)
        .map(|c| {
            let store = store.clone();
            let ops = (0..OPS).map(|o| put(&format!("r/{c}/{o}"), "v")).collect();
            tokio::spawn(async move {
                let txn = Txn {
                    ops,
                    log: vec![format!("{c}").into_bytes()],
                    ..Txn::default()
                };
                store.commit(txn).await
            })
        })
        .collect();
    let mut revisions = Vec::new();
    for commit in commits {
        revisions.push(commit.await.unwrap().expect("each commit fits alone"));
    }
    revisions.sort_unstable();
    assert_eq!(
        revisions,
        (start + 1..=start + COMMITS as u64).collect::<Vec<_>>()
    );
    let (records, _) = store.scan_prefix("r/").await.unwrap();
    assert_eq!(
        records.len(),
        COMMITS * OPS,
        "every op of every commit landed"
    );
    assert_eq!(
        store.log_since(start, 1_000).await.unwrap().len(),
        COMMITS,
        "one log entry per commit"
    );

    // a commit etcd refuses alone gets its own error; the others land
    let too_big = Txn {
        ops: (0..10_001).map(|o| put(&format!("big/{o}"), "v")).collect(),
        ..Txn::default()
    };
    let small = Txn {
        ops: vec![put("small", "v")],
        ..Txn::default()
    };
    let (big, small) = tokio::join!(store.commit(too_big), store.commit(small));
    match big {
        Err(StoreError::Backend(reason)) => assert!(reason.contains("commit"), "{reason}"),
        other => panic!("etcd must refuse 10,001 ops, got {other:?}"),
    }
    small.expect("a commit beside a refused one lands");
}
