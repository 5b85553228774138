//! A control plane refuses to start with encryption keys that cannot read its
//! store, naming what to fix (ADR 0024), instead of failing every read later;
//! a stopped control plane releases its store, so the next start can open it.

use diego_bbs::WatchFilter;
use diego_node::{ControlPlane, ControlPlaneConfig};
use diego_store::Keyring;
use futures::StreamExt;

fn config(dir: &std::path::Path, passphrase: &str) -> ControlPlaneConfig {
    keyed(dir, &[("k1", passphrase)], None)
}

fn keyed(dir: &std::path::Path, keys: &[(&str, &str)], active: Option<&str>) -> ControlPlaneConfig {
    let mut cfg = ControlPlaneConfig::new("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
    let keys: Vec<(String, String)> = keys
        .iter()
        .map(|(l, p)| (l.to_string(), p.to_string()))
        .collect();
    cfg.keyring = Some(Keyring::from_passphrases(&keys, active).unwrap());
    cfg
}

/// Starts a control plane on a data dir another one just left. `stop` waits
/// for its own tasks; a watch stream it served ends on its own task once it
/// sees the receiver gone, a moment later, so a busy store file is retried
/// briefly (the bug this guards against held it for good).
async fn start(cfg: ControlPlaneConfig) -> Result<ControlPlane, String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match ControlPlane::start(cfg.clone()).await {
            Err(e)
                if e.to_string().contains("already open")
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            other => return other.map_err(|e| e.to_string()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_passphrase_fails_the_start_and_the_right_one_opens_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(config(dir.path(), "the right passphrase"))
        .await
        .expect("a new store starts with any key");
    cp.stop().await;
    assert!(
        !dir.path().join("keyring").exists(),
        "configured keys are not written to the data dir"
    );

    let err = match start(config(dir.path(), "the rihgt passphrase")).await {
        Ok(_) => panic!("a different key must not open the store"),
        Err(e) => e,
    };
    assert!(
        err.contains("cannot read this store") && err.contains("--encryption-key"),
        "{err}"
    );

    let cp = start(config(dir.path(), "the right passphrase"))
        .await
        .expect("the right key opens it again");
    cp.stop().await;
}

fn task(guid: &str) -> diego_model::TaskDefinition {
    let task: diego_model::Task = serde_json::from_value(serde_json::json!({
        "task_guid": guid, "domain": "d", "rootfs": "preloaded:busybox", "memory_mb": 8,
        "action": {"run": {"path": "/bin/sh", "args": ["-c", "echo ok"], "user": "root"}}
    }))
    .unwrap();
    task.definition
}

/// The operator's rotation (ADR 0028): add a key, make it active, restart.
/// The start moves every record onto the new key, so the old key can then be
/// dropped from the configuration and nothing becomes unreadable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_moves_every_record_at_start_so_the_old_key_can_go() {
    let dir = tempfile::tempdir().unwrap();
    let cp = start(keyed(dir.path(), &[("old", "first secret")], None))
        .await
        .unwrap();
    for i in 0..300 {
        cp.bbs
            .desire_task(&format!("t-{i}"), "d", task(&format!("t-{i}")))
            .await
            .unwrap();
    }
    cp.stop().await;

    // dropping the old key before the migration: the check refuses to start
    let err = match start(keyed(dir.path(), &[("new", "second secret")], None)).await {
        Ok(_) => panic!("records under a dropped key must not be served"),
        Err(e) => e,
    };
    assert!(err.contains("cannot read this store"), "{err}");

    let both = [("old", "first secret"), ("new", "second secret")];
    let cp = start(keyed(dir.path(), &both, Some("new"))).await.unwrap();
    assert_eq!(cp.bbs.tasks("", "").await.unwrap().len(), 300);
    cp.stop().await;

    let cp = start(keyed(dir.path(), &[("new", "second secret")], None))
        .await
        .expect("every record was moved onto the new key");
    let tasks = cp.bbs.tasks("", "").await.unwrap();
    assert_eq!(
        tasks.len(),
        300,
        "every task readable under the new key alone"
    );
    assert!(cp.bbs.task_by_guid("t-299").await.is_ok());
    // the log written under the old key went with the migration: a watch
    // from before it is told to re-list; one from now works under the new key
    let err = match cp.bbs.watch(WatchFilter::default(), Some(1), None).await {
        Ok(_) => panic!("a watch from before the rotation must be told to re-list"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("compacted"), "{err}");
    let now = cp.bbs.current_revision().await.unwrap();
    let mut events = cp
        .bbs
        .watch(WatchFilter::default(), Some(now), None)
        .await
        .unwrap();
    cp.bbs
        .desire_task("t-new", "d", task("t-new"))
        .await
        .unwrap();
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
        .await
        .expect("an event after the rotation")
        .expect("the stream is open")
        .expect("the event opens under the new key");
    assert!(format!("{first:?}").contains("t-new"), "{first:?}");
    cp.stop().await;
}
