//! The pipelined write path (ADR 0033): many groups in flight between the
//! log write and its fdatasync. Acknowledged commits of concurrent writers
//! survive a crash, and what readers and watchers see never runs ahead of
//! what was acknowledged durable, in revision order with no gaps.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use diego_store::{EmbeddedOptions, EmbeddedStore, Op, Store, Txn};

const CHILD_ENV: &str = "DIEGO_STORE_PIPELINE_CRASH_CHILD_DB";
const WRITERS: usize = 16;
const COMMITS_PER_WRITER: usize = 40;

fn put_txn(key: &str, value: &[u8]) -> Txn {
    Txn {
        ops: vec![Op::Put {
            key: key.to_string(),
            value: value.to_vec(),
        }],
        log: vec![key.as_bytes().to_vec()],
        ..Txn::default()
    }
}

fn key(writer: usize, i: usize) -> String {
    format!("w/{writer:02}/{i:04}")
}

/// In the child: concurrent writers commit, print each ack, and the
/// process aborts while later groups are still being written and synced.
async fn crash_child(db: &Path) -> ! {
    let opts = EmbeddedOptions {
        // no checkpoint: everything acknowledged lives in the log only
        checkpoint_interval_ms: 3_600_000,
        checkpoint_wal_bytes: u64::MAX,
        ..EmbeddedOptions::default()
    };
    let store = Arc::new(EmbeddedStore::open(db, opts).unwrap());
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let rev = store.commit(put_txn(&key(w, i), b"v")).await.unwrap();
                    // one line per write call: lines never interleave
                    println!("acked {w} {i} {rev}");
                    if w == 0 && i == COMMITS_PER_WRITER {
                        // the others are mid-flight right now
                        std::process::abort();
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    unreachable!("writer 0 aborts the process");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_acknowledged_commits_survive_a_crash() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        crash_child(Path::new(&db)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.redb");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "concurrent_acknowledged_commits_survive_a_crash",
            "--nocapture",
        ])
        .env(CHILD_ENV, &db)
        .output()
        .unwrap();
    assert!(!out.status.success(), "child was meant to abort");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let acked: BTreeMap<String, u64> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("acked "))
        .map(|l| {
            let f: Vec<usize> = l.split(' ').map(|n| n.trim().parse().unwrap()).collect();
            (key(f[0], f[1]), f[2] as u64)
        })
        .collect();
    assert!(acked.len() > COMMITS_PER_WRITER, "child output: {stdout}");

    let store = EmbeddedStore::open(&db, EmbeddedOptions::default()).unwrap();
    let current = store.current_revision().await.unwrap();
    let (records, _) = store.scan_prefix("w/").await.unwrap();
    let found: BTreeMap<String, u64> = records
        .into_iter()
        .map(|r| (r.key, r.mod_revision))
        .collect();
    for (key, rev) in &acked {
        assert_eq!(
            found.get(key),
            Some(rev),
            "acknowledged {key} at {rev} lost"
        );
    }
    // the store holds exactly revisions 1..=current, each once, in the
    // change log as in the records (unacknowledged ones may be there too)
    assert_eq!(found.len() as u64, current);
    let log = store.log_since(0, 100_000).await.unwrap();
    let revisions: Vec<u64> = log.iter().map(|e| e.revision).collect();
    assert_eq!(revisions, (1..=current).collect::<Vec<_>>());
    for entry in &log {
        let key = String::from_utf8(entry.entries[0].clone()).unwrap();
        assert_eq!(found[&key], entry.revision, "log and records disagree");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_and_watchers_never_run_ahead_of_acknowledgements() {
    let store = Arc::new(EmbeddedStore::open_temp(EmbeddedOptions::default()).unwrap());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // the watcher: every published revision has its whole, gapless log
    // and a snapshot at least that new
    let watcher = {
        let store = store.clone();
        let done = done.clone();
        let mut revisions = store.subscribe();
        tokio::spawn(async move {
            let mut seen = 0u64;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let wait =
                    tokio::time::timeout(std::time::Duration::from_millis(50), revisions.changed());
                if wait.await.is_err() {
                    continue;
                }
                let published = *revisions.borrow_and_update();
                assert!(published >= seen, "revision went back");
                let log = store.log_since(seen, 100_000).await.unwrap();
                let got: Vec<u64> = log.iter().map(|e| e.revision).collect();
                assert!(got.len() as u64 >= published - seen, "log behind revision");
                assert_eq!(
                    got,
                    (seen + 1..=seen + got.len() as u64).collect::<Vec<_>>()
                );
                let (_, scanned) = store.scan_prefix("w/").await.unwrap();
                assert!(scanned >= published, "snapshot behind revision");
                seen = published;
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..COMMITS_PER_WRITER {
                    let key = key(w, i);
                    let rev = store.commit(put_txn(&key, b"v")).await.unwrap();
                    // an acknowledged write is visible to every read path
                    assert!(store.current_revision().await.unwrap() >= rev);
                    assert!(*store.subscribe().borrow() >= rev);
                    let record = store.get(&key).await.unwrap().expect("acked write");
                    assert_eq!(record.mod_revision, rev);
                    let log = store.log_since(rev - 1, 1).await.unwrap();
                    assert_eq!(log[0].revision, rev);
                    assert_eq!(log[0].entries, vec![key.into_bytes()]);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    watcher.await.unwrap();
    let total = (WRITERS * COMMITS_PER_WRITER) as u64;
    assert_eq!(store.current_revision().await.unwrap(), total);
}
