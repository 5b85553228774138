//! The single writer thread. It does group commit: everything queued while
//! the previous fsync ran is applied in one redb write transaction and made
//! durable by one fsync, so throughput grows with the number of concurrent
//! writers while a lone write still pays just one fsync.
//!
//! On a file the fsync is of the write-ahead log (see `wal`): the group is
//! applied to a redb transaction, its frame written to the log, the redb
//! transaction committed without a sync, and the group handed to the
//! `pipeline`, which fdatasyncs the log while this thread goes on with the
//! next group. Readers see a group (through the published snapshot) and
//! callers are answered only once its frame is durable, so a reader never
//! sees a write that a crash could still take back.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;

use redb::{Database, Durability, ReadableTable, Table};
use tokio::sync::{oneshot, watch};

use super::checkpoint::Checkpoints;
use super::pipeline::{PendingGroup, Pipeline, Published};
use super::tables::{
    encode_entries, EngineError, LOG, META, META_COMPACTED, META_REVISION, RECORDS,
};
use super::wal::{FrameBuilder, Wal};
use crate::{Check, Expect, Op, Revision, StoreError, Txn};

/// Retention deletes at most this many log rows per group, so one commit
/// never pays for a large backlog (e.g. after the retention was lowered).
const RETENTION_STEP_ROWS: usize = 1024;
/// Retention waits until this many revisions are over the limit, so it
/// runs now and then instead of deleting one row on every commit.
const RETENTION_SLACK_REVISIONS: u64 = 256;

pub(crate) enum Request {
    Commit {
        txn: Txn,
        reply: oneshot::Sender<Result<Revision, StoreError>>,
    },
    Compact {
        upto: Revision,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

impl Request {
    /// Rough cost, used to bound the size of a group.
    fn weight_ops(&self) -> usize {
        match self {
            Request::Commit { txn, .. } => 1 + txn.ops.len() + txn.checks.len(),
            Request::Compact { .. } => 1,
        }
    }

    fn answer(self, outcome: Outcome) {
        // a caller that gave up (dropped its future) is not an error here
        match (self, outcome) {
            (Request::Commit { reply, .. }, Outcome::Committed(rev)) => {
                let _ = reply.send(Ok(rev));
            }
            (Request::Commit { reply, .. }, Outcome::Conflict(key)) => {
                let _ = reply.send(Err(StoreError::Conflict { key }));
            }
            (Request::Compact { reply, .. }, _) => {
                let _ = reply.send(Ok(()));
            }
            (Request::Commit { reply, .. }, Outcome::Compacted) => {
                let _ = reply.send(Err(StoreError::Backend(
                    "writer answered a commit with a compaction outcome".to_string(),
                )));
            }
        }
    }

    fn fail(self, reason: &str) {
        let err = || StoreError::Backend(format!("group commit failed: {reason}"));
        match self {
            Request::Commit { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
            Request::Compact { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
        }
    }
}

/// A request and what became of it, sent once its group is durable.
pub(crate) struct Answer {
    request: Request,
    outcome: Outcome,
}

impl Answer {
    pub(crate) fn send(self) {
        self.request.answer(self.outcome);
    }

    pub(crate) fn fail(self, reason: &str) {
        self.request.fail(reason);
    }
}

/// The write-ahead log, its checkpoints and the syncs in flight.
pub(crate) struct WalParts {
    pub(crate) wal: Wal,
    pub(crate) checkpoints: Checkpoints,
    pub(crate) pipeline: Pipeline,
}

enum Outcome {
    Committed(Revision),
    Conflict(String),
    Compacted,
}

pub(crate) struct Writer {
    pub(crate) db: Arc<Database>,
    pub(crate) requests: mpsc::Receiver<Request>,
    pub(crate) revision_tx: Arc<watch::Sender<Revision>>,
    /// The readers' snapshot; advanced only past durable groups.
    pub(crate) published: Arc<Published>,
    pub(crate) current: Revision,
    pub(crate) compacted: Revision,
    pub(crate) retention_revisions: u64,
    pub(crate) max_group_txns: usize,
    pub(crate) max_group_ops: usize,
    /// The write-ahead log and its checkpoints; `None` in memory, where
    /// redb's own commit is cheap.
    pub(crate) wal: Option<WalParts>,
    /// Set when a write failed after its frame may have reached the log:
    /// memory and disk may then disagree, so every later request fails
    /// until the store is reopened (which replays the log).
    pub(crate) stopped: Option<String>,
}

impl Writer {
    /// Runs until every sender is gone (the store was dropped).
    pub(crate) fn run(mut self) {
        loop {
            let first = match self.wait_limit() {
                None => match self.requests.recv() {
                    Ok(first) => Some(first),
                    Err(_) => break,
                },
                Some(limit) => match self.requests.recv_timeout(limit) {
                    Ok(first) => Some(first),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            if let Some(first) = first {
                self.gather_and_process(first);
            }
            if let Some(parts) = &mut self.wal {
                if parts.checkpoints.poll(parts.wal.len_bytes()) {
                    self.checkpoint();
                }
            }
        }
        // a clean close leaves nothing to replay
        if self.wal.as_ref().is_some_and(|p| p.wal.len_bytes() > 0) {
            self.checkpoint();
        }
    }

    fn wait_limit(&self) -> Option<std::time::Duration> {
        let parts = self.wal.as_ref()?;
        parts.checkpoints.wait_limit(parts.wal.len_bytes())
    }

    /// Makes redb durable up to the current revision and empties the log.
    fn checkpoint(&mut self) {
        let Some(parts) = &mut self.wal else {
            return;
        };
        // the log is emptied below: every frame in it must be durable and
        // its group answered first
        if let Err(reason) = parts.pipeline.drain() {
            self.stopped.get_or_insert(reason);
        }
        if self.stopped.is_some() {
            // nothing can be made durable any more; wait out the interval
            // instead of asking for a flush again right away
            parts.checkpoints.done();
            return;
        }
        let started = std::time::Instant::now();
        let result = (|| {
            let mut wtx = self.db.begin_write()?;
            wtx.set_durability(Durability::Immediate);
            wtx.commit()?;
            // only now: a crash before this line replays frames redb
            // already has, and replay skips those
            parts.wal.truncate(0)?;
            parts.pipeline.reset(0);
            Ok::<(), EngineError>(())
        })();
        parts.checkpoints.done();
        match result {
            Ok(()) => tracing::debug!(
                revision = self.current,
                took_us = started.elapsed().as_micros() as u64,
                "store checkpoint"
            ),
            // the log still holds everything; the next checkpoint retries
            Err(err) => tracing::error!(error = %err, "store checkpoint failed"),
        }
    }

    /// Takes everything queued behind `first` (within the group bounds) and
    /// commits it as one group.
    fn gather_and_process(&mut self, first: Request) {
        let mut ops = first.weight_ops();
        let mut group = vec![first];
        while group.len() < self.max_group_txns && ops < self.max_group_ops {
            match self.requests.try_recv() {
                Ok(next) => {
                    ops += next.weight_ops();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        self.process(group);
    }

    fn process(&mut self, group: Vec<Request>) {
        if self.stopped.is_none() {
            if let Some(reason) = self.wal.as_ref().and_then(|p| p.pipeline.failure()) {
                self.stopped = Some(reason);
            }
        }
        if let Some(reason) = &self.stopped {
            let reason = format!("store stopped after an earlier failure, reopen it: {reason}");
            for request in group {
                request.fail(&reason);
            }
            return;
        }
        let txns = group.len();
        let applied = match self.apply(&group) {
            Ok(applied) => applied,
            Err(err) => {
                let reason = err.to_string();
                tracing::error!(error = %reason, txns, "store group commit failed");
                for request in group {
                    request.fail(&reason);
                }
                return;
            }
        };
        self.current = applied.current;
        self.compacted = applied.compacted;
        let answers: Vec<Answer> = group
            .into_iter()
            .zip(applied.outcomes)
            .map(|(request, outcome)| Answer { request, outcome })
            .collect();
        match &self.wal {
            Some(parts) => parts.pipeline.submit(PendingGroup {
                end_bytes: parts.wal.len_bytes(),
                current: applied.current,
                snapshot: applied.snapshot,
                answers,
            }),
            None => {
                // redb's own commit was durable: publish and answer now,
                // snapshot before revision so a woken watcher sees the state
                self.published.set(applied.snapshot);
                let current = applied.current;
                self.revision_tx.send_if_modified(|seen| {
                    let changed = *seen != current;
                    *seen = current;
                    changed
                });
                for answer in answers {
                    answer.send();
                }
            }
        }
    }

    fn apply(&mut self, group: &[Request]) -> Result<Applied, EngineError> {
        let started = std::time::Instant::now();
        let mut wtx = self.db.begin_write()?;
        let mut frame = match self.wal {
            Some(_) => {
                wtx.set_durability(Durability::None);
                Some(FrameBuilder::new(self.compacted))
            }
            None => {
                wtx.set_durability(Durability::Immediate);
                None
            }
        };
        let mut current = self.current;
        let mut compacted = self.compacted;
        let mut outcomes = Vec::with_capacity(group.len());
        {
            let mut records = wtx.open_table(RECORDS)?;
            let mut log = wtx.open_table(LOG)?;
            for request in group {
                match request {
                    Request::Commit { txn, .. } => {
                        // checks see the writes of earlier txns of this group,
                        // exactly as if each had committed on its own
                        if let Some(key) = failed_check(&records, &txn.checks)? {
                            outcomes.push(Outcome::Conflict(key));
                            continue;
                        }
                        current += 1;
                        apply_ops(&mut records, &txn.ops, current)?;
                        if !txn.log.is_empty() {
                            log.insert(current, encode_entries(&txn.log).as_slice())?;
                        }
                        if let Some(frame) = &mut frame {
                            frame.push(current, &txn.ops, &txn.log);
                        }
                        outcomes.push(Outcome::Committed(current));
                    }
                    Request::Compact { upto, .. } => {
                        let target = (*upto).min(current);
                        if target > compacted {
                            log.retain_in(..=target, |_, _| false)?;
                            compacted = target;
                        }
                        outcomes.push(Outcome::Compacted);
                    }
                }
            }
            compacted = self.retain(&mut log, current, compacted)?;
            let mut meta = wtx.open_table(META)?;
            meta.insert(META_REVISION, current)?;
            meta.insert(META_COMPACTED, compacted)?;
        }
        let applied_at = std::time::Instant::now();
        if let (Some(parts), Some(mut frame)) = (&mut self.wal, frame) {
            if !frame.is_empty() || compacted != self.compacted {
                frame.set_compacted(compacted);
                // written, not yet synced: the pipeline makes it durable
                // before anyone sees the group; on failure the redb
                // transaction is dropped, i.e. rolled back
                if let Err(err) = parts.wal.write(&frame.finish()) {
                    self.stopped = Some(err.to_string());
                    return Err(err);
                }
            }
            if let Err(err) = wtx.commit() {
                let err = EngineError::from(err);
                self.stopped = Some(err.to_string());
                return Err(err);
            }
        } else {
            wtx.commit()?;
        }
        // the state after this group, published once it is durable
        let snapshot = match self.db.begin_read() {
            Ok(snapshot) => Arc::new(snapshot),
            Err(err) => {
                let err = EngineError::from(err);
                self.stopped = Some(err.to_string());
                return Err(err);
            }
        };
        // the commit (page writes + fsync) is what bounds throughput; this
        // shows where a slow disk hurts
        tracing::debug!(
            txns = group.len(),
            apply_us = (applied_at - started).as_micros() as u64,
            commit_us = applied_at.elapsed().as_micros() as u64,
            "store group committed"
        );
        Ok(Applied {
            outcomes,
            current,
            compacted,
            snapshot,
        })
    }

    /// Applies the automatic retention (keep the newest N revisions) and
    /// returns the new compaction point.
    fn retain(
        &self,
        log: &mut Table<u64, &[u8]>,
        current: Revision,
        compacted: Revision,
    ) -> Result<Revision, EngineError> {
        if self.retention_revisions == 0 || current <= self.retention_revisions {
            return Ok(compacted);
        }
        let target = current - self.retention_revisions;
        let slack = RETENTION_SLACK_REVISIONS.min(self.retention_revisions);
        if target < compacted.saturating_add(slack) {
            return Ok(compacted);
        }
        let doomed: Vec<u64> = log
            .range(..=target)?
            .take(RETENTION_STEP_ROWS + 1)
            .map(|row| row.map(|(rev, _)| rev.value()))
            .collect::<Result<_, _>>()?;
        let finished = doomed.len() <= RETENTION_STEP_ROWS;
        let doomed = &doomed[..doomed.len().min(RETENTION_STEP_ROWS)];
        for rev in doomed {
            log.remove(rev)?;
        }
        if finished {
            return Ok(target);
        }
        // every row up to the last one removed is gone, so that is a valid
        // compaction point; the rest goes with later groups
        Ok(doomed.last().copied().unwrap_or(compacted).max(compacted))
    }
}

struct Applied {
    outcomes: Vec<Outcome>,
    current: Revision,
    compacted: Revision,
    snapshot: Arc<redb::ReadTransaction>,
}

fn failed_check(
    records: &Table<&str, (u64, &[u8])>,
    checks: &[Check],
) -> Result<Option<String>, EngineError> {
    for check in checks {
        let found = records.get(check.key.as_str())?;
        let holds = match (&check.expect, found) {
            (Expect::Absent, found) => found.is_none(),
            (Expect::Present, found) => found.is_some(),
            (Expect::ModRevision(want), Some(row)) => row.value().0 == *want,
            (Expect::ValueEquals(want), Some(row)) => row.value().1 == want.as_slice(),
            (Expect::ModRevision(_) | Expect::ValueEquals(_), None) => false,
        };
        if !holds {
            return Ok(Some(check.key.clone()));
        }
    }
    Ok(None)
}

pub(crate) fn apply_ops(
    records: &mut Table<&str, (u64, &[u8])>,
    ops: &[Op],
    revision: Revision,
) -> Result<(), EngineError> {
    for op in ops {
        match op {
            Op::Put { key, value } => {
                records.insert(key.as_str(), (revision, value.as_slice()))?;
            }
            Op::Delete { key } => {
                records.remove(key.as_str())?;
            }
        }
    }
    Ok(())
}
