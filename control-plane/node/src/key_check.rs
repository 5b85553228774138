//! A start-up check that the configured encryption keys can read the store
//! (ADR 0024). Without it, a replica given a mistyped passphrase would take
//! the lock and then fail every read with a decryption error; with it, the
//! start fails at once and says what to fix.

use diego_store::{Check, Expect, Op, Store, StoreError, Txn};

use crate::NodeError;

/// The record the check reads (and writes once, with the active key).
pub const KEY_CHECK: &str = "meta/key-check";
const PLAINTEXT: &[u8] = b"diego-rs key check";

/// Reads the check record, writing it first on a new store.
pub async fn verify_keys(store: &dyn Store) -> Result<(), NodeError> {
    for _ in 0..2 {
        match store.get(KEY_CHECK).await {
            Ok(Some(r)) if r.value == PLAINTEXT => return Ok(()),
            Ok(Some(_)) => {
                return Err(NodeError::Config(format!(
                    "{KEY_CHECK} holds an unexpected value: the store was not written by diego-rs"
                )))
            }
            Ok(None) => {}
            Err(e) => {
                return Err(NodeError::Config(format!(
                    "the encryption keys cannot read this store ({e}): give this node the keys the store was written with (--encryption-key LABEL:PASSPHRASE, or the data dir's keyring file)"
                )))
            }
        }
        let txn = Txn {
            checks: vec![Check {
                key: KEY_CHECK.into(),
                expect: Expect::Absent,
            }],
            ops: vec![Op::Put {
                key: KEY_CHECK.into(),
                value: PLAINTEXT.to_vec(),
            }],
            log: vec![],
        };
        match store.commit(txn).await {
            // written, or another replica wrote it first: read it back
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(NodeError::Config(format!(
        "{KEY_CHECK} could not be written and read back"
    )))
}

/// Moves the store onto the active key when an operator rotated keys
/// (ADR 0028); a store already there costs one read.
pub async fn migrate_keys(
    store: &dyn Store,
    keys: &dyn diego_store::KeyMigration,
) -> Result<(), NodeError> {
    let started = std::time::Instant::now();
    match diego_store::migrate_to_active_key(store, keys).await {
        Ok(diego_store::Migration::UpToDate) => Ok(()),
        Ok(diego_store::Migration::Migrated { from, to, records }) => {
            tracing::info!(
                from = from.as_deref().unwrap_or("none recorded"),
                to = %to,
                records,
                duration_ms = started.elapsed().as_millis() as u64,
                "store moved onto the active encryption key"
            );
            Ok(())
        }
        Err(e) => {
            // nothing is lost: records not yet moved stay readable under
            // their old key, and the next start picks the job up again
            tracing::error!(error = %e, "moving the store onto the active encryption key failed");
            Err(e.into())
        }
    }
}
