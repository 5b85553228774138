//! Moving a store onto the active key at start-up (ADR 0028), as the original
//! BBS's encryptor does after an operator rotates keys: the store records the
//! label every record is sealed under; a node whose active key differs
//! rewrites every record before it serves, then records the new label.

use std::sync::Arc;

use super::EncryptedStore;
use crate::{BoxFuture, Check, Expect, Op, Store, StoreError, Txn};

/// The record naming the key every record was last moved onto (the
/// original's `configurations.encryption_key_label`). Sealed like any record.
pub const KEY_LABEL: &str = "meta/encryption-key-label";

/// What a node needs to move an encrypted store onto its active key; object
/// safe so it travels beside an `Arc<dyn Store>` of any backend.
pub trait KeyMigration: Send + Sync {
    /// The id of the key new records are sealed with.
    fn active_key_id(&self) -> String;
    /// Re-seals every record not under the active key; how many were.
    fn reencrypt_all(&self) -> BoxFuture<'_, Result<usize, StoreError>>;
}

impl<S: Store> KeyMigration for EncryptedStore<S> {
    fn active_key_id(&self) -> String {
        self.ciphers().active_id().to_string()
    }

    fn reencrypt_all(&self) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(EncryptedStore::reencrypt_all(self))
    }
}

/// A store as a node opens it: the records, and how to migrate their keys
/// when they are encrypted (`None` for plaintext).
pub struct AtRestStore {
    pub store: Arc<dyn Store>,
    pub keys: Option<Arc<dyn KeyMigration>>,
}

impl AtRestStore {
    /// Wraps `inner` in encryption under `keyring`.
    pub fn encrypted<S: Store>(inner: S, keyring: super::Keyring) -> Self {
        let store = Arc::new(EncryptedStore::new(inner, keyring));
        AtRestStore {
            store: store.clone(),
            keys: Some(store),
        }
    }

    /// Keeps `inner` as it is: values stored as given.
    pub fn plaintext<S: Store>(inner: S) -> Self {
        AtRestStore {
            store: Arc::new(inner),
            keys: None,
        }
    }
}

/// What `migrate_to_active_key` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migration {
    /// The store was already on the active key.
    UpToDate,
    /// Records were moved from `from` (absent on a store that never
    /// recorded a label: new, or written before labels were recorded).
    Migrated {
        from: Option<String>,
        to: String,
        records: usize,
    },
}

/// Moves every record onto the active key unless the store says it is
/// already there, then compacts the change log written under the old key. Safe to run on several nodes at once: every rewrite is a
/// compare-and-swap, and the label is written last, so a crash part way
/// leaves the old label and the next start finishes the job.
pub async fn migrate_to_active_key(
    store: &dyn Store,
    keys: &dyn KeyMigration,
) -> Result<Migration, StoreError> {
    let active = keys.active_key_id();
    let recorded = store.get(KEY_LABEL).await?;
    let from = match &recorded {
        Some(r) => Some(
            String::from_utf8(r.value.clone()).map_err(|_| StoreError::Envelope {
                key: KEY_LABEL.into(),
                reason: "the recorded key label is not utf-8".into(),
            })?,
        ),
        None => None,
    };
    if from.as_deref() == Some(active.as_str()) {
        return Ok(Migration::UpToDate);
    }
    let records = keys.reencrypt_all().await?;
    let expect = match &recorded {
        Some(r) => Expect::ModRevision(r.mod_revision),
        None => Expect::Absent,
    };
    let txn = Txn {
        checks: vec![Check {
            key: KEY_LABEL.into(),
            expect,
        }],
        ops: vec![Op::Put {
            key: KEY_LABEL.into(),
            value: active.clone().into_bytes(),
        }],
        log: vec![],
    };
    match store.commit(txn).await {
        Ok(_) => {}
        // another node finished the same migration first; if it recorded a
        // different label, its next start (or ours) migrates again
        Err(StoreError::Conflict { .. }) => {}
        Err(e) => return Err(e),
    }
    // The change log's payloads were sealed under the old key too: forget
    // them, so the old key can go at once. A watch resuming from before
    // now is told its revision is compacted and re-lists, as after any
    // compaction. A new store (no label, nothing moved) has no such log.
    if from.is_some() || records > 0 {
        let upto = store.current_revision().await?;
        store.compact_log(upto).await?;
    }
    Ok(Migration::Migrated {
        from,
        to: active,
        records,
    })
}
