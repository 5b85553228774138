//! The commit protocol: one optimistic TiKV transaction that reads the
//! counter and the checked keys at its start timestamp, checks, and writes
//! records, counter + 1 and the change-log entry. Every commit writes the
//! counter, so of two commits that overlap in time TiKV's prewrite
//! write-conflict check lets only one through; the other re-reads and
//! retries. Checked keys are also locked (a `Lock` mutation) so a stray
//! writer that bypasses the counter still cannot slip a change under a
//! check.

use std::collections::HashMap;
use std::time::Instant;

use diego_store::{Check, Expect, Op, Revision, StoreError, Txn};
use tikv_client::{CheckLevel, Error, Key, Transaction, TransactionOptions};

use crate::layout::{
    decode_record, encode_entries, encode_record, encode_rev, encode_u64, COMMIT_ID_BYTES,
};
use crate::read::{compaction_point, current, rev_of};
use crate::retry::{backend, is_permanent, is_write_conflict, Backoff};
use crate::store::Shared;

type CommitId = [u8; COMMIT_ID_BYTES];

/// How one attempt ended.
enum Attempt {
    Committed(Revision),
    /// Decided without writing: a failed check (`Conflict`) or a stored
    /// value we cannot read.
    Decided(StoreError),
    /// Another writer committed first (or TiKV refused for a reason that
    /// leaves nothing written): read again.
    Retry(Error),
    /// The commit of the primary key may or may not have landed; `at` is
    /// the revision the attempt read.
    Undetermined(Error, Revision),
}

/// Optimistic, and dropping an unfinished transaction is fine: before
/// prewrite nothing of it exists on the server.
async fn begin(shared: &Shared) -> Result<Transaction, Error> {
    let options = TransactionOptions::new_optimistic().drop_check(CheckLevel::None);
    shared.client.begin_with_options(options).await
}

pub(crate) async fn commit(shared: &Shared, txn: Txn) -> Result<Revision, StoreError> {
    let commit_id: CommitId = rand::random();
    let _turn = shared.commit_lock.lock().await;
    let started = Instant::now();
    let mut backoff = Backoff::new();
    loop {
        let error = match attempt(shared, &txn, &commit_id).await {
            Attempt::Committed(revision) => {
                shared.publish(revision);
                return Ok(revision);
            }
            Attempt::Decided(error) => return Err(error),
            // lost the race for the counter: someone made progress, so go
            // again at once (bounded by the budget below)
            Attempt::Retry(e) if is_write_conflict(&e) => e,
            Attempt::Retry(e) => {
                if is_permanent(&e) {
                    return Err(backend(&shared.pd, "commit", e));
                }
                tracing::debug!(error = %e, "tikv commit failed; retrying");
                backoff.wait().await;
                e
            }
            Attempt::Undetermined(e, at) => match landed(shared, at, &commit_id).await? {
                Some(revision) => {
                    shared.publish(revision);
                    return Ok(revision);
                }
                None => e,
            },
        };
        if started.elapsed() >= shared.opts.retry_budget {
            return Err(backend(&shared.pd, "commit (gave up retrying)", error));
        }
    }
}

async fn attempt(shared: &Shared, txn: &Txn, commit_id: &CommitId) -> Attempt {
    let mut t = match begin(shared).await {
        Ok(t) => t,
        Err(e) => return Attempt::Retry(e),
    };
    let at = match read_and_check(shared, &mut t, &txn.checks).await {
        Ok(Ok(at)) => at,
        Ok(Err(failed)) => return failed,
        Err(e) => return Attempt::Retry(e),
    };
    let next = at + 1;
    if let Err(e) = buffer_writes(shared, &mut t, txn, next, commit_id).await {
        return Attempt::Retry(e);
    }
    match t.commit().await {
        Ok(_) => Attempt::Committed(next),
        Err(e @ Error::UndeterminedError(_)) => Attempt::Undetermined(e, at),
        Err(e) => {
            // prewrite failed: take back whatever locks it left so readers
            // do not wait for their ttl (best effort; they expire anyway)
            if let Err(rollback) = t.rollback().await {
                tracing::debug!(error = %rollback, "tikv rollback after a failed commit");
            }
            Attempt::Retry(e)
        }
    }
}

/// Reads the counter and the checked keys at the start timestamp. The
/// inner `Err` is a decided outcome.
async fn read_and_check(
    shared: &Shared,
    t: &mut Transaction,
    checks: &[Check],
) -> Result<Result<Revision, Attempt>, Error> {
    let counter = t.get(shared.layout.rev()).await?;
    let at = match rev_of(counter) {
        Ok((revision, _)) => revision,
        Err(e) => return Ok(Err(Attempt::Decided(e))),
    };
    if checks.is_empty() {
        return Ok(Ok(at));
    }
    let keys: Vec<Vec<u8>> = checks
        .iter()
        .map(|c| shared.layout.record(&c.key))
        .collect();
    let found: HashMap<Vec<u8>, Vec<u8>> = t
        .batch_get(keys.clone())
        .await?
        .map(|pair| {
            let (key, value) = pair.into();
            (Vec::<u8>::from(key), value)
        })
        .collect();
    for (check, key) in checks.iter().zip(&keys) {
        let holds = match check_holds(&check.expect, found.get(key)) {
            Ok(holds) => holds,
            Err(e) => return Ok(Err(Attempt::Decided(e))),
        };
        if !holds {
            let key = check.key.clone();
            return Ok(Err(Attempt::Decided(StoreError::Conflict { key })));
        }
    }
    t.lock_keys(keys.into_iter().map(Key::from)).await?;
    Ok(Ok(at))
}

fn check_holds(expect: &Expect, stored: Option<&Vec<u8>>) -> Result<bool, StoreError> {
    let stored = stored.map(|bytes| decode_record(bytes)).transpose()?;
    Ok(match (expect, stored) {
        (Expect::Absent, stored) => stored.is_none(),
        (Expect::Present, stored) => stored.is_some(),
        (Expect::ModRevision(want), Some((mod_revision, _))) => mod_revision == *want,
        (Expect::ValueEquals(want), Some((_, value))) => value == want.as_slice(),
        (Expect::ModRevision(_) | Expect::ValueEquals(_), None) => false,
    })
}

/// Buffers the writes; later ops on a key replace earlier ones (TiKV's
/// buffer keeps the last mutation per key).
async fn buffer_writes(
    shared: &Shared,
    t: &mut Transaction,
    txn: &Txn,
    next: Revision,
    commit_id: &CommitId,
) -> Result<(), Error> {
    let layout = &shared.layout;
    for op in &txn.ops {
        match op {
            Op::Put { key, value } => {
                t.put(layout.record(key), encode_record(next, value))
                    .await?
            }
            Op::Delete { key } => t.delete(layout.record(key)).await?,
        }
    }
    t.put(layout.rev(), encode_rev(next, commit_id)).await?;
    if !txn.log.is_empty() {
        t.put(layout.log(next), encode_entries(&txn.log)).await?;
    }
    Ok(())
}

/// After an undetermined commit: did ours land? A fresh read resolves the
/// pending locks of our transaction (commits or rolls it back), so the
/// counter then tells: still at `at` -> it did not land and a retry is
/// safe; at `at + 1` with our id -> it landed. Anything else means other
/// writers went on and we cannot tell from the counter alone.
async fn landed(
    shared: &Shared,
    at: Revision,
    commit_id: &CommitId,
) -> Result<Option<Revision>, StoreError> {
    let (revision, id) = current(shared).await?;
    if revision == at + 1 && id == commit_id.as_slice() {
        return Ok(Some(revision));
    }
    if revision == at {
        return Ok(None);
    }
    Err(StoreError::Backend(format!(
        "tikv commit outcome unknown: the counter moved from {at} to {revision} since an \
         undetermined commit (pd {:?})",
        shared.pd
    )))
}

/// Moves the compaction point to `min(upto, current)` and deletes the log
/// at or below it, a batch of entries per transaction; the point moves with
/// each batch, so a crash in between leaves a consistent, shorter log.
pub(crate) async fn compact_log(shared: &Shared, upto: Revision) -> Result<(), StoreError> {
    let started = Instant::now();
    let mut backoff = Backoff::new();
    loop {
        match compact_batch(shared, upto).await {
            Ok(true) => return Ok(()),
            Ok(false) => backoff = Backoff::new(),
            Err(e) if is_write_conflict(&e) => {}
            Err(e) if !is_permanent(&e) && started.elapsed() < shared.opts.retry_budget => {
                tracing::debug!(error = %e, "tikv compaction failed; retrying");
                backoff.wait().await;
            }
            Err(e) => return Err(backend(&shared.pd, "compact", e)),
        }
    }
}

/// One batch; `Ok(true)` when the compaction point reached its target.
async fn compact_batch(shared: &Shared, upto: Revision) -> Result<bool, Error> {
    let layout = &shared.layout;
    let mut t = begin(shared).await?;
    let corrupt = |e: StoreError| Error::StringError(e.to_string());
    let compacted = compaction_point(t.get(layout.compacted()).await?).map_err(corrupt)?;
    let (newest, _) = rev_of(t.get(layout.rev()).await?).map_err(corrupt)?;
    let target = upto.min(newest);
    if target <= compacted {
        return Ok(true);
    }
    let batch = shared.opts.compact_batch_entries.max(1);
    let range = Key::from(layout.log(compacted + 1))..Key::from(layout.log(target + 1));
    let keys: Vec<Key> = t.scan_keys(range, batch).await?.collect();
    let reached = if keys.len() == batch as usize {
        let last = Vec::<u8>::from(keys[keys.len() - 1].clone());
        layout.log_revision(&last).map_err(corrupt)?
    } else {
        target
    };
    for key in keys {
        t.delete(key).await?;
    }
    t.put(layout.compacted(), encode_u64(reached)).await?;
    match t.commit().await {
        Ok(_) => Ok(reached == target),
        Err(e) => {
            if !matches!(e, Error::UndeterminedError(_)) {
                // best effort, see `attempt`
                let _ = t.rollback().await;
            }
            // an undetermined batch is safe to redo: it only deletes and
            // moves the point forward
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_read_our_revision_and_bytes_from_the_value() {
        let stored = encode_record(7, b"v1");
        let present = Some(&stored);
        assert!(check_holds(&Expect::Absent, None).unwrap());
        assert!(!check_holds(&Expect::Absent, present).unwrap());
        assert!(check_holds(&Expect::Present, present).unwrap());
        assert!(!check_holds(&Expect::Present, None).unwrap());
        assert!(check_holds(&Expect::ModRevision(7), present).unwrap());
        assert!(!check_holds(&Expect::ModRevision(8), present).unwrap());
        assert!(!check_holds(&Expect::ModRevision(7), None).unwrap());
        assert!(check_holds(&Expect::ValueEquals(b"v1".to_vec()), present).unwrap());
        assert!(!check_holds(&Expect::ValueEquals(b"v".to_vec()), present).unwrap());
        assert!(!check_holds(&Expect::ValueEquals(vec![]), None).unwrap());
        let short = b"abc".to_vec();
        assert!(check_holds(&Expect::Present, Some(&short)).is_err());
    }
}
