//! The convergence runner: reads a snapshot through the store
//! (`converge_read`), asks the pure `diego_convergence::plan` what to do, and
//! applies each step guarded by the rows it read (`converge_apply`: a row
//! that changed since the snapshot is skipped; the next pass looks again).
//! Events are the ones the API paths emit. At the end, one batched LRP
//! auction request and one task auction request.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diego_convergence::{ConvergenceConfig, ConvergenceMetrics, TaskChange, Warning};
use diego_model::{Event, SchedulingInfo, Task};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::collab::{InstanceUpdate, LrpAuction};
use crate::error::Result;
use crate::keys;
use crate::txn::Change;
use crate::Bbs;

use super::converge_apply::Applied;

/// Diego's default `converge_repeat_interval`.
pub const DEFAULT_CONVERGE_INTERVAL_MS: u64 = 30_000;

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
    /// Desired and actual LRP records the read opened and decoded; the
    /// others were unchanged since the previous pass and reused.
    pub records_decoded: usize,
    /// The pure plan over it.
    pub plan_ms: f64,
    /// The whole pass (Diego's `ConvergenceLRPDuration` + task duration).
    pub duration_ms: f64,
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
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
        let input = self.read_snapshot().await?;
        let snapshot = &input.snapshot;
        report.snapshot_ms = ms_since(t);
        report.records_decoded = input.decoded;
        let t = Instant::now();
        let plan = diego_convergence::plan(snapshot, self.now(), cfg);
        report.plan_ms = ms_since(t);
        report.metrics = diego_convergence::metrics(snapshot, &plan);
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
        let results = self
            .apply_lrp_actions(plan.lrp_actions, input.revisioned_actuals())
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
        drop(infos);
        self.keep_for_next_pass(input);
        report.duration_ms = ms_since(started);
        Ok(report)
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
/// the original's timer is re-armed only when both halves are done. While
/// it waits for its first pass it warms the convergence cache (ADR 0030),
/// so that pass reads only what changed since the start; a first pass due
/// before the warm-up ends waits for it.
pub fn spawn_converger(
    bbs: Bbs,
    cfg: ConvergenceConfig,
    interval_ms: u64,
    trigger: Arc<Notify>,
    callbacks: Option<crate::callbacks::CallbackKicks>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let wait = || async {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(interval_ms)) => {}
                _ = trigger.notified() => {}
            }
        };
        let warm = async {
            match bbs.warm_convergence_cache().await {
                Ok(w) => tracing::info!(
                    duration_ms = format!("{:.1}", w.duration_ms),
                    records_decoded = w.records_decoded,
                    "convergence cache warmed"
                ),
                // the first pass decodes what the warm-up could not
                Err(e) => tracing::warn!(error = %e, "convergence cache warm-up failed"),
            }
        };
        tokio::join!(warm, wait());
        loop {
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
            wait().await;
        }
    })
}
