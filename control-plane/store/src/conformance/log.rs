//! Change log, compaction, watch wake-ups and concurrent writers.

use std::sync::Arc;
use std::time::Duration;

use super::{check, must_commit, must_conflict, ops, put};
use crate::{Expect, LogEntry, Store, StoreError, Txn};

fn logged(key: &str, entries: &[&[u8]]) -> Txn {
    Txn {
        ops: vec![put(key, b"v")],
        log: entries.iter().map(|e| e.to_vec()).collect(),
        ..Txn::default()
    }
}

pub async fn log_since(store: &dyn Store) {
    let start = store.current_revision().await.expect("current_revision");
    let mut want = Vec::new();
    for i in 0..5u8 {
        let entries: Vec<Vec<u8>> = (0..=i % 3).map(|j| vec![i, j]).collect();
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let revision = must_commit(store, logged("conf/log/k", &refs), "logged").await;
        want.push(LogEntry { revision, entries });
        if i == 2 {
            must_commit(store, ops(vec![put("conf/log/quiet", b"q")]), "unlogged").await;
            let failing = Txn {
                checks: vec![check("conf/log/k", Expect::Absent)],
                log: vec![b"never".to_vec()],
                ..Txn::default()
            };
            must_conflict(store, failing, "conf/log/k", "failed logged txn").await;
        }
    }
    let got = store.log_since(start, 100).await.expect("log_since");
    assert_eq!(
        got, want,
        "log_since returns every logged txn after the revision, in order"
    );
    let two = store.log_since(start, 2).await.expect("log_since");
    assert_eq!(two, want[..2], "limit caps the number of entries");
    let mid = want[2].revision;
    let rest = store.log_since(mid, 100).await.expect("log_since");
    assert_eq!(rest, want[3..], "entries strictly after the revision");
    let newest = store.current_revision().await.expect("current_revision");
    assert!(store
        .log_since(newest, 10)
        .await
        .expect("log_since")
        .is_empty());
    assert!(store
        .log_since(start, 0)
        .await
        .expect("log_since")
        .is_empty());
}

pub async fn compaction(store: &dyn Store) {
    let start = store.current_revision().await.expect("current_revision");
    let mut revs = Vec::new();
    for i in 0..6u8 {
        revs.push(must_commit(store, logged("conf/compact/k", &[&[i]]), "logged").await);
    }
    let upto = revs[2];
    store.compact_log(upto).await.expect("compact_log");
    match store.log_since(start, 100).await {
        Err(StoreError::Compacted { asked, .. }) => assert_eq!(asked, start),
        other => panic!("conformance: log_since before the compaction point: {other:?}"),
    }
    match store.log_since(upto - 1, 100).await {
        Err(StoreError::Compacted { .. }) => {}
        other => panic!("conformance: log_since just before the compaction point: {other:?}"),
    }
    let kept = store
        .log_since(upto, 100)
        .await
        .expect("log_since at the compaction point");
    let kept: Vec<_> = kept.iter().map(|e| e.revision).collect();
    assert_eq!(
        kept,
        revs[3..],
        "entries after the compaction point survive"
    );
    store
        .compact_log(revs[0])
        .await
        .expect("compacting to an older point is a no-op");
    assert!(
        store.log_since(upto, 100).await.is_ok(),
        "compaction never moves back"
    );
    let rev = must_commit(store, logged("conf/compact/k", &[b"after"]), "after").await;
    let tail = store.log_since(revs[5], 10).await.expect("log_since");
    assert_eq!(tail.len(), 1, "the log keeps growing after compaction");
    assert_eq!(tail[0].revision, rev);
}

pub async fn subscribe_wakes(store: &dyn Store) {
    let mut rx = store.subscribe();
    rx.borrow_and_update();
    let rev = must_commit(store, ops(vec![put("conf/watch/k", b"v")]), "watched").await;
    assert!(
        *rx.borrow() >= rev,
        "subscribe shows the revision once commit returned"
    );
    tokio::time::timeout(Duration::from_secs(5), rx.changed())
        .await
        .expect("conformance: subscriber not woken within 5 s of a commit")
        .expect("watch sender alive");
    assert!(*rx.borrow_and_update() >= rev);
    let late = store.subscribe();
    assert!(
        *late.borrow() >= rev,
        "a new subscriber starts at the newest revision"
    );
}

/// Many tasks race to create the same key: exactly one may win.
pub async fn concurrent_cas_one_winner(store: Arc<dyn Store>) {
    const TASKS: usize = 32;
    let key = "conf/race/key";
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let txn = Txn {
                    checks: vec![check(key, Expect::Absent)],
                    ops: vec![put(key, i.to_string().as_bytes())],
                    log: vec![],
                };
                (i, store.commit(txn).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("task panicked") {
            (i, Ok(_)) => winners.push(i),
            (_, Err(StoreError::Conflict { key: k })) => assert_eq!(k, key),
            (_, Err(e)) => panic!("conformance: racing commit failed oddly: {e}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {TASKS} racing creates wins"
    );
    let value = store
        .get(key)
        .await
        .expect("get")
        .expect("winner's key")
        .value;
    assert_eq!(
        value,
        winners[0].to_string().as_bytes(),
        "the winner's value stands"
    );
}

/// Read-modify-write loops on one counter lose no update.
pub async fn concurrent_increments(store: Arc<dyn Store>) {
    const TASKS: u64 = 8;
    const STEPS: u64 = 10;
    let key = "conf/counter";
    must_commit(&*store, ops(vec![put(key, &0u64.to_le_bytes())]), "counter").await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..STEPS {
                    loop {
                        let current = store.get(key).await.expect("get").expect("counter");
                        let n = u64::from_le_bytes(current.value[..8].try_into().expect("u64"));
                        let txn = Txn {
                            checks: vec![check(key, Expect::ModRevision(current.mod_revision))],
                            ops: vec![put(key, &(n + 1).to_le_bytes())],
                            log: vec![],
                        };
                        match store.commit(txn).await {
                            Ok(_) => break,
                            Err(StoreError::Conflict { .. }) => continue,
                            Err(e) => panic!("conformance: increment failed: {e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task panicked");
    }
    let value = store.get(key).await.expect("get").expect("counter").value;
    let n = u64::from_le_bytes(value[..8].try_into().expect("u64"));
    assert_eq!(n, TASKS * STEPS, "compare-and-swap loses no increment");
}
