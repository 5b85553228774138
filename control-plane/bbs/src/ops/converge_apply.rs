//! Applying the LRP steps of a convergence plan (docs/adr/0027).
//!
//! Each step is built from the rows of its index and guarded by them: a
//! write whose rows changed since they were read fails its compare-and-swap
//! and is skipped (the next pass looks again), as in Diego's CAS-based
//! convergence. Steps whose rows are in the snapshot are built from the
//! snapshot's rows and revisions and committed many to a transaction; a
//! transaction that fails a check drops the step that guarded that key,
//! which then re-reads its rows and is applied on its own, and the rest
//! are committed again. Retirements and stale-unclaimed checks always go
//! on their own.

use std::collections::HashSet;

use diego_convergence::LrpAction;
use diego_model::{ActualLrp, Event, Presence};
use diego_store::{Revision, StoreError};
use futures::StreamExt;

use crate::error::{BbsError, Result};
use crate::keys;
use crate::ops::actual::Rows;
use crate::ops::desired::new_epoch;
use crate::txn::{Change, Versioned};
use crate::Bbs;

use super::converge_read::snapshot_rows;

/// Diego's `convergence_workers`: LRP steps (or batches) applied at once.
const CONVERGENCE_WORKERS: usize = 20;
/// At most this many records and log entries written, and keys checked,
/// per batched transaction: under etcd's default `--max-txn-ops` (128),
/// with room for the backend's own bookkeeping.
const BATCH_MAX_WRITES: usize = 96;
const BATCH_MAX_CHECKS: usize = 96;
/// A batch that fails this many checks gives up and applies its remaining
/// steps one by one.
const BATCH_MAX_CONFLICTS: usize = 4;

/// Steps with what became of them.
pub(crate) type Outcomes = Vec<(LrpAction, Result<Applied>)>;

pub(crate) enum Applied {
    Done,
    Changed,
}

/// What one step does, given the rows of its index.
enum Step {
    /// A row differs from what the plan saw: skip.
    Changed,
    /// Nothing to write.
    Done,
    Write(Change),
    /// Through the API's retire path.
    Retire,
}

fn same(read: &Option<Versioned<ActualLrp>>, planned: Option<&ActualLrp>) -> bool {
    read.as_ref().map(|r| &r.value) == planned
}

/// Whether a step may be built from the snapshot and batched.
fn batchable(action: &LrpAction) -> bool {
    !matches!(
        action,
        LrpAction::Retire { .. } | LrpAction::AuctionStaleUnclaimed { .. }
    )
}

/// Steps sharing one transaction.
#[derive(Default)]
struct Batch {
    members: Vec<(LrpAction, Change)>,
    keys: HashSet<String>,
    writes: usize,
    checks: usize,
}

impl Batch {
    fn fits(&self, change: &Change) -> bool {
        let (writes, checks) = change.weight();
        self.members.is_empty()
            || (self.writes + writes <= BATCH_MAX_WRITES
                && self.checks + checks <= BATCH_MAX_CHECKS)
    }

    fn overlaps(&self, change: &Change) -> bool {
        change.keys().any(|k| self.keys.contains(k))
    }

    fn push(&mut self, action: LrpAction, change: Change) {
        let (writes, checks) = change.weight();
        self.writes += writes;
        self.checks += checks;
        self.keys.extend(change.keys().map(str::to_string));
        self.members.push((action, change));
    }
}

impl Bbs {
    /// Applies every LRP step; returns each with its outcome (in no
    /// particular order). `snapshot` is the plan's actual rows with their
    /// revisions, when every row was found at its key.
    pub(crate) async fn apply_lrp_actions(
        &self,
        actions: Vec<LrpAction>,
        snapshot: Option<(&[ActualLrp], &[Revision])>,
    ) -> Outcomes {
        let mut alone = Vec::new();
        let mut batches: Vec<Batch> = Vec::new();
        let mut current = Batch::default();
        let now = self.now();
        for action in actions {
            let Some((actuals, revisions)) = snapshot.filter(|_| batchable(&action)) else {
                alone.push(action);
                continue;
            };
            let key = action.key();
            let rows = snapshot_rows(actuals, revisions, &key.process_guid, key.index);
            let Step::Write(change) = self.lrp_step(&action, &rows, now) else {
                // nothing to batch: decide on fresh rows, as before
                alone.push(action);
                continue;
            };
            if current.overlaps(&change) {
                alone.push(action);
                continue;
            }
            if !current.fits(&change) {
                batches.push(std::mem::take(&mut current));
            }
            current.push(action, change);
        }
        if !current.members.is_empty() {
            batches.push(current);
        }
        let batched: Vec<(Outcomes, Vec<LrpAction>)> =
            futures::stream::iter(batches.into_iter().map(|b| (self.clone(), b)))
                .map(|(bbs, b)| async move { bbs.commit_batch(b.members).await })
                .buffer_unordered(CONVERGENCE_WORKERS)
                .collect()
                .await;
        let mut results = Vec::new();
        for (done, retry) in batched {
            results.extend(done);
            alone.extend(retry);
        }
        // Owned actions and a cloned handle keep the futures free of
        // borrowed lifetimes, so the pass can run inside a spawned task.
        let one_by_one: Outcomes =
            futures::stream::iter(alone.into_iter().map(|a| (self.clone(), a)))
                .map(|(bbs, a)| async move {
                    let result = bbs.apply_lrp_action(&a).await;
                    (a, result)
                })
                .buffer_unordered(CONVERGENCE_WORKERS)
                .collect()
                .await;
        results.extend(one_by_one);
        results
    }

    /// Commits the members in one transaction. A failed check removes the
    /// member that guarded the key (returned to be applied on its own) and
    /// the rest are tried again; other failures return every member.
    async fn commit_batch(
        &self,
        mut members: Vec<(LrpAction, Change)>,
    ) -> (Outcomes, Vec<LrpAction>) {
        let mut retry = Vec::new();
        let mut conflicts = 0;
        while !members.is_empty() {
            let mut txn = Change::new();
            for (_, change) in &members {
                txn.append(change.clone());
            }
            match self.commit(txn).await {
                Ok(_) => {
                    let done = members
                        .into_iter()
                        .map(|(a, _)| (a, Ok(Applied::Done)))
                        .collect();
                    return (done, retry);
                }
                Err(BbsError::Store(StoreError::Conflict { key }))
                    if conflicts < BATCH_MAX_CONFLICTS =>
                {
                    conflicts += 1;
                    let guard = members.iter().position(|(_, c)| c.keys().any(|k| k == key));
                    match guard {
                        Some(at) => retry.push(members.remove(at).0),
                        None => break,
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "convergence batch failed; applying its steps one by one");
                    break;
                }
            }
        }
        retry.extend(members.into_iter().map(|(a, _)| a));
        (Vec::new(), retry)
    }

    /// Applies one step on rows read now.
    pub(crate) async fn apply_lrp_action(&self, action: &LrpAction) -> Result<Applied> {
        let key = action.key();
        let rows = self.index_rows(&key.process_guid, key.index).await?;
        match self.lrp_step(action, &rows, self.now()) {
            Step::Changed => Ok(Applied::Changed),
            Step::Done => Ok(Applied::Done),
            Step::Write(change) => self.commit_step(change).await,
            // The API's retire path: unplaced rows go now, placed ones are
            // stopped by their rep (or deleted when their cell is gone).
            Step::Retire => match self.retire_actual_lrp(key).await {
                Ok(()) => Ok(Applied::Done),
                Err(e) if e.code() == Some(diego_model::ErrorCode::ResourceNotFound) => {
                    Ok(Applied::Changed)
                }
                Err(e) => Err(e),
            },
        }
    }

    /// What `action` writes, guarded by `rows`.
    fn lrp_step(&self, action: &LrpAction, rows: &Rows, now: i64) -> Step {
        let mut change = Change::new();
        match action {
            LrpAction::CreateMissing { key } => {
                if rows.ordinary.is_some() {
                    return Step::Changed;
                }
                change.put_row(rows, &ActualLrp::unclaimed(key.clone(), &new_epoch(), now));
            }
            LrpAction::Retire { actual, .. } => {
                if !same(&rows.ordinary, Some(actual)) {
                    return Step::Changed;
                }
                return Step::Retire;
            }
            LrpAction::AuctionStaleUnclaimed { actual } => {
                // Nothing to write: the row only needs another auction.
                return if same(&rows.ordinary, Some(actual)) {
                    Step::Done
                } else {
                    Step::Changed
                };
            }
            LrpAction::RestartCrashed { actual } => {
                if !same(&rows.ordinary, Some(actual)) {
                    return Step::Changed;
                }
                let mut after = actual.clone();
                if after.unclaim(true, now).is_ok() {
                    change.put_row(rows, &after);
                }
            }
            LrpAction::MarkSuspect { actual } => {
                let Some(ordinary) = rows.ordinary.as_ref().filter(|o| o.value == *actual) else {
                    return Step::Changed;
                };
                if rows.suspect.is_some() {
                    return Step::Changed;
                }
                let mut suspect = actual.clone();
                suspect.presence = Presence::Suspect;
                let replacement = ActualLrp::unclaimed(actual.key.clone(), &new_epoch(), now);
                // Events as the original's: the instance changed presence, and
                // a new instance was created in its place.
                change
                    .create(
                        keys::actual(
                            &actual.key.process_guid,
                            actual.key.index,
                            Presence::Suspect,
                        ),
                        &suspect,
                    )
                    .update(ordinary, &replacement)
                    .emit(Event::ActualLrpChanged {
                        before: actual.clone(),
                        after: suspect,
                    })
                    .emit(Event::ActualLrpCreated {
                        actual_lrp: replacement,
                    });
            }
            LrpAction::UnclaimReplacement { actual, suspect } => {
                if !same(&rows.ordinary, Some(actual)) || !same(&rows.suspect, Some(suspect)) {
                    return Step::Changed;
                }
                let mut after = actual.clone();
                if after.unclaim(false, now).is_err() {
                    return Step::Changed;
                }
                change.put_row(rows, &after);
                // the replacement is unclaimed because of the suspect: if
                // that row moved since the snapshot, so does the decision
                if let Some(suspect) = &rows.suspect {
                    change.require_unchanged(suspect);
                }
            }
            LrpAction::PromoteSuspect {
                suspect,
                replacement,
            } => {
                if !same(&rows.suspect, Some(suspect))
                    || !same(&rows.ordinary, replacement.as_ref())
                {
                    return Step::Changed;
                }
                promote(&mut change, rows, suspect);
            }
            LrpAction::RemoveExtraSuspect { suspect }
            | LrpAction::RemoveOrphanedSuspect { suspect } => {
                if !same(&rows.suspect, Some(suspect)) {
                    return Step::Changed;
                }
                change.delete_row(rows, Presence::Suspect);
            }
            LrpAction::DeleteEvacuating { actual } => {
                if !same(&rows.evacuating, Some(actual)) {
                    return Step::Changed;
                }
                change.delete_row(rows, Presence::Evacuating);
            }
        }
        if change.is_empty() {
            Step::Done
        } else {
            Step::Write(change)
        }
    }

    /// Commits one step; a CAS conflict means a row moved on since it was read.
    pub(crate) async fn commit_step(&self, change: Change) -> Result<Applied> {
        match self.commit(change).await {
            Ok(_) => Ok(Applied::Done),
            Err(BbsError::Store(StoreError::Conflict { .. })) => Ok(Applied::Changed),
            Err(e) => Err(e),
        }
    }
}

/// §4.4 promote: the replacement is removed and the SUSPECT instance is
/// the ORDINARY one again (removed + changed events, as the original).
fn promote(change: &mut Change, rows: &Rows, suspect: &ActualLrp) {
    let mut promoted = suspect.clone();
    promoted.presence = Presence::Ordinary;
    let suspect_rec = rows.suspect.as_ref().expect("checked by the caller");
    change.delete(suspect_rec);
    match &rows.ordinary {
        Some(replacement) => change
            .update(replacement, &promoted)
            .emit(Event::ActualLrpRemoved {
                actual_lrp: replacement.value.clone(),
            }),
        None => change.create(
            keys::actual(
                &suspect.key.process_guid,
                suspect.key.index,
                Presence::Ordinary,
            ),
            &promoted,
        ),
    };
    change.emit(Event::ActualLrpChanged {
        before: suspect.clone(),
        after: promoted,
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use diego_model::{ActualLrpKey, ActualState, InstanceKey, ModificationTag};
    use diego_store::{EmbeddedOptions, EmbeddedStore, Op, Store, Txn};

    use super::*;
    use crate::{codec, BbsConfig, ManualClock, NoAuctioneer, StaticCells};

    fn running(index: i32, since: i64) -> ActualLrp {
        ActualLrp {
            key: ActualLrpKey::new("pg", index, "d"),
            instance_key: InstanceKey::new(&format!("ig-{index}"), "gone-cell"),
            state: ActualState::Running,
            since,
            modification_tag: ModificationTag::new("e"),
            ..Default::default()
        }
    }

    async fn put(store: &dyn Store, row: &ActualLrp) {
        let op = Op::Put {
            key: keys::actual("pg", row.key.index, Presence::Ordinary),
            value: codec::encode(row),
        };
        store
            .commit(Txn {
                ops: vec![op],
                ..Txn::default()
            })
            .await
            .unwrap();
    }

    /// A row written between the snapshot and the apply fails the batch's
    /// check: that step alone re-reads its rows (and is skipped), the others
    /// still commit, with the events the one-by-one path emits.
    #[tokio::test]
    async fn a_row_changed_since_the_snapshot_drops_out_of_its_batch() {
        let store: Arc<dyn Store> =
            Arc::new(EmbeddedStore::in_memory(EmbeddedOptions::default()).unwrap());
        let bbs = Bbs::new(
            store.clone(),
            Arc::new(ManualClock::new(1_000)),
            Arc::new(NoAuctioneer),
            Arc::new(StaticCells::default()),
            BbsConfig::default(),
        );
        for index in 0..3 {
            put(&*store, &running(index, 1)).await;
        }
        let input = bbs.read_snapshot().await.unwrap();
        let rows = input.revisioned_actuals().expect("every row at its key");
        assert_eq!(rows.0.len(), 3);
        let before = store.current_revision().await.unwrap();
        // index 1 moves on after the snapshot
        put(&*store, &running(1, 2)).await;
        let actions: Vec<LrpAction> = input
            .snapshot
            .actuals
            .iter()
            .map(|a| LrpAction::MarkSuspect { actual: a.clone() })
            .collect();
        let mut outcomes: Vec<(i32, bool)> = bbs
            .apply_lrp_actions(actions, Some(rows))
            .await
            .into_iter()
            .map(|(a, r)| (a.key().index, matches!(r, Ok(Applied::Done))))
            .collect();
        outcomes.sort();
        assert_eq!(outcomes, vec![(0, true), (1, false), (2, true)]);
        let (suspects, _) = store.scan_prefix("actual/pg/").await.unwrap();
        let suspect_keys: Vec<&str> = suspects
            .iter()
            .map(|r| r.key.as_str())
            .filter(|k| k.ends_with("/2"))
            .collect();
        assert_eq!(
            suspect_keys,
            vec![
                keys::actual("pg", 0, Presence::Suspect),
                keys::actual("pg", 2, Presence::Suspect)
            ]
        );
        let changed = store.get(&keys::actual("pg", 1, Presence::Ordinary)).await;
        let changed: ActualLrp = codec::decode("k", &changed.unwrap().unwrap().value).unwrap();
        assert_eq!(
            changed,
            running(1, 2),
            "the changed row was not overwritten"
        );
        // each marked instance: changed to SUSPECT, then its replacement created
        let mut events = Vec::new();
        for entry in store.log_since(before + 1, 100).await.unwrap() {
            for e in entry.entries {
                events.push(codec::decode_event("log", &e).unwrap().0);
            }
        }
        let kinds: Vec<(i32, &str)> = events
            .iter()
            .map(|e| match e {
                Event::ActualLrpChanged { after, .. } => (after.key.index, "changed"),
                Event::ActualLrpCreated { actual_lrp } => (actual_lrp.key.index, "created"),
                other => panic!("unexpected event {other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                (0, "changed"),
                (0, "created"),
                (2, "changed"),
                (2, "created")
            ]
        );
    }
}
