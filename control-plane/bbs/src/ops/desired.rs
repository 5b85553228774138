//! Desired LRP operations (spec §2.5).

use diego_model::{
    validate, ActualLrp, ActualLrpKey, ActualState, DesiredLrp, DesiredLrpUpdate, Event,
    ModelError, ModificationTag, Presence, SchedulingInfo,
};

use crate::collab::{InstanceUpdate, LrpAuction};
use crate::error::Result;
use crate::keys;
use crate::txn::{Change, Versioned};
use crate::Bbs;

pub(crate) fn new_epoch() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Bbs {
    async fn desired_record(&self, process_guid: &str) -> Result<Versioned<DesiredLrp>> {
        validate::guid("process_guid", process_guid)?;
        self.read(&keys::desired(process_guid))
            .await?
            .ok_or_else(|| ModelError::not_found().into())
    }

    /// `DesireDesiredLRP`: the desired record plus one UNCLAIMED actual per
    /// index, in one transaction; then one auction request for all of them.
    pub async fn desire_lrp(&self, mut lrp: DesiredLrp) -> Result<()> {
        validate::desired_lrp(&lrp)?;
        lrp.modification_tag = ModificationTag::new(new_epoch());
        let desired_key = keys::desired(&lrp.process_guid);
        let indices = self
            .with_retries(|| async {
                if self.read::<DesiredLrp>(&desired_key).await?.is_some() {
                    return Err(ModelError::exists().into());
                }
                // Instances of an earlier LRP with this guid may still be
                // stopping: like the original, their indices are skipped
                // (convergence fills them once the rep removes the rows),
                // rather than refusing the whole desire as a duplicate.
                let existing = self.actual_rows(&lrp.process_guid).await?;
                let now = self.now();
                let mut change = Change::new();
                change
                    .create(desired_key.clone(), &lrp)
                    .emit(Event::DesiredLrpCreated {
                        desired_lrp: lrp.clone(),
                    });
                let mut indices = Vec::new();
                for index in 0..lrp.instances {
                    let taken = existing.iter().any(|r| {
                        r.value.key.index == index && r.value.presence == Presence::Ordinary
                    });
                    if !taken {
                        self.create_unclaimed(&mut change, &lrp, index, now);
                        indices.push(index);
                    }
                }
                match self.commit(change).await {
                    Err(crate::BbsError::Store(diego_store::StoreError::Conflict { key }))
                        if key == desired_key =>
                    {
                        Err(ModelError::exists().into())
                    }
                    other => other.map(|_| indices),
                }
            })
            .await?;
        self.request_lrp_auctions(vec![LrpAuction {
            info: lrp.scheduling_info(),
            indices,
        }])
        .await;
        Ok(())
    }

    pub(crate) fn create_unclaimed(
        &self,
        change: &mut Change,
        lrp: &DesiredLrp,
        index: i32,
        now: i64,
    ) {
        let key = ActualLrpKey::new(&lrp.process_guid, index, &lrp.domain);
        let actual = ActualLrp::unclaimed(key, &new_epoch(), now);
        change
            .create(
                keys::actual(&lrp.process_guid, index, Presence::Ordinary),
                &actual,
            )
            .emit(Event::ActualLrpCreated { actual_lrp: actual });
    }

    pub(crate) async fn request_lrp_auctions(&self, starts: Vec<LrpAuction>) {
        let starts: Vec<LrpAuction> = starts
            .into_iter()
            .filter(|s| !s.indices.is_empty())
            .collect();
        if starts.is_empty() {
            return;
        }
        if let Err(e) = self.auctioneer.request_lrp_auctions(starts).await {
            tracing::warn!(error = %e, "lrp auction request failed; convergence will retry");
        }
    }

    /// `UpdateDesireLRP`: instances, routes, annotation, metric tags.
    pub async fn update_desired_lrp(
        &self,
        process_guid: &str,
        update: DesiredLrpUpdate,
    ) -> Result<()> {
        validate::desired_lrp_update(&update)?;
        let (before, after, created) = self
            .with_retries(|| async {
                let rec = self.desired_record(process_guid).await?;
                let before = rec.value.clone();
                let mut after = before.clone();
                let old_instances = after.apply(&update);
                let now = self.now();
                let mut change = Change::new();
                change.update(&rec, &after).emit(Event::DesiredLrpChanged {
                    before: before.clone(),
                    after: after.clone(),
                });
                let mut created = Vec::new();
                if after.instances > old_instances {
                    let existing = self.actual_rows(process_guid).await?;
                    for index in old_instances..after.instances {
                        let taken = existing.iter().any(|r| {
                            r.value.key.index == index && r.value.presence == Presence::Ordinary
                        });
                        if !taken {
                            self.create_unclaimed(&mut change, &after, index, now);
                            created.push(index);
                        }
                    }
                }
                self.commit(change).await?;
                Ok((before, after, created))
            })
            .await?;
        if after.instances < before.instances {
            self.stop_indices_from(process_guid, after.instances)
                .await?;
        }
        if after.internal_route_hostnames() != before.internal_route_hostnames()
            || after.metric_tags != before.metric_tags
        {
            self.push_routes_and_tags(&after).await?;
        }
        self.request_lrp_auctions(vec![LrpAuction {
            info: after.scheduling_info(),
            indices: created,
        }])
        .await;
        Ok(())
    }

    /// `RemoveDesiredLRP`: deletes the desired record, then stops every instance.
    pub async fn remove_desired_lrp(&self, process_guid: &str) -> Result<()> {
        self.with_retries(|| async {
            let rec = self.desired_record(process_guid).await?;
            let mut change = Change::new();
            change.delete(&rec).emit(Event::DesiredLrpRemoved {
                desired_lrp: rec.value.clone(),
            });
            self.commit(change).await?;
            Ok(())
        })
        .await?;
        self.stop_indices_from(process_guid, 0).await
    }

    /// Shrinking: UNCLAIMED and CRASHED rows go at once; placed ones are
    /// stopped by their rep, which then removes the row.
    async fn stop_indices_from(&self, process_guid: &str, first_index: i32) -> Result<()> {
        let rows = self.actual_rows(process_guid).await?;
        for row in rows {
            let a = &row.value;
            if a.key.index < first_index || a.presence == Presence::Evacuating {
                continue;
            }
            match a.state {
                ActualState::Unclaimed | ActualState::Crashed => {
                    let mut change = Change::new();
                    change.delete(&row).emit(Event::ActualLrpRemoved {
                        actual_lrp: a.clone(),
                    });
                    // A conflict means the row moved on; convergence retires it later.
                    if let Err(e) = self.commit(change).await {
                        tracing::info!(error = %e, "actual changed while stopping; left to convergence");
                    }
                }
                ActualState::Claimed | ActualState::Running => self.stop_on_cell(a).await,
            }
        }
        Ok(())
    }

    /// Tells the reps of the placed (CLAIMED or RUNNING), non-evacuating
    /// instances the desired LRP's internal routes and metric tags. Best
    /// effort: convergence sends again whatever drifted.
    async fn push_routes_and_tags(&self, desired: &DesiredLrp) -> Result<()> {
        let routes = desired.internal_route_hostnames();
        let updates: Vec<InstanceUpdate> = self
            .actual_rows(&desired.process_guid)
            .await?
            .into_iter()
            .map(|row| row.value)
            .filter(|a| {
                a.presence != Presence::Evacuating
                    && matches!(a.state, ActualState::Claimed | ActualState::Running)
            })
            .map(|a| InstanceUpdate {
                internal_routes: routes.clone(),
                metric_tags: desired
                    .resolved_metric_tags(a.key.index, &a.instance_key.instance_guid),
                key: a.key,
                instance: a.instance_key,
            })
            .collect();
        self.update_on_cells(updates).await;
        Ok(())
    }

    /// Sends each update to its instance's rep; returns how many the reps
    /// took. Instances on cells without a presence are skipped (convergence
    /// handles lost cells).
    pub(crate) async fn update_on_cells(&self, updates: Vec<InstanceUpdate>) -> usize {
        if updates.is_empty() {
            return 0;
        }
        let cells = match self.cells.cells().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cell directory unavailable; instance updates deferred");
                return 0;
            }
        };
        let mut sent = 0;
        for u in &updates {
            let Some(cell) = cells.iter().find(|c| c.cell_id == u.instance.cell_id) else {
                continue;
            };
            match self.cells.update_lrp_instance(cell, u).await {
                Ok(()) => sent += 1,
                Err(e) => tracing::warn!(
                    error = %e,
                    process_guid = %u.key.process_guid,
                    index = u.key.index,
                    "instance update failed"
                ),
            }
        }
        sent
    }

    /// Asks the row's cell to stop it; if the cell is gone the row is deleted.
    pub(crate) async fn stop_on_cell(&self, a: &ActualLrp) {
        let cells = match self.cells.cells().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cell directory unavailable; stop deferred");
                return;
            }
        };
        match cells.iter().find(|c| c.cell_id == a.instance_key.cell_id) {
            Some(cell) => {
                if let Err(e) = self
                    .cells
                    .stop_lrp_instance(cell, &a.key, &a.instance_key)
                    .await
                {
                    tracing::warn!(error = %e, process_guid = %a.key.process_guid, "stop failed");
                }
            }
            None => {
                let key = keys::actual(&a.key.process_guid, a.key.index, a.presence);
                if let Ok(Some(row)) = self.read::<ActualLrp>(&key).await {
                    let mut change = Change::new();
                    change.delete(&row).emit(Event::ActualLrpRemoved {
                        actual_lrp: row.value.clone(),
                    });
                    let _ = self.commit(change).await;
                }
            }
        }
    }

    /// `DesiredLRPs` filtered by domain and process guids (empty = all).
    pub async fn desired_lrps(
        &self,
        domain: &str,
        process_guids: &[String],
    ) -> Result<Vec<DesiredLrp>> {
        let all: Vec<Versioned<DesiredLrp>> = self.scan(keys::DESIRED).await?;
        Ok(all
            .into_iter()
            .map(|v| v.value)
            .filter(|d| domain.is_empty() || d.domain == domain)
            .filter(|d| process_guids.is_empty() || process_guids.contains(&d.process_guid))
            .collect())
    }

    pub async fn desired_lrp_by_process_guid(&self, process_guid: &str) -> Result<DesiredLrp> {
        Ok(self.desired_record(process_guid).await?.value)
    }

    pub async fn scheduling_infos(
        &self,
        domain: &str,
        process_guids: &[String],
    ) -> Result<Vec<SchedulingInfo>> {
        Ok(self
            .desired_lrps(domain, process_guids)
            .await?
            .iter()
            .map(|d| d.scheduling_info())
            .collect())
    }
}
