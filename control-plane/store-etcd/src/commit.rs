//! The commit protocol: read, check, write in one etcd transaction guarded
//! by the counter key, retry on a lost race.
//!
//! Checks are evaluated on the values read (our mod revision and bytes live
//! in the record value), so a failed check names its key without guessing.
//! The write transaction then compares the counter key's etcd mod revision
//! with the one read: if nothing committed in between, everything read is
//! still true. Each check is also mapped to its own etcd compare (absent ->
//! version 0, present -> version > 0, mod revision / value -> the record's
//! etcd mod revision as read) so a stray writer that bypasses the counter
//! still cannot slip a change under a check.

use std::collections::HashSet;
use std::time::Instant;

use diego_store::{Check, Expect, Op, Revision, StoreError, Txn};
use etcd_client::{Compare, CompareOp, DeleteOptions, KeyValue, TxnOp, WatchOptions};

use crate::layout::{
    decode_record, decode_rev, encode_entries, encode_record, encode_rev, encode_u64,
    COMMIT_ID_BYTES,
};
use crate::read::{compacted_at, current, RevRead};
use crate::retry::{backend, is_transient, retrying, Backoff};
use crate::{Fence, Shared};

type CommitId = [u8; COMMIT_ID_BYTES];

pub(crate) async fn commit(shared: &Shared, txn: Txn) -> Result<Revision, StoreError> {
    let ops = last_op_per_key(txn.ops);
    let commit_id: CommitId = rand::random();
    let mut known = shared.commit_lock.lock().await;
    // counter-key mod revisions at which we sent a write whose outcome we
    // never learnt; it may still land, so it must be ruled out before
    // retrying or we could apply the same txn twice
    let mut unknown: Vec<i64> = Vec::new();
    let started = Instant::now();
    let mut backoff = Backoff::new();
    loop {
        let (at, found) = match known.as_ref() {
            // no checks and nothing in doubt: the compare on the counter
            // is all we need, so skip the read
            Some(at) if txn.checks.is_empty() && unknown.is_empty() => (at.clone(), Vec::new()),
            _ => read_checked(shared, &txn.checks).await?,
        };
        let mut still_open = Vec::new();
        for sent_at in std::mem::take(&mut unknown) {
            if sent_at == at.key_mod {
                still_open.push(sent_at);
            } else if let Some(revision) = landed_after(shared, sent_at, &commit_id).await? {
                *known = None;
                shared.publish(revision);
                return Ok(revision);
            }
        }
        unknown = still_open;
        if let Some(key) = failed_check(&txn.checks, &found)? {
            *known = Some(at);
            return Err(StoreError::Conflict { key });
        }
        let next = at.revision + 1;
        let request = write_txn(shared, &at, &txn.checks, &found, &ops, &txn.log, &commit_id);
        match shared.kv.clone().txn(request).await {
            Ok(resp) if resp.succeeded() => {
                let etcd_revision = resp.header().map(|h| h.revision()).unwrap_or_default();
                *known = Some(RevRead {
                    revision: next,
                    key_mod: etcd_revision,
                    etcd_revision,
                });
                shared.publish(next);
                return Ok(next);
            }
            // another writer committed since the read, or we lost the lock
            Ok(resp) => {
                *known = None;
                if let Some(reason) = fenced_out(shared, &resp) {
                    return Err(StoreError::Fenced(reason));
                }
            }
            Err(e) if is_transient(&e) && started.elapsed() < shared.opts.retry_budget => {
                tracing::debug!(error = %e, "etcd commit failed; retrying");
                unknown.push(at.key_mod);
                *known = None;
                backoff.wait().await;
            }
            Err(e) if unknown.is_empty() && !is_transient(&e) => {
                return Err(backend(&shared.endpoints, "commit", e))
            }
            Err(e) => return Err(backend(&shared.endpoints, "commit (outcome unknown)", e)),
        }
    }
}

/// Later ops on a key replace earlier ones (etcd refuses a txn that writes
/// one key twice); the survivors keep their order.
fn last_op_per_key(ops: Vec<Op>) -> Vec<Op> {
    let mut seen = HashSet::new();
    let mut kept: Vec<Op> = ops
        .into_iter()
        .rev()
        .filter(|op| {
            let key = match op {
                Op::Put { key, .. } | Op::Delete { key } => key.clone(),
            };
            seen.insert(key)
        })
        .collect();
    kept.reverse();
    kept
}

/// The counter and every checked key, read in one etcd transaction so they
/// are one snapshot.
async fn read_checked(
    shared: &Shared,
    checks: &[Check],
) -> Result<(RevRead, Vec<Option<KeyValue>>), StoreError> {
    let mut gets = vec![TxnOp::get(shared.layout.rev(), None)];
    gets.extend(
        checks
            .iter()
            .map(|c| TxnOp::get(shared.layout.record(&c.key), None)),
    );
    let resp = retrying(
        &shared.endpoints,
        shared.opts.retry_budget,
        "read for commit",
        || {
            let mut kv = shared.kv.clone();
            let request = etcd_client::Txn::new().and_then(gets.clone());
            async move { kv.txn(request).await }
        },
    )
    .await?;
    let etcd_revision = resp.header().map(|h| h.revision()).unwrap_or_default();
    let mut firsts = resp.op_responses().into_iter().map(|op| match op {
        etcd_client::TxnOpResponse::Get(get) => get.kvs().first().cloned(),
        _ => None,
    });
    let at = match firsts.next().flatten() {
        None => RevRead {
            revision: 0,
            key_mod: 0,
            etcd_revision,
        },
        Some(kv) => RevRead {
            revision: decode_rev(kv.value())?.0,
            key_mod: kv.mod_revision(),
            etcd_revision,
        },
    };
    Ok((at, firsts.collect()))
}

fn failed_check(
    checks: &[Check],
    found: &[Option<KeyValue>],
) -> Result<Option<String>, StoreError> {
    for (check, kv) in checks.iter().zip(found) {
        let stored = kv
            .as_ref()
            .map(|kv| decode_record(kv.value()))
            .transpose()?;
        let holds = match (&check.expect, stored) {
            (Expect::Absent, stored) => stored.is_none(),
            (Expect::Present, stored) => stored.is_some(),
            (Expect::ModRevision(want), Some((mod_revision, _))) => mod_revision == *want,
            (Expect::ValueEquals(want), Some((_, value))) => value == want.as_slice(),
            (Expect::ModRevision(_) | Expect::ValueEquals(_), None) => false,
        };
        if !holds {
            return Ok(Some(check.key.clone()));
        }
    }
    Ok(None)
}

fn write_txn(
    shared: &Shared,
    at: &RevRead,
    checks: &[Check],
    found: &[Option<KeyValue>],
    ops: &[Op],
    log: &[Vec<u8>],
    commit_id: &CommitId,
) -> etcd_client::Txn {
    let layout = &shared.layout;
    let next = at.revision + 1;
    let mut compares = vec![if at.key_mod == 0 {
        Compare::version(layout.rev(), CompareOp::Equal, 0)
    } else {
        Compare::mod_revision(layout.rev(), CompareOp::Equal, at.key_mod)
    }];
    for (check, kv) in checks.iter().zip(found) {
        let key = layout.record(&check.key);
        compares.push(match (&check.expect, kv) {
            (_, None) => Compare::version(key, CompareOp::Equal, 0),
            (Expect::Present, Some(_)) => Compare::version(key, CompareOp::Greater, 0),
            (_, Some(kv)) => Compare::mod_revision(key, CompareOp::Equal, kv.mod_revision()),
        });
    }
    let mut writes: Vec<TxnOp> = ops
        .iter()
        .map(|op| match op {
            Op::Put { key, value } => {
                TxnOp::put(layout.record(key), encode_record(next, value), None)
            }
            Op::Delete { key } => TxnOp::delete(layout.record(key), None),
        })
        .collect();
    writes.push(TxnOp::put(layout.rev(), encode_rev(next, commit_id), None));
    if !log.is_empty() {
        writes.push(TxnOp::put(layout.log(next), encode_entries(log), None));
    }
    let mut otherwise = Vec::new();
    if let Some(fence) = &shared.fence {
        compares.push(fence_compare(fence));
        // on failure, read the lock so the caller can tell "lost the lock"
        // from "lost a race"
        otherwise.push(TxnOp::get(fence.key.clone(), None));
    }
    etcd_client::Txn::new()
        .when(compares)
        .and_then(writes)
        .or_else(otherwise)
}

fn fence_compare(fence: &Fence) -> Compare {
    Compare::create_revision(fence.key.clone(), CompareOp::Equal, fence.token)
}

/// Why a failed write was fenced out, if it was: the lock is gone or was
/// created again by another holder.
fn fenced_out(shared: &Shared, resp: &etcd_client::TxnResponse) -> Option<String> {
    let fence = shared.fence.as_ref()?;
    let lock = resp.op_responses().into_iter().find_map(|op| match op {
        etcd_client::TxnOpResponse::Get(get) => Some(get.kvs().first().cloned()),
        _ => None,
    })?;
    let key = String::from_utf8_lossy(&fence.key);
    match lock {
        None => Some(format!(
            "lock {key} is no longer held (our fencing token {} is stale)",
            fence.token
        )),
        Some(kv) if kv.create_revision() != fence.token => Some(format!(
            "lock {key} is held by another leader (token {}, ours {})",
            kv.create_revision(),
            fence.token
        )),
        Some(_) => None,
    }
}

/// Whether the first counter write after etcd revision `sent_at` was ours,
/// and at which of our revisions. Reads etcd's history through a watch.
async fn landed_after(
    shared: &Shared,
    sent_at: i64,
    commit_id: &CommitId,
) -> Result<Option<Revision>, StoreError> {
    let lookup = async {
        let options = WatchOptions::new().with_start_revision(sent_at + 1);
        let (mut watcher, mut stream) = shared
            .client
            .clone()
            .watch(shared.layout.rev(), Some(options))
            .await?;
        let mut outcome = Err(etcd_client::Error::WatchError(
            "history ended before the next counter write".into(),
        ));
        while let Some(resp) = stream.message().await? {
            if resp.canceled() {
                outcome = Err(etcd_client::Error::WatchError(format!(
                    "etcd history compacted past {sent_at}: {}",
                    resp.cancel_reason()
                )));
                break;
            }
            if let Some(kv) = resp.events().first().and_then(|e| e.kv()) {
                outcome = Ok(kv.value().to_vec());
                break;
            }
        }
        // best effort: the stream closes with the watcher anyway
        let _ = watcher.cancel().await;
        outcome
    };
    let value = tokio::time::timeout(shared.opts.request_timeout, lookup)
        .await
        .map_err(|_| {
            StoreError::Backend("commit outcome unknown: etcd history lookup timed out".into())
        })?
        .map_err(|e| backend(&shared.endpoints, "commit outcome lookup", e))?;
    let (revision, id) = decode_rev(&value)?;
    Ok((id == commit_id.as_slice()).then_some(revision))
}

/// Moves the compaction point to `min(upto, current)` and deletes the log
/// below it, in one etcd transaction guarded by the old point.
pub(crate) async fn compact_log(shared: &Shared, upto: Revision) -> Result<(), StoreError> {
    let layout = &shared.layout;
    loop {
        let newest = current(shared).await?.revision;
        let (compacted, compacted_mod, _) = compacted_at(shared).await?;
        let target = upto.min(newest);
        if target <= compacted {
            return Ok(());
        }
        let guard = if compacted_mod == 0 {
            Compare::version(layout.compacted(), CompareOp::Equal, 0)
        } else {
            Compare::mod_revision(layout.compacted(), CompareOp::Equal, compacted_mod)
        };
        let below = DeleteOptions::new().with_range(layout.log(target + 1));
        let mut guards = vec![guard];
        guards.extend(shared.fence.as_ref().map(fence_compare));
        let request = etcd_client::Txn::new().when(guards).and_then(vec![
            TxnOp::delete(layout.log(0), Some(below)),
            TxnOp::put(layout.compacted(), encode_u64(target), None),
        ]);
        // safe to repeat: a repeat after a landed attempt fails the guard
        let resp = retrying(
            &shared.endpoints,
            shared.opts.retry_budget,
            "compact",
            || {
                let mut kv = shared.kv.clone();
                let request = request.clone();
                async move { kv.txn(request).await }
            },
        )
        .await?;
        if resp.succeeded() {
            return Ok(());
        }
        if let Some(fence) = &shared.fence {
            let lock = shared.kv.clone().get(fence.key.clone(), None).await;
            let ours = lock
                .ok()
                .and_then(|r| r.kvs().first().map(|kv| kv.create_revision()));
            if ours != Some(fence.token) {
                return Err(StoreError::Fenced(format!(
                    "lock {} is no longer ours (token {})",
                    String::from_utf8_lossy(&fence.key),
                    fence.token
                )));
            }
        }
    }
}
