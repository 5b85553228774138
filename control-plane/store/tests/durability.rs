//! Acknowledged commits survive a crash; revisions and compaction persist;
//! automatic retention trims the log.

use std::path::Path;
use std::process::Command;

use diego_store::{EmbeddedOptions, EmbeddedStore, Op, Store, StoreError, Txn};

const CHILD_ENV: &str = "DIEGO_STORE_CRASH_CHILD_DB";
const CHILD_COMMITS: u64 = 50;

fn put_txn(key: &str, value: &[u8]) -> Txn {
    Txn {
        ops: vec![Op::Put {
            key: key.to_string(),
            value: value.to_vec(),
        }],
        log: vec![value.to_vec()],
        ..Txn::default()
    }
}

/// In the child process: commit, report, then die without any cleanup.
async fn crash_child(db: &Path) {
    let store = EmbeddedStore::open(db, EmbeddedOptions::default()).unwrap();
    for i in 0..CHILD_COMMITS {
        let rev = store
            .commit(put_txn(&format!("crash/{i:04}"), &i.to_le_bytes()))
            .await
            .unwrap();
        println!("acked {rev}");
    }
    // abort skips destructors, buffered writers and the writer-thread join:
    // only what commit made durable is on disk
    std::process::abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_commits_survive_a_crash() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        crash_child(Path::new(&db)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.redb");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "acknowledged_commits_survive_a_crash",
            "--nocapture",
        ])
        .env(CHILD_ENV, &db)
        .output()
        .unwrap();
    assert!(!out.status.success(), "child was meant to abort");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let acked: Vec<u64> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("acked "))
        .map(|n| n.trim().parse().unwrap())
        .collect();
    assert_eq!(acked.len() as u64, CHILD_COMMITS, "child output: {stdout}");

    let store = EmbeddedStore::open(&db, EmbeddedOptions::default()).unwrap();
    let last = *acked.last().unwrap();
    assert_eq!(store.current_revision().await.unwrap(), last);
    let (records, rev) = store.scan_prefix("crash/").await.unwrap();
    assert_eq!(rev, last);
    assert_eq!(records.len() as u64, CHILD_COMMITS);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.value, (i as u64).to_le_bytes());
        assert_eq!(r.mod_revision, acked[i]);
    }
    assert_eq!(
        store.log_since(0, 1000).await.unwrap().len() as u64,
        CHILD_COMMITS
    );
    let next = store.commit(put_txn("after/crash", b"x")).await.unwrap();
    assert_eq!(next, last + 1, "revisions continue after reopen");
}

#[tokio::test]
async fn revision_and_compaction_point_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested/dir/store.redb");
    {
        let store = EmbeddedStore::open(&db, EmbeddedOptions::default()).unwrap();
        for i in 0..10u8 {
            store.commit(put_txn("k", &[i])).await.unwrap();
        }
        store.compact_log(4).await.unwrap();
    }
    let store = EmbeddedStore::open(&db, EmbeddedOptions::default()).unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 10);
    assert!(matches!(
        store.log_since(3, 10).await,
        Err(StoreError::Compacted {
            asked: 3,
            oldest: 4
        })
    ));
    assert_eq!(store.log_since(4, 100).await.unwrap().len(), 6);
    assert_eq!(*store.subscribe().borrow(), 10);
}

#[tokio::test]
async fn automatic_retention_keeps_the_newest_revisions() {
    let opts = EmbeddedOptions {
        log_retention_revisions: 20,
        ..EmbeddedOptions::default()
    };
    let store = EmbeddedStore::in_memory(opts).unwrap();
    for i in 0..200u32 {
        store.commit(put_txn("k", &i.to_le_bytes())).await.unwrap();
    }
    // at least the newest 20 remain readable...
    let tail = store.log_since(180, 100).await.unwrap();
    assert_eq!(tail.len(), 20);
    // ...and the old ones were trimmed, within the slack of one step
    let err = store.log_since(0, 10).await.unwrap_err();
    match err {
        StoreError::Compacted { oldest, .. } => assert!((160..=180).contains(&oldest), "{oldest}"),
        other => panic!("expected compacted, got {other}"),
    }
}
