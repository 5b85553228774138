//! The storage contract every backend fills: versioned records, multi-key
//! transactions with preconditions, prefix scans and a revisioned change log.
//!
//! The shape follows etcd (mod revisions, compare-and-swap transactions, a
//! global revision) because it is the strictest of our targets; an embedded
//! engine and TiKV can give the same guarantees.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::StoreError;

/// A global, strictly increasing commit number. `0` means "before any commit".
pub type Revision = u64;

/// One stored record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: String,
    pub value: Vec<u8>,
    /// The revision of the commit that last wrote this key.
    pub mod_revision: Revision,
}

/// What a transaction requires of one key before it may commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The key must not exist.
    Absent,
    /// The key must exist (any value).
    Present,
    /// The key must exist and have been written last by this revision.
    ModRevision(Revision),
    /// The key must exist and hold exactly these bytes (used for fencing tokens).
    ValueEquals(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub key: String,
    pub expect: Expect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put { key: String, value: Vec<u8> },
    Delete { key: String },
}

/// An atomic unit of change: every check holds and every op applies, or
/// nothing does. `log` entries are appended to the change log at the
/// transaction's revision (the BBS writes its domain events here, so events
/// and the records they describe commit together).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    pub checks: Vec<Check>,
    pub ops: Vec<Op>,
    pub log: Vec<Vec<u8>>,
}

/// One committed transaction as seen by the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub revision: Revision,
    pub entries: Vec<Vec<u8>>,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns a record as the backend holds it into the record as written (for
/// an encrypting store: decrypts its value in place). Safe to call from
/// many threads at once.
pub type RecordOpener = Arc<dyn Fn(&mut Record) -> Result<(), StoreError> + Send + Sync>;

/// A prefix scan whose values may still be sealed: `opener` (when present)
/// must be applied to each record before its value is read. Lets a caller
/// open and decode every record in one pass on its own threads instead of
/// the store opening all of them first (see `Store::scan_prefix_sealed`).
pub struct SealedScan {
    pub records: Vec<Record>,
    pub revision: Revision,
    pub opener: Option<RecordOpener>,
}

impl SealedScan {
    /// Opens one record (a no-op when the values are not sealed).
    pub fn open(&self, record: &mut Record) -> Result<(), StoreError> {
        match &self.opener {
            Some(open) => open(record),
            None => Ok(()),
        }
    }
}

/// The storage trait. Object safe so a node can pick a backend at run time.
pub trait Store: Send + Sync + 'static {
    /// Reads one key.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>>;

    /// Reads every key that starts with `prefix`, in key order, together with
    /// the revision the snapshot was taken at.
    fn scan_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<(Vec<Record>, Revision), StoreError>>;

    /// As `scan_prefix`, but leaves opening the values to the caller (see
    /// `SealedScan`). Backends that do not seal values need not override it.
    fn scan_prefix_sealed<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<SealedScan, StoreError>> {
        Box::pin(async move {
            let (records, revision) = self.scan_prefix(prefix).await?;
            Ok(SealedScan {
                records,
                revision,
                opener: None,
            })
        })
    }

    /// Commits a transaction. A failed check gives `StoreError::Conflict`
    /// naming the key and nothing is written. Returns the new revision. When
    /// this returns `Ok`, the write is durable.
    fn commit(&self, txn: Txn) -> BoxFuture<'_, Result<Revision, StoreError>>;

    /// The newest committed revision.
    fn current_revision(&self) -> BoxFuture<'_, Result<Revision, StoreError>>;

    /// Change-log entries with `revision > after`, oldest first, at most
    /// `limit` of them. A revision older than the compaction point gives
    /// `StoreError::Compacted`.
    fn log_since(
        &self,
        after: Revision,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<LogEntry>, StoreError>>;

    /// Forgets change-log entries at or below `upto`.
    fn compact_log(&self, upto: Revision) -> BoxFuture<'_, Result<(), StoreError>>;

    /// A receiver that sees the newest committed revision; it changes after
    /// every commit, so watchers wake up and read `log_since`.
    fn subscribe(&self) -> tokio::sync::watch::Receiver<Revision>;
}
