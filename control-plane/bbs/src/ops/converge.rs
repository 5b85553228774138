//! The convergence runner: reads a snapshot through the store, asks the pure
//! `diego_convergence::plan` what to do, and applies each step as its own CAS
//! transaction that re-checks the rows it read (a row that changed since the
//! snapshot is skipped; the next pass looks again). Events are the ones the
//! API paths emit. At the end, one batched LRP auction request and one task
//! auction request.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diego_convergence::{
    ConvergenceConfig, ConvergenceMetrics, LrpAction, Snapshot, TaskChange, Warning,
};
use diego_model::{ActualLrp, Event, Presence, SchedulingInfo, Task};
use diego_store::StoreError;
use futures::StreamExt;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::collab::{InstanceUpdate, LrpAuction};
use crate::error::{BbsError, Result};
use crate::keys;
use crate::ops::actual::{ActualLrpFilter, Rows};
use crate::ops::desired::new_epoch;
use crate::txn::{Change, Versioned};
use crate::Bbs;

/// Diego's default `converge_repeat_interval`.
pub const DEFAULT_CONVERGE_INTERVAL_MS: u64 = 30_000;
/// Diego's `convergence_workers`: LRP steps applied at once.
const CONVERGENCE_WORKERS: usize = 20;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConvergeReport {
    pub expired_domains_deleted: usize,
    pub task_changes_applied: usize,
    pub lrp_actions_applied: usize,
    /// Steps skipped because their row changed since the snapshot.
    pub skipped_changed: usize,
    /// Steps that failed with a store error (retried by the next pass).
    pub failed: usize,
    pub lrp_indices_auctioned: usize,
    /// Running instances whose drifted routes or tags were sent to their rep.
    pub lrp_instances_updated: usize,
    pub tasks_auctioned: usize,
    /// Completed tasks whose completion callback is due again (spec §5.2.6).
    pub tasks_to_kick: Vec<String>,
    pub warnings: Vec<Warning>,
    /// What the pass saw and decided (Diego's convergence metrics).
    pub metrics: ConvergenceMetrics,
    /// Reading the snapshot (tasks, desired, actuals, cells, domains).
    pub snapshot_ms: f64,
    /// The pure plan over it.
    pub plan_ms: f64,
    /// The whole pass (Diego's `ConvergenceLRPDuration` + task duration).
    pub duration_ms: f64,
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

enum Applied {
    Done,
    Changed,
}

impl Bbs {
    /// One convergence pass (spec §5).
    #[tracing::instrument(name = "convergence pass", skip_all)]
    pub async fn converge(&self, cfg: &ConvergenceConfig) -> Result<ConvergeReport> {
        let started = Instant::now();
        let mut report = ConvergeReport {
            expired_domains_deleted: self.delete_expired_domains().await?,
            ..Default::default()
        };
        let t = Instant::now();
        let snapshot = self.read_snapshot().await?;
        report.snapshot_ms = ms_since(t);
        let t = Instant::now();
        let plan = diego_convergence::plan(&snapshot, self.now(), cfg);
        report.plan_ms = ms_since(t);
        report.metrics = diego_convergence::metrics(&snapshot, &plan);
        for w in &plan.warnings {
            tracing::warn!(warning = %w, "convergence");
        }
        for change in &plan.task_changes {
            if tally(&mut report, self.apply_task_change(change).await) {
                report.task_changes_applied += 1;
            }
        }
        let infos: HashMap<&str, &SchedulingInfo> = snapshot
            .desired
            .iter()
            .map(|d| (d.process_guid.as_str(), d))
            .collect();
        // Owned actions and a cloned handle keep the futures free of borrowed
        // lifetimes, so the pass can run inside a spawned task.
        let results: Vec<(LrpAction, Result<Applied>)> =
            futures::stream::iter(plan.lrp_actions.into_iter().map(|a| (self.clone(), a)))
                .map(|(bbs, a)| async move {
                    let result = bbs.apply_lrp_action(&a).await;
                    (a, result)
                })
                .buffer_unordered(CONVERGENCE_WORKERS)
                .collect()
                .await;
        let mut starts: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
        for (action, result) in results {
            if !tally(&mut report, result) {
                continue;
            }
            report.lrp_actions_applied += 1;
            if action.requests_auction() {
                let key = action.key();
                starts
                    .entry(key.process_guid.clone())
                    .or_default()
                    .insert(key.index);
            }
        }
        let auctions: Vec<LrpAuction> = starts
            .into_iter()
            .filter_map(|(pg, indices)| {
                let info = (*infos.get(pg.as_str())?).clone();
                Some(LrpAuction {
                    info,
                    indices: indices.into_iter().collect(),
                })
            })
            .collect();
        let updates: Vec<InstanceUpdate> = plan
            .lrp_updates
            .into_iter()
            .map(|u| InstanceUpdate {
                key: u.actual.key,
                instance: u.actual.instance_key,
                internal_routes: u.internal_routes,
                metric_tags: u.metric_tags,
            })
            .collect();
        report.lrp_instances_updated = self.update_on_cells(updates).await;
        report.lrp_indices_auctioned = auctions.iter().map(|a| a.indices.len()).sum();
        report.tasks_auctioned = plan.task_auctions.len();
        self.request_lrp_auctions(auctions).await;
        self.request_task_auctions(plan.task_auctions).await;
        report.tasks_to_kick = plan.tasks_to_kick;
        report.warnings = plan.warnings;
        report.duration_ms = ms_since(started);
        Ok(report)
    }

    async fn read_snapshot(&self) -> Result<Snapshot> {
        let cell_ids = match self.cells.cells().await {
            Ok(cells) => Some(cells.into_iter().map(|c| c.cell_id).collect()),
            Err(e) => {
                tracing::warn!(error = %e, "cell directory unavailable during convergence");
                None
            }
        };
        // The four reads are independent (each is as fresh as the pass needs:
        // every step re-checks its rows before it writes), so they overlap.
        let actual_filter = ActualLrpFilter::default();
        let (desired, tasks, actuals, domains) = tokio::try_join!(
            self.desired_lrps("", &[]),
            self.tasks("", ""),
            self.actual_lrps(&actual_filter),
            self.domains(),
        )?;
        Ok(Snapshot {
            tasks,
            metric_tags: desired
                .iter()
                .filter(|d| !d.metric_tags.is_empty())
                .map(|d| (d.process_guid.clone(), d.metric_tags.clone()))
                .collect(),
            desired: desired.iter().map(|d| d.scheduling_info()).collect(),
            actuals,
            cell_ids,
            fresh_domains: domains.into_iter().collect(),
        })
    }

    async fn apply_task_change(&self, c: &TaskChange) -> Result<Applied> {
        let Some(rec) = self.read::<Task>(&keys::task(&c.before.task_guid)).await? else {
            return Ok(Applied::Changed);
        };
        if rec.value != c.before {
            return Ok(Applied::Changed);
        }
        let mut change = Change::new();
        match &c.after {
            Some(after) => change.update(&rec, after).emit(Event::TaskChanged {
                before: c.before.clone(),
                after: after.clone(),
            }),
            None => change.delete(&rec).emit(Event::TaskRemoved {
                task: c.before.clone(),
            }),
        };
        self.commit_step(change).await
    }

    async fn apply_lrp_action(&self, action: &LrpAction) -> Result<Applied> {
        let key = action.key();
        let rows = self.index_rows(&key.process_guid, key.index).await?;
        let now = self.now();
        let mut change = Change::new();
        match action {
            LrpAction::CreateMissing { key } => {
                if rows.ordinary.is_some() {
                    return Ok(Applied::Changed);
                }
                change.put_row(&rows, &ActualLrp::unclaimed(key.clone(), &new_epoch(), now));
            }
            LrpAction::Retire { actual, .. } => {
                if !same(&rows.ordinary, Some(actual)) {
                    return Ok(Applied::Changed);
                }
                // The API's retire path: unplaced rows go now, placed ones are
                // stopped by their rep (or deleted when their cell is gone).
                return match self.retire_actual_lrp(&actual.key).await {
                    Ok(()) => Ok(Applied::Done),
                    Err(e) if e.code() == Some(diego_model::ErrorCode::ResourceNotFound) => {
                        Ok(Applied::Changed)
                    }
                    Err(e) => Err(e),
                };
            }
            LrpAction::AuctionStaleUnclaimed { actual } => {
                // Nothing to write: the row only needs another auction.
                let still = same(&rows.ordinary, Some(actual));
                return Ok(if still {
                    Applied::Done
                } else {
                    Applied::Changed
                });
            }
            LrpAction::RestartCrashed { actual } => {
                if !same(&rows.ordinary, Some(actual)) {
                    return Ok(Applied::Changed);
                }
                let mut after = actual.clone();
                if after.unclaim(true, now).is_ok() {
                    change.put_row(&rows, &after);
                }
            }
            LrpAction::MarkSuspect { actual } => {
                let Some(ordinary) = rows.ordinary.as_ref().filter(|o| o.value == *actual) else {
                    return Ok(Applied::Changed);
                };
                if rows.suspect.is_some() {
                    return Ok(Applied::Changed);
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
                    return Ok(Applied::Changed);
                }
                let mut after = actual.clone();
                if after.unclaim(false, now).is_err() {
                    return Ok(Applied::Changed);
                }
                change.put_row(&rows, &after);
            }
            LrpAction::PromoteSuspect {
                suspect,
                replacement,
            } => {
                if !same(&rows.suspect, Some(suspect))
                    || !same(&rows.ordinary, replacement.as_ref())
                {
                    return Ok(Applied::Changed);
                }
                self.promote(&mut change, &rows, suspect);
            }
            LrpAction::RemoveExtraSuspect { suspect }
            | LrpAction::RemoveOrphanedSuspect { suspect } => {
                if !same(&rows.suspect, Some(suspect)) {
                    return Ok(Applied::Changed);
                }
                change.delete_row(&rows, Presence::Suspect);
            }
            LrpAction::DeleteEvacuating { actual } => {
                if !same(&rows.evacuating, Some(actual)) {
                    return Ok(Applied::Changed);
                }
                change.delete_row(&rows, Presence::Evacuating);
            }
        }
        if change.is_empty() {
            return Ok(Applied::Done);
        }
        self.commit_step(change).await
    }

    /// §4.4 promote: the replacement is removed and the SUSPECT instance is
    /// the ORDINARY one again (removed + changed events, as the original).
    fn promote(&self, change: &mut Change, rows: &Rows, suspect: &ActualLrp) {
        let mut promoted = suspect.clone();
        promoted.presence = Presence::Ordinary;
        let suspect_rec = rows.suspect.as_ref().expect("checked by the caller");
        change.delete(suspect_rec);
        match &rows.ordinary {
            Some(replacement) => {
                change
                    .update(replacement, &promoted)
                    .emit(Event::ActualLrpRemoved {
                        actual_lrp: replacement.value.clone(),
                    })
            }
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

    /// Commits one step; a CAS conflict means a row moved on since it was read.
    async fn commit_step(&self, change: Change) -> Result<Applied> {
        match self.commit(change).await {
            Ok(_) => Ok(Applied::Done),
            Err(BbsError::Store(StoreError::Conflict { .. })) => Ok(Applied::Changed),
            Err(e) => Err(e),
        }
    }
}

fn same(read: &Option<Versioned<ActualLrp>>, planned: Option<&ActualLrp>) -> bool {
    read.as_ref().map(|r| &r.value) == planned
}

/// Counts a skipped or failed step; true when the step was applied.
fn tally(report: &mut ConvergeReport, result: Result<Applied>) -> bool {
    match result {
        Ok(Applied::Done) => true,
        Ok(Applied::Changed) => {
            report.skipped_changed += 1;
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "convergence step failed; the next pass retries");
            report.failed += 1;
            false
        }
    }
}

/// Runs a pass every `interval_ms`, and at once whenever `trigger` is
/// notified (a cell disappeared). The interval restarts after each pass, as
/// the original's timer is re-armed only when both halves are done.
pub fn spawn_converger(
    bbs: Bbs,
    cfg: ConvergenceConfig,
    interval_ms: u64,
    trigger: Arc<Notify>,
    callbacks: Option<crate::callbacks::CallbackKicks>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(interval_ms)) => {}
                _ = trigger.notified() => {}
            }
            match bbs.converge(&cfg).await {
                Ok(r) => {
                    let m = &r.metrics;
                    tracing::info!(
                        duration_ms = format!("{:.1}", r.duration_ms),
                        lrps_desired = m.lrps_desired,
                        lrps_running = m.lrps_running,
                        lrps_missing = m.lrps_missing,
                        lrps_extra = m.lrps_extra,
                        crashed = m.crashed_actual_lrps,
                        missing_cells = m.missing_cells,
                        lrp_actions = r.lrp_actions_applied,
                        task_changes = r.task_changes_applied,
                        instances_updated = r.lrp_instances_updated,
                        skipped = r.skipped_changed,
                        failed = r.failed,
                        "convergence pass done"
                    );
                    if r.duration_ms > crate::metrics::SLOW_CONVERGENCE_MS {
                        tracing::warn!(
                            duration_ms = format!("{:.0}", r.duration_ms),
                            snapshot_ms = format!("{:.0}", r.snapshot_ms),
                            "convergence pass took longer than 10 s"
                        );
                    }
                    crate::metrics::convergence().record(&r);
                    // completed tasks whose callback is due again
                    if let Some(kicks) = &callbacks {
                        kicks.kick(r.tasks_to_kick);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "convergence pass failed"),
            }
        }
    })
}
