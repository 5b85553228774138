//! Building one store transaction: records guarded by what was read, plus
//! the events that describe the change.

use diego_model::Event;
use diego_store::{Check, Expect, Op, Revision, Txn};

use crate::codec;
use crate::error::Result;
use crate::Bbs;

/// A read record with the revision it was read at (the CAS guard).
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub key: String,
    pub mod_revision: Revision,
}

#[derive(Default, Clone)]
pub struct Change {
    txn: Txn,
}

impl Change {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts a record that must not exist yet.
    pub fn create<T: codec::Record + Clone>(&mut self, key: String, value: &T) -> &mut Self {
        self.txn.checks.push(Check {
            key: key.clone(),
            expect: Expect::Absent,
        });
        self.txn.ops.push(Op::Put {
            key,
            value: codec::encode(value),
        });
        self
    }

    /// Replaces a record read at `read` (fails if it changed since).
    pub fn update<T: codec::Record + Clone, U>(
        &mut self,
        read: &Versioned<U>,
        value: &T,
    ) -> &mut Self {
        self.guard(read);
        self.txn.ops.push(Op::Put {
            key: read.key.clone(),
            value: codec::encode(value),
        });
        self
    }

    /// Deletes a record read at `read` (fails if it changed since).
    pub fn delete<U>(&mut self, read: &Versioned<U>) -> &mut Self {
        self.guard(read);
        self.txn.ops.push(Op::Delete {
            key: read.key.clone(),
        });
        self
    }

    /// Requires a record read at `read` to be unchanged at commit without
    /// writing it: a decision that rests on it is void if it moved.
    pub fn require_unchanged<U>(&mut self, read: &Versioned<U>) -> &mut Self {
        self.guard(read);
        self
    }

    fn guard<U>(&mut self, read: &Versioned<U>) {
        if !self.txn.checks.iter().any(|c| c.key == read.key) {
            self.txn.checks.push(Check {
                key: read.key.clone(),
                expect: Expect::ModRevision(read.mod_revision),
            });
        }
    }

    /// Appends `event` to the change log, with the trace id of the call
    /// being served (see `trace`).
    pub fn emit(&mut self, event: Event) -> &mut Self {
        self.txn
            .log
            .push(codec::encode_event(&event, &crate::trace::current()));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.txn.ops.is_empty()
    }

    /// Records and log entries written; checks made (what a backend's
    /// per-transaction limits count).
    pub fn weight(&self) -> (usize, usize) {
        (
            self.txn.ops.len() + self.txn.log.len(),
            self.txn.checks.len(),
        )
    }

    /// Every key the change checks or writes.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        let written = self.txn.ops.iter().map(|op| match op {
            Op::Put { key, .. } | Op::Delete { key } => key.as_str(),
        });
        self.txn
            .checks
            .iter()
            .map(|c| c.key.as_str())
            .chain(written)
    }

    /// Adds `other`'s checks, writes and events after this change's, so
    /// both commit in one transaction (their keys must not overlap).
    pub fn append(&mut self, other: Change) {
        self.txn.checks.extend(other.txn.checks);
        self.txn.ops.extend(other.txn.ops);
        self.txn.log.extend(other.txn.log);
    }
}

impl Bbs {
    pub(crate) async fn read<T: codec::Record>(&self, key: &str) -> Result<Option<Versioned<T>>> {
        match self.store.get(key).await? {
            Some(rec) => Ok(Some(Versioned {
                value: codec::decode(&rec.key, &rec.value)?,
                key: rec.key,
                mod_revision: rec.mod_revision,
            })),
            None => Ok(None),
        }
    }

    pub(crate) async fn scan<T: codec::Record + Send + 'static>(
        &self,
        prefix: &str,
    ) -> Result<Vec<Versioned<T>>> {
        let scan = self.store.scan_prefix_sealed(prefix).await?;
        crate::bulk::decode_scan(scan, |rec, value| Versioned {
            value,
            key: std::mem::take(&mut rec.key),
            mod_revision: rec.mod_revision,
        })
        .await
    }

    pub(crate) async fn commit(&self, change: Change) -> Result<Revision> {
        Ok(self.store.commit(change.txn).await?)
    }
}
