//! Moving every record onto the active key after a rotation.

use super::{envelope, record_aad, EncryptedStore};
use crate::{Check, Expect, Op, Record, Store, StoreError, Txn};

/// Records rewritten per transaction: big enough to amortize the fsync,
/// small enough that a conflict only sends one record to the slow path.
const REWRAP_BATCH_RECORDS: usize = 256;
/// A record that keeps changing under us is given up after this many tries.
const MAX_ATTEMPTS: usize = 100;

pub(super) async fn reencrypt_all<S: Store>(
    store: &EncryptedStore<S>,
) -> Result<usize, StoreError> {
    let (records, _) = store.inner.scan_prefix("").await?;
    let mut stale = Vec::new();
    for record in records {
        if needs_rewrap(store, &record)? {
            stale.push(record);
        }
    }
    let mut rewritten = 0;
    for chunk in stale.chunks(REWRAP_BATCH_RECORDS) {
        let mut batch: Vec<Record> = chunk.to_vec();
        let mut contended = Vec::new();
        while !batch.is_empty() {
            match store.inner.commit(rewrap_txn(store, &batch)?).await {
                Ok(_) => {
                    rewritten += batch.len();
                    break;
                }
                Err(StoreError::Conflict { key }) => {
                    // someone wrote that key since the scan: retry it alone
                    batch.retain(|r| r.key != key);
                    contended.push(key);
                }
                Err(other) => return Err(other),
            }
        }
        for key in contended {
            rewritten += rewrap_one(store, &key).await?;
        }
    }
    tracing::info!(rewritten, key_id = %store.ciphers().active_id(), "store re-encryption done");
    Ok(rewritten)
}

fn needs_rewrap<S: Store>(store: &EncryptedStore<S>, record: &Record) -> Result<bool, StoreError> {
    let parts = envelope::parse(&record.value).map_err(|reason| StoreError::Envelope {
        key: record.key.clone(),
        reason,
    })?;
    Ok(parts.key_id != store.ciphers().active_id())
}

/// Re-reads and rewrites one key until its CAS wins; 1 if rewritten, 0 if
/// it vanished or a concurrent writer already used the active key.
async fn rewrap_one<S: Store>(store: &EncryptedStore<S>, key: &str) -> Result<usize, StoreError> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(record) = store.inner.get(key).await? else {
            return Ok(0);
        };
        if !needs_rewrap(store, &record)? {
            return Ok(0);
        }
        match store.inner.commit(rewrap_txn(store, &[record])?).await {
            Ok(_) => return Ok(1),
            Err(StoreError::Conflict { .. }) => continue,
            Err(other) => return Err(other),
        }
    }
    Err(StoreError::Conflict {
        key: key.to_string(),
    })
}

fn rewrap_txn<S: Store>(store: &EncryptedStore<S>, records: &[Record]) -> Result<Txn, StoreError> {
    let ciphers = store.ciphers();
    let mut txn = Txn::default();
    for record in records {
        let opened = store.open_record(&ciphers, record.clone())?;
        txn.checks.push(Check {
            key: record.key.clone(),
            expect: Expect::ModRevision(record.mod_revision),
        });
        txn.ops.push(Op::Put {
            key: record.key.clone(),
            value: ciphers.seal(&record_aad(&record.key), &opened.value),
        });
    }
    Ok(txn)
}
