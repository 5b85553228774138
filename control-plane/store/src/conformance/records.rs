//! Records, checks, atomicity, scans and revision numbering.

use super::{check, must_commit, must_conflict, ops, put, value_of};
use crate::{Expect, Op, Store, Txn};

pub async fn get_put_delete(store: &dyn Store) {
    let key = "conf/basic/a";
    assert_eq!(
        store.get(key).await.expect("get"),
        None,
        "missing key reads as none"
    );
    let rev1 = must_commit(store, ops(vec![put(key, b"one")]), "put").await;
    let got = store
        .get(key)
        .await
        .expect("get")
        .expect("put key is present");
    assert_eq!((got.key.as_str(), got.value.as_slice()), (key, &b"one"[..]));
    assert_eq!(
        got.mod_revision, rev1,
        "mod_revision is the writing commit's revision"
    );
    let rev2 = must_commit(store, ops(vec![put(key, b"two")]), "overwrite").await;
    let got = store.get(key).await.expect("get").expect("present");
    assert_eq!(
        (got.value.as_slice(), got.mod_revision),
        (&b"two"[..], rev2)
    );
    let empty = must_commit(store, ops(vec![put("conf/basic/empty", b"")]), "empty").await;
    let got = store
        .get("conf/basic/empty")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        (got.value.len(), got.mod_revision),
        (0, empty),
        "empty values are kept"
    );
    let delete = Op::Delete {
        key: key.to_string(),
    };
    must_commit(store, ops(vec![delete.clone()]), "delete").await;
    assert_eq!(
        store.get(key).await.expect("get"),
        None,
        "deleted key is gone"
    );
    must_commit(
        store,
        ops(vec![delete]),
        "delete of a missing key is not an error",
    )
    .await;
}

pub async fn expectations(store: &dyn Store) {
    let (k, other) = ("conf/expect/k", "conf/expect/other");
    let guarded = |expect: Expect, value: &[u8]| Txn {
        checks: vec![check(k, expect)],
        ops: vec![put(other, value)],
        log: vec![b"guarded".to_vec()],
    };
    must_conflict(
        store,
        guarded(Expect::Present, b"x"),
        k,
        "present on missing",
    )
    .await;
    must_conflict(
        store,
        guarded(Expect::ModRevision(1), b"x"),
        k,
        "mod rev on missing",
    )
    .await;
    must_conflict(
        store,
        guarded(Expect::ValueEquals(vec![]), b"x"),
        k,
        "equals on missing",
    )
    .await;
    assert_eq!(
        value_of(store, other).await,
        None,
        "failed txns wrote nothing"
    );

    let created = Txn {
        checks: vec![check(k, Expect::Absent)],
        ops: vec![put(k, b"v1")],
        log: vec![],
    };
    let rev = must_commit(store, created.clone(), "absent on missing").await;
    must_conflict(store, created, k, "absent on present").await;
    must_commit(store, guarded(Expect::Present, b"p"), "present on present").await;
    must_commit(
        store,
        guarded(Expect::ModRevision(rev), b"m"),
        "matching mod rev",
    )
    .await;
    must_conflict(
        store,
        guarded(Expect::ModRevision(rev + 1), b"x"),
        k,
        "stale mod",
    )
    .await;
    must_commit(
        store,
        guarded(Expect::ValueEquals(b"v1".to_vec()), b"e"),
        "equal",
    )
    .await;
    let unequal = guarded(Expect::ValueEquals(b"v2".to_vec()), b"x");
    must_conflict(store, unequal, k, "value differs").await;
    let prefix = guarded(Expect::ValueEquals(b"v".to_vec()), b"x");
    must_conflict(store, prefix, k, "value equals is exact, not a prefix").await;
    assert_eq!(value_of(store, other).await.as_deref(), Some(&b"e"[..]));
    assert_eq!(value_of(store, k).await.as_deref(), Some(&b"v1"[..]));
}

pub async fn multi_key_atomicity(store: &dyn Store) {
    let keys = ["conf/multi/a", "conf/multi/b", "conf/multi/c"];
    let create = Txn {
        checks: keys.iter().map(|k| check(k, Expect::Absent)).collect(),
        ops: keys.iter().map(|k| put(k, k.as_bytes())).collect(),
        log: vec![b"created".to_vec()],
    };
    let rev = must_commit(store, create, "multi-key create").await;
    for k in keys {
        let got = store.get(k).await.expect("get").expect("all keys written");
        assert_eq!(
            got.mod_revision, rev,
            "every key of a txn shares its revision"
        );
    }
    let log_before = store.log_since(rev, 100).await.expect("log_since").len();
    let half_valid = Txn {
        checks: vec![
            check(keys[0], Expect::ModRevision(rev)),
            check("conf/multi/missing", Expect::Present),
        ],
        ops: vec![
            put(keys[0], b"changed"),
            Op::Delete {
                key: keys[1].to_string(),
            },
            put("conf/multi/new", b"new"),
        ],
        log: vec![b"must not appear".to_vec()],
    };
    must_conflict(store, half_valid, "conf/multi/missing", "one failed check").await;
    assert_eq!(
        value_of(store, keys[0]).await.as_deref(),
        Some(keys[0].as_bytes())
    );
    assert!(
        value_of(store, keys[1]).await.is_some(),
        "delete was not applied"
    );
    assert_eq!(
        value_of(store, "conf/multi/new").await,
        None,
        "put was not applied"
    );
    let log_after = store.log_since(rev, 100).await.expect("log_since").len();
    assert_eq!(log_before, log_after, "a failed txn writes no log entry");

    let mixed = ops(vec![
        put(keys[0], b"changed"),
        Op::Delete {
            key: keys[1].to_string(),
        },
        put("conf/multi/new", b"new"),
    ]);
    let rev2 = must_commit(store, mixed, "mixed ops").await;
    let a = store.get(keys[0]).await.expect("get").expect("present");
    assert_eq!(
        (a.value.as_slice(), a.mod_revision),
        (&b"changed"[..], rev2)
    );
    assert_eq!(value_of(store, keys[1]).await, None);
    assert_eq!(
        value_of(store, "conf/multi/new").await.as_deref(),
        Some(&b"new"[..])
    );
}

pub async fn scan_prefix(store: &dyn Store) {
    let inside = [
        "conf/scan/p/b/2",
        "conf/scan/p/",
        "conf/scan/p/a/10",
        "conf/scan/p/a/1",
        "conf/scan/p/b/1",
    ];
    // neighbours that sort right before and after the prefix
    let outside = [
        "conf/scan/p",
        "conf/scan/o/z",
        "conf/scan/p0",
        "conf/scan/q/",
        "conf/scan/pa",
    ];
    for k in inside.iter().chain(outside.iter()) {
        must_commit(store, ops(vec![put(k, k.as_bytes())]), "scan seed").await;
    }
    let (records, revision) = store
        .scan_prefix("conf/scan/p/")
        .await
        .expect("scan_prefix");
    let mut want: Vec<&str> = inside.to_vec();
    want.sort();
    let got: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(got, want, "scan returns exactly the prefix, in key order");
    for r in &records {
        assert_eq!(r.value, r.key.as_bytes(), "scan returns each key's value");
        assert!(
            r.mod_revision <= revision,
            "scan revision covers every record"
        );
    }
    let current = store.current_revision().await.expect("current_revision");
    assert_eq!(
        revision, current,
        "scan revision is the snapshot's (here the newest)"
    );
    let sealed = store
        .scan_prefix_sealed("conf/scan/p/")
        .await
        .expect("scan_prefix_sealed");
    assert_eq!(
        sealed.revision, revision,
        "a sealed scan reads the same snapshot"
    );
    let mut opened = sealed.records.clone();
    for r in &mut opened {
        sealed.open(r).expect("open a sealed record");
    }
    assert_eq!(opened, records, "a sealed scan, opened, is the plain scan");
    let (none, rev) = store
        .scan_prefix("conf/scan/none/")
        .await
        .expect("scan_prefix");
    assert!(none.is_empty(), "a prefix with no keys scans empty");
    assert_eq!(rev, current);
    let (all, _) = store.scan_prefix("").await.expect("scan_prefix");
    let all: Vec<&str> = all.iter().map(|r| r.key.as_str()).collect();
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "full scan is in key order"
    );
    assert!(inside.iter().chain(outside.iter()).all(|k| all.contains(k)));
}

pub async fn revisions_step_by_one(store: &dyn Store) {
    let mut last = store.current_revision().await.expect("current_revision");
    for i in 0..10u8 {
        let key = format!("conf/rev/{}", i % 3);
        let rev = must_commit(store, ops(vec![put(&key, &[i])]), "step").await;
        assert_eq!(
            rev,
            last + 1,
            "each successful commit takes the next revision"
        );
        assert_eq!(
            store.current_revision().await.expect("current_revision"),
            rev
        );
        let conflicting = Txn {
            checks: vec![check(&key, Expect::Absent)],
            ..Txn::default()
        };
        must_conflict(store, conflicting, &key, "failed commits skip no revision").await;
        last = rev;
    }
    let rev = must_commit(store, Txn::default(), "an empty txn still commits").await;
    assert_eq!(rev, last + 1);
}
