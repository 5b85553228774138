//! A control plane refuses to start with encryption keys that cannot read its
//! store, naming what to fix (ADR 0024), instead of failing every read later;
//! a stopped control plane releases its store, so the next start can open it.

use diego_node::{ControlPlane, ControlPlaneConfig};
use diego_store::Keyring;

fn config(dir: &std::path::Path, passphrase: &str) -> ControlPlaneConfig {
    let mut cfg = ControlPlaneConfig::new("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
    let keys = vec![("k1".to_string(), passphrase.to_string())];
    cfg.keyring = Some(Keyring::from_passphrases(&keys, None).unwrap());
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
