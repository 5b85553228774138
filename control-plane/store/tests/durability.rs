//! Acknowledged commits survive a crash (whether they reached a redb
//! checkpoint or only the write-ahead log); revisions and compaction
//! persist; automatic retention trims the log.

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

/// Checkpoints never happen on their own: every acknowledged commit lives
/// only in the write-ahead log until the next open.
fn no_checkpoints() -> EmbeddedOptions {
    EmbeddedOptions {
        checkpoint_interval_ms: 3_600_000,
        checkpoint_wal_bytes: u64::MAX,
        ..EmbeddedOptions::default()
    }
}

/// A checkpoint after nearly every group, so a crash lands between the
/// steps of one (redb durable, log not yet emptied) now and then.
fn constant_checkpoints() -> EmbeddedOptions {
    EmbeddedOptions {
        checkpoint_interval_ms: 0,
        checkpoint_wal_bytes: 1,
        ..EmbeddedOptions::default()
    }
}

/// In the child process: commit, report, then die without any cleanup.
async fn crash_child(db: &Path, opts: EmbeddedOptions) -> ! {
    let store = EmbeddedStore::open(db, opts).unwrap();
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

/// Runs the test `name` again in a child process that calls `crash_child`
/// on `db`, and returns the revisions the child saw acknowledged.
fn run_crash_child(name: &str, db: &Path) -> Vec<u64> {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture"])
        .env(CHILD_ENV, db)
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
    acked
}

/// Reopens after the crash and checks that every acknowledged commit is
/// there exactly once, records and change log alike.
async fn assert_recovered(db: &Path, acked: &[u64]) {
    let store = EmbeddedStore::open(db, EmbeddedOptions::default()).unwrap();
    let last = *acked.last().unwrap();
    assert_eq!(store.current_revision().await.unwrap(), last);
    let (records, rev) = store.scan_prefix("crash/").await.unwrap();
    assert_eq!(rev, last);
    assert_eq!(records.len() as u64, CHILD_COMMITS);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.value, (i as u64).to_le_bytes());
        assert_eq!(r.mod_revision, acked[i]);
    }
    let log = store.log_since(0, 1000).await.unwrap();
    assert_eq!(log.len() as u64, CHILD_COMMITS);
    for (i, entry) in log.iter().enumerate() {
        assert_eq!(entry.revision, acked[i]);
        assert_eq!(entry.entries, vec![(i as u64).to_le_bytes().to_vec()]);
    }
    let next = store.commit(put_txn("after/crash", b"x")).await.unwrap();
    assert_eq!(next, last + 1, "revisions continue after reopen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_commits_survive_a_crash() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        crash_child(Path::new(&db), EmbeddedOptions::default()).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.redb");
    let acked = run_crash_child("acknowledged_commits_survive_a_crash", &db);
    assert_recovered(&db, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_acknowledged_before_any_checkpoint_replay_from_the_wal() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        crash_child(Path::new(&db), no_checkpoints()).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.redb");
    let acked = run_crash_child(
        "commits_acknowledged_before_any_checkpoint_replay_from_the_wal",
        &db,
    );
    let wal = EmbeddedStore::wal_path(&db);
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 0,
        "the commits must be in the wal only"
    );
    // a crash in the middle of an unacknowledged append leaves a torn frame
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, 1, 7]);
    std::fs::write(&wal, &bytes).unwrap();
    assert_recovered(&db, &acked).await;
    assert_eq!(
        std::fs::metadata(&wal).unwrap().len(),
        0,
        "a clean close leaves an empty wal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_checkpoints_loses_nothing() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        crash_child(Path::new(&db), constant_checkpoints()).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.redb");
    let acked = run_crash_child("a_crash_between_checkpoints_loses_nothing", &db);
    assert_recovered(&db, &acked).await;
}

#[tokio::test]
async fn wal_frames_already_in_a_checkpoint_are_not_applied_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.redb");
    let wal = EmbeddedStore::wal_path(&db);
    let frames = {
        let store = EmbeddedStore::open(&db, no_checkpoints()).unwrap();
        for i in 0..10u8 {
            store.commit(put_txn("k", &[i])).await.unwrap();
        }
        std::fs::read(&wal).unwrap()
        // dropping checkpoints and empties the wal
    };
    assert!(!frames.is_empty());
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
    // as if the crash came after the checkpoint but before the truncation
    std::fs::write(&wal, &frames).unwrap();
    let store = EmbeddedStore::open(&db, EmbeddedOptions::default()).unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 10);
    let record = store.get("k").await.unwrap().unwrap();
    assert_eq!((record.value, record.mod_revision), (vec![9], 10));
    assert_eq!(store.log_since(0, 100).await.unwrap().len(), 10);
    assert_eq!(store.commit(put_txn("k", b"x")).await.unwrap(), 11);
}

#[tokio::test]
async fn checkpoints_empty_the_wal_while_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.redb");
    let wal = EmbeddedStore::wal_path(&db);
    let opts = EmbeddedOptions {
        checkpoint_interval_ms: 20,
        ..EmbeddedOptions::default()
    };
    let store = EmbeddedStore::open(&db, opts).unwrap();
    store.commit(put_txn("k", b"v")).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&wal).unwrap().len() > 0 {
        assert!(std::time::Instant::now() < deadline, "no checkpoint ran");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(store.get("k").await.unwrap().unwrap().value, b"v");
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
