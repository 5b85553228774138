//! Concurrent commits of every kind at once: each must get the result it
//! would have had alone, and the change log must hold each successful
//! commit once, at its revision, with no gap. Backends that group
//! concurrent commits into one engine transaction (etcd) are held to this.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{check, must_commit, ops, put};
use crate::{Expect, Revision, Store, StoreError, Txn};

const TASKS: usize = 48;
const HOT_KEYS: usize = 3;

/// What a task tried, and so what it must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Create a key nobody else touches: must succeed.
    CreateOwn,
    /// Create a key that exists from the start: must conflict on it.
    CreateTaken,
    /// Write its own key, guarded by the untouched key's true mod revision:
    /// must succeed.
    GuardedFresh,
    /// Same, with a stale mod revision: must conflict on the guard key.
    GuardedStale,
    /// Create one of a few shared keys: exactly one winner per key.
    CreateHot,
    /// Write its own key, guarded by the untouched key's value: must succeed.
    ValueGuarded,
}

const KINDS: [Kind; 6] = [
    Kind::CreateOwn,
    Kind::CreateTaken,
    Kind::GuardedFresh,
    Kind::GuardedStale,
    Kind::CreateHot,
    Kind::ValueGuarded,
];

const TAKEN: &str = "conf/mixed/taken";
const GUARD: &str = "conf/mixed/guard";

fn own_key(i: usize) -> String {
    format!("conf/mixed/own/{i:03}")
}

fn hot_index(i: usize) -> usize {
    (i / KINDS.len()) % HOT_KEYS
}

fn hot_key(i: usize) -> String {
    format!("conf/mixed/hot/{}", hot_index(i))
}

fn txn_for(i: usize, kind: Kind, guard_rev: Revision) -> Txn {
    let tag = format!("mixed/{i}").into_bytes();
    let (checks, key) = match kind {
        Kind::CreateOwn => (vec![check(&own_key(i), Expect::Absent)], own_key(i)),
        Kind::CreateTaken => (vec![check(TAKEN, Expect::Absent)], TAKEN.to_string()),
        Kind::GuardedFresh => (
            vec![check(GUARD, Expect::ModRevision(guard_rev))],
            own_key(i),
        ),
        Kind::GuardedStale => (
            vec![check(GUARD, Expect::ModRevision(guard_rev + 1_000))],
            own_key(i),
        ),
        Kind::CreateHot => (vec![check(&hot_key(i), Expect::Absent)], hot_key(i)),
        Kind::ValueGuarded => (
            vec![check(GUARD, Expect::ValueEquals(b"guard".to_vec()))],
            own_key(i),
        ),
    };
    Txn {
        checks,
        ops: vec![put(&key, &tag)],
        log: vec![tag],
    }
}

/// Many tasks commit at once, mixing commits that must succeed, must
/// conflict, and race each other.
pub async fn concurrent_mixed_commits(store: Arc<dyn Store>) {
    must_commit(&*store, ops(vec![put(TAKEN, b"first")]), "mixed setup").await;
    let guard_rev = must_commit(&*store, ops(vec![put(GUARD, b"guard")]), "mixed setup").await;
    let start = store.current_revision().await.expect("current_revision");
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let store = store.clone();
            let kind = KINDS[i % KINDS.len()];
            tokio::spawn(async move { (i, kind, store.commit(txn_for(i, kind, guard_rev)).await) })
        })
        .collect();
    // revision -> task
    let mut landed: BTreeMap<Revision, usize> = BTreeMap::new();
    let mut hot_winners = vec![0usize; HOT_KEYS];
    for task in tasks {
        let (i, kind, result) = task.await.expect("task panicked");
        match (kind, result) {
            (Kind::CreateOwn | Kind::GuardedFresh | Kind::ValueGuarded, Ok(rev)) => {
                assert!(
                    landed.insert(rev, i).is_none(),
                    "conformance: revision {rev} given twice"
                );
            }
            (Kind::CreateHot, Ok(rev)) => {
                hot_winners[hot_index(i)] += 1;
                assert!(
                    landed.insert(rev, i).is_none(),
                    "conformance: revision {rev} given twice"
                );
            }
            (Kind::CreateHot, Err(StoreError::Conflict { key })) => assert_eq!(key, hot_key(i)),
            (Kind::CreateTaken, Err(StoreError::Conflict { key })) => assert_eq!(key, TAKEN),
            (Kind::GuardedStale, Err(StoreError::Conflict { key })) => assert_eq!(key, GUARD),
            (kind, other) => panic!("conformance: mixed commit {i} ({kind:?}) got {other:?}"),
        }
    }
    assert_eq!(
        hot_winners,
        vec![1; HOT_KEYS],
        "conformance: exactly one racing create wins per key"
    );

    // every success took the next revision: no gap, nothing taken by a
    // conflict
    let end = store.current_revision().await.expect("current_revision");
    let expected: Vec<Revision> = (start + 1..=end).collect();
    assert_eq!(
        landed.keys().copied().collect::<Vec<_>>(),
        expected,
        "conformance: concurrent successes take consecutive revisions"
    );
    // the log holds each success once, at its revision, with its entry
    let log = store.log_since(start, TASKS * 2).await.expect("log_since");
    let logged: Vec<(Revision, Vec<Vec<u8>>)> =
        log.into_iter().map(|e| (e.revision, e.entries)).collect();
    let wanted: Vec<(Revision, Vec<Vec<u8>>)> = landed
        .iter()
        .map(|(&rev, &i)| (rev, vec![format!("mixed/{i}").into_bytes()]))
        .collect();
    assert_eq!(
        logged, wanted,
        "conformance: the change log holds every success once, in order"
    );
    // records carry the revision of the commit that wrote them
    for (&rev, &i) in &landed {
        let key = match KINDS[i % KINDS.len()] {
            Kind::CreateHot => hot_key(i),
            _ => own_key(i),
        };
        let record = store.get(&key).await.expect("get").expect("written key");
        assert_eq!(
            (record.mod_revision, record.value),
            (rev, format!("mixed/{i}").into_bytes()),
            "conformance: {key} holds the write of the commit at its revision"
        );
    }
    let taken = store.get(TAKEN).await.expect("get").expect("taken key");
    assert_eq!(
        taken.value, b"first",
        "conformance: a conflict wrote nothing"
    );
}
