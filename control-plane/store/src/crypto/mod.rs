//! Encryption at rest as a wrapper around any backend.
//!
//! Values and change-log payloads are sealed with AES-256-GCM under a random
//! 96-bit nonce. The associated data binds a record's ciphertext to its key
//! (`"record:" + key`), so bytes moved to another key, or into the log (whose
//! payloads use `"log"`), fail authentication. Keys, mod revisions and
//! revisions stay in clear: the backend needs them for ordering and checks.

mod envelope;
mod key_migration;
mod keyring;
mod rewrap;

use std::sync::{Arc, RwLock};

pub use key_migration::{migrate_to_active_key, AtRestStore, KeyMigration, Migration, KEY_LABEL};
pub use keyring::{Keyring, KEYRING_FILE};

use crate::blocking::{blocking, parallel_for_each};
use crate::{
    BoxFuture, Check, Expect, LogEntry, Op, Record, RecordOpener, Revision, SealedScan, Store,
    StoreError, Txn,
};
use envelope::Ciphers;

const LOG_AAD: &[u8] = b"log";

fn record_aad(key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(7 + key.len());
    aad.extend_from_slice(b"record:");
    aad.extend_from_slice(key.as_bytes());
    aad
}

/// Decrypts a record's value in its own buffer (see `Ciphers::open_in_place`).
fn open_in_place(ciphers: &Ciphers, record: &mut Record) -> Result<(), StoreError> {
    // keys are short: the associated data fits on the stack for nearly all
    let mut stack = [0u8; 256];
    let aad_len = 7 + record.key.len();
    let heap;
    let aad = if aad_len <= stack.len() {
        stack[..7].copy_from_slice(b"record:");
        stack[7..aad_len].copy_from_slice(record.key.as_bytes());
        &stack[..aad_len]
    } else {
        heap = record_aad(&record.key);
        &heap[..]
    };
    ciphers
        .open_in_place(aad, &mut record.value)
        .map_err(|reason| StoreError::Envelope {
            key: record.key.clone(),
            reason,
        })
}

/// A `Store` that encrypts everything it hands to `inner`.
pub struct EncryptedStore<S: Store> {
    inner: S,
    keyring: RwLock<Keyring>,
    ciphers: RwLock<Arc<Ciphers>>,
}

impl<S: Store> EncryptedStore<S> {
    pub fn new(inner: S, keyring: Keyring) -> Self {
        let ciphers = Arc::new(Ciphers::new(&keyring));
        Self {
            inner,
            keyring: RwLock::new(keyring),
            ciphers: RwLock::new(ciphers),
        }
    }

    /// The wrapped backend (sees only sealed bytes).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// A copy of the current keyring.
    pub fn keyring(&self) -> Keyring {
        self.keyring
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Adds `key` under `new_id` and makes it the active key for writes.
    /// When the keyring came from a file, the file is rewritten first, so a
    /// crash never leaves data sealed with a key that was not saved.
    /// Old keys stay for reading; call `reencrypt_all` to move records over.
    pub fn rotate(&self, new_id: &str, key: [u8; 32]) -> Result<(), StoreError> {
        let mut ring = self.keyring.write().unwrap_or_else(|p| p.into_inner());
        let mut next = ring.clone();
        next.add(new_id, key)?;
        next.set_active(new_id)?;
        next.save()?;
        *self.ciphers.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Ciphers::new(&next));
        *ring = next;
        tracing::info!(key_id = new_id, "store encryption key rotated");
        Ok(())
    }

    /// Re-seals every record not yet under the active key, with
    /// compare-and-swap on its mod revision so concurrent writers win.
    /// Returns how many records were rewritten. Change-log payloads are not
    /// rewritten: keep old keys until the log retention has passed.
    pub async fn reencrypt_all(&self) -> Result<usize, StoreError> {
        rewrap::reencrypt_all(self).await
    }

    fn ciphers(&self) -> Arc<Ciphers> {
        self.ciphers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn open_record(&self, ciphers: &Ciphers, record: Record) -> Result<Record, StoreError> {
        let value = ciphers
            .open(&record_aad(&record.key), &record.value)
            .map_err(|reason| StoreError::Envelope {
                key: record.key.clone(),
                reason,
            })?;
        Ok(Record { value, ..record })
    }

    /// Encrypts a transaction. `ValueEquals` cannot compare ciphertexts
    /// (every seal is randomized), so it becomes a `ModRevision` check on
    /// the revision whose plaintext was verified equal.
    async fn seal_txn(&self, txn: Txn) -> Result<Txn, StoreError> {
        let ciphers = self.ciphers();
        let mut checks = Vec::with_capacity(txn.checks.len());
        for check in txn.checks {
            let Expect::ValueEquals(want) = &check.expect else {
                checks.push(check);
                continue;
            };
            let conflict = || StoreError::Conflict {
                key: check.key.clone(),
            };
            let current = self.inner.get(&check.key).await?.ok_or_else(conflict)?;
            let current = self.open_record(&ciphers, current)?;
            if current.value != *want {
                return Err(conflict());
            }
            checks.push(Check {
                expect: Expect::ModRevision(current.mod_revision),
                key: check.key,
            });
        }
        let ops = txn
            .ops
            .into_iter()
            .map(|op| match op {
                Op::Put { key, value } => {
                    let value = ciphers.seal(&record_aad(&key), &value);
                    Op::Put { key, value }
                }
                delete => delete,
            })
            .collect();
        let log = txn.log.iter().map(|e| ciphers.seal(LOG_AAD, e)).collect();
        Ok(Txn { checks, ops, log })
    }
}

impl<S: Store> Store for EncryptedStore<S> {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        Box::pin(async move {
            match self.inner.get(key).await? {
                Some(record) => Ok(Some(self.open_record(&self.ciphers(), record)?)),
                None => Ok(None),
            }
        })
    }

    fn scan_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<(Vec<Record>, Revision), StoreError>> {
        Box::pin(async move {
            let (mut records, revision) = self.inner.scan_prefix(prefix).await?;
            let ciphers = self.ciphers();
            // a list of every ActualLRP is hundreds of thousands of records:
            // decrypt in place, on every core, off the async workers
            blocking(move || {
                parallel_for_each(&mut records, |record| open_in_place(&ciphers, record))?;
                Ok((records, revision))
            })
            .await
        })
    }

    fn scan_prefix_sealed<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<SealedScan, StoreError>> {
        Box::pin(async move {
            let inner = self.inner.scan_prefix_sealed(prefix).await?;
            let ciphers = self.ciphers();
            let ours: RecordOpener = Arc::new(move |record| open_in_place(&ciphers, record));
            // a sealed inner store (not one we build, but allowed) opens first
            let opener = match inner.opener {
                None => ours,
                Some(first) => Arc::new(move |record: &mut Record| {
                    first(record)?;
                    ours(record)
                }),
            };
            Ok(SealedScan {
                records: inner.records,
                revision: inner.revision,
                opener: Some(opener),
            })
        })
    }

    fn commit(&self, txn: Txn) -> BoxFuture<'_, Result<Revision, StoreError>> {
        Box::pin(async move {
            let sealed = self.seal_txn(txn).await?;
            self.inner.commit(sealed).await
        })
    }

    fn current_revision(&self) -> BoxFuture<'_, Result<Revision, StoreError>> {
        self.inner.current_revision()
    }

    fn log_since(
        &self,
        after: Revision,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<LogEntry>, StoreError>> {
        Box::pin(async move {
            let sealed = self.inner.log_since(after, limit).await?;
            let ciphers = self.ciphers();
            let mut out = Vec::with_capacity(sealed.len());
            for entry in sealed {
                let entries = entry
                    .entries
                    .iter()
                    .map(|e| ciphers.open(LOG_AAD, e))
                    .collect::<Result<_, _>>()
                    .map_err(|reason| StoreError::Envelope {
                        key: format!("log/{}", entry.revision),
                        reason,
                    })?;
                out.push(LogEntry {
                    revision: entry.revision,
                    entries,
                });
            }
            Ok(out)
        })
    }

    fn compact_log(&self, upto: Revision) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.compact_log(upto)
    }

    fn subscribe(&self) -> tokio::sync::watch::Receiver<Revision> {
        self.inner.subscribe()
    }
}
