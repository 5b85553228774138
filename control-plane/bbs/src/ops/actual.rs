//! Actual LRP operations (spec §4.2, suspects §4.4).

use diego_model::{
    validate, ActualLrp, ActualLrpKey, ActualState, Event, InstanceKey, ModelError, Presence,
    RunningInfo,
};

use crate::collab::LrpAuction;
use crate::error::Result;
use crate::keys;
use crate::txn::{Change, Versioned};
use crate::Bbs;

/// `ActualLRPsRequest` filters, ANDed; empty = no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActualLrpFilter {
    pub domain: String,
    pub cell_id: String,
    pub process_guid: String,
    pub index: Option<i32>,
}

/// The up-to-three rows of one index, as read.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub ordinary: Option<Versioned<ActualLrp>>,
    pub evacuating: Option<Versioned<ActualLrp>>,
    pub suspect: Option<Versioned<ActualLrp>>,
}

impl Rows {
    pub fn get(&self, p: Presence) -> Option<&Versioned<ActualLrp>> {
        match p {
            Presence::Ordinary => self.ordinary.as_ref(),
            Presence::Evacuating => self.evacuating.as_ref(),
            Presence::Suspect => self.suspect.as_ref(),
        }
    }

    fn suspect_is(&self, ik: &InstanceKey) -> bool {
        self.suspect
            .as_ref()
            .is_some_and(|s| s.value.instance_key == *ik)
    }
}

impl Change {
    /// Writes `row` at its presence: an update of the existing row or a create.
    pub(crate) fn put_row(&mut self, rows: &Rows, row: &ActualLrp) -> &mut Self {
        match rows.get(row.presence) {
            Some(existing) => self.update(existing, row).emit(Event::ActualLrpChanged {
                before: existing.value.clone(),
                after: row.clone(),
            }),
            None => self
                .create(
                    keys::actual(&row.key.process_guid, row.key.index, row.presence),
                    row,
                )
                .emit(Event::ActualLrpCreated {
                    actual_lrp: row.clone(),
                }),
        }
    }

    pub(crate) fn delete_row(&mut self, rows: &Rows, presence: Presence) -> &mut Self {
        if let Some(existing) = rows.get(presence) {
            self.delete(existing).emit(Event::ActualLrpRemoved {
                actual_lrp: existing.value.clone(),
            });
        }
        self
    }
}

fn validate_index(field: &str, index: i32) -> Result<()> {
    if index < 0 {
        return Err(ModelError::invalid_field(field, "must not be negative").into());
    }
    Ok(())
}

fn validate_key(key: &ActualLrpKey) -> Result<()> {
    validate::guid("actual_lrp_key.process_guid", &key.process_guid)?;
    validate_index("actual_lrp_key.index", key.index)
}

fn validate_instance_key(ik: &InstanceKey) -> Result<()> {
    validate::non_empty("actual_lrp_instance_key.instance_guid", &ik.instance_guid)?;
    validate::non_empty("actual_lrp_instance_key.cell_id", &ik.cell_id)?;
    Ok(())
}

impl Bbs {
    pub(crate) async fn actual_rows(
        &self,
        process_guid: &str,
    ) -> Result<Vec<Versioned<ActualLrp>>> {
        self.scan(&keys::actual_lrp_prefix(process_guid)).await
    }

    pub(crate) async fn index_rows(&self, process_guid: &str, index: i32) -> Result<Rows> {
        let mut rows = Rows::default();
        for r in self
            .scan::<ActualLrp>(&keys::actual_index_prefix(process_guid, index))
            .await?
        {
            match r.value.presence {
                Presence::Ordinary => rows.ordinary = Some(r),
                Presence::Evacuating => rows.evacuating = Some(r),
                Presence::Suspect => rows.suspect = Some(r),
            }
        }
        Ok(rows)
    }

    /// `ActualLRPs`: every presence, filtered.
    pub async fn actual_lrps(&self, f: &ActualLrpFilter) -> Result<Vec<ActualLrp>> {
        let prefix = if f.process_guid.is_empty() {
            keys::ACTUAL.to_string()
        } else {
            keys::actual_lrp_prefix(&f.process_guid)
        };
        let rows: Vec<Versioned<ActualLrp>> = self.scan(&prefix).await?;
        Ok(rows
            .into_iter()
            .map(|v| v.value)
            .filter(|a| f.domain.is_empty() || a.key.domain == f.domain)
            .filter(|a| f.cell_id.is_empty() || a.instance_key.cell_id == f.cell_id)
            .filter(|a| f.index.is_none_or(|i| a.key.index == i))
            .collect())
    }

    /// `ClaimActualLRP`.
    pub async fn claim_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        ik: &InstanceKey,
    ) -> Result<()> {
        validate::guid("process_guid", process_guid)?;
        validate_index("index", index)?;
        validate_instance_key(ik)?;
        self.with_retries(|| async {
            let rows = self.index_rows(process_guid, index).await?;
            if rows.suspect_is(ik) {
                return Ok(());
            }
            let row = rows.ordinary.as_ref().ok_or_else(ModelError::not_found)?;
            let mut after = row.value.clone();
            if after.claim(ik, self.now())? {
                let mut change = Change::new();
                change.put_row(&rows, &after);
                self.commit(change).await?;
            }
            Ok(())
        })
        .await
    }

    /// `StartActualLRP`: also the rep's heartbeat. A start of the replacement
    /// removes the index's EVACUATING and SUSPECT rows.
    pub async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        info: &RunningInfo,
    ) -> Result<()> {
        validate_key(key)?;
        validate_instance_key(ik)?;
        validate::non_empty("actual_lrp_net_info.address", &info.net_info.address)?;
        self.with_retries(|| async {
            let rows = self.index_rows(&key.process_guid, key.index).await?;
            if rows.suspect_is(ik) {
                return Ok(());
            }
            let now = self.now();
            let mut after = match &rows.ordinary {
                Some(r) => r.value.clone(),
                None => ActualLrp::unclaimed(key.clone(), &crate::ops::desired::new_epoch(), now),
            };
            let changed = after.start(ik, info, now)?;
            let mut change = Change::new();
            if changed || rows.ordinary.is_none() {
                change.put_row(&rows, &after);
            }
            change
                .delete_row(&rows, Presence::Evacuating)
                .delete_row(&rows, Presence::Suspect);
            if !change.is_empty() {
                self.commit(change).await?;
            }
            Ok(())
        })
        .await
    }

    /// `CrashActualLRP`: counts the crash; immediate restarts are auctioned now.
    pub async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        reason: &str,
    ) -> Result<()> {
        validate_key(key)?;
        validate_instance_key(ik)?;
        let restart = self
            .with_retries(|| async {
                let rows = self.index_rows(&key.process_guid, key.index).await?;
                if rows.suspect_is(ik) {
                    let mut change = Change::new();
                    change.delete_row(&rows, Presence::Suspect);
                    self.commit(change).await?;
                    return Ok(false);
                }
                let row = rows.ordinary.as_ref().ok_or_else(ModelError::not_found)?;
                let mut after = row.value.clone();
                let now = self.now();
                let outcome = after.crash(ik, reason, &self.config.restart_policy, now)?;
                // Spec §2.7: the crashed event goes first in its transaction.
                let mut change = Change::new();
                change
                    .emit(Event::ActualLrpCrashed {
                        actual_lrp: row.value.clone(),
                        crash_count: outcome.crash_count,
                        crash_reason: after.crash_reason.clone(),
                        since: now,
                    })
                    .put_row(&rows, &after);
                self.commit(change).await?;
                Ok(outcome.restart_now)
            })
            .await?;
        if restart {
            self.auction_indices(&key.process_guid, vec![key.index])
                .await;
        }
        Ok(())
    }

    /// Requests auctions for some indices of a desired LRP (if it still exists).
    pub(crate) async fn auction_indices(&self, process_guid: &str, indices: Vec<i32>) {
        match self
            .read::<diego_model::DesiredLrp>(&keys::desired(process_guid))
            .await
        {
            Ok(Some(d)) => {
                self.request_lrp_auctions(vec![LrpAuction {
                    info: d.value.scheduling_info(),
                    indices,
                }])
                .await
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read desired lrp for auction"),
        }
    }

    /// `FailActualLRP`: the auction could not place it. Missing row: OK.
    pub async fn fail_actual_lrp(&self, key: &ActualLrpKey, placement_error: &str) -> Result<()> {
        validate_key(key)?;
        validate::non_empty("error_message", placement_error)?;
        self.with_retries(|| async {
            let rows = self.index_rows(&key.process_guid, key.index).await?;
            let Some(row) = rows.ordinary.as_ref() else {
                return Ok(());
            };
            let mut after = row.value.clone();
            after.fail_placement(placement_error, self.now())?;
            let mut change = Change::new();
            change.put_row(&rows, &after);
            self.commit(change).await?;
            Ok(())
        })
        .await
    }

    /// `RemoveActualLRP`: the rep stopped it on purpose (or found no container).
    pub async fn remove_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        ik: Option<&InstanceKey>,
    ) -> Result<()> {
        validate::guid("process_guid", process_guid)?;
        validate_index("index", index)?;
        self.with_retries(|| async {
            let rows = self.index_rows(process_guid, index).await?;
            let row = rows.ordinary.as_ref().ok_or_else(ModelError::not_found)?;
            if let Some(ik) = ik {
                if row.value.instance_key != *ik {
                    return Err(ModelError::not_found().into());
                }
            }
            let mut change = Change::new();
            change.delete_row(&rows, Presence::Ordinary);
            self.commit(change).await?;
            Ok(())
        })
        .await
    }

    /// `RetireActualLRP`: unplaced rows go at once; placed ones are stopped by their rep.
    pub async fn retire_actual_lrp(&self, key: &ActualLrpKey) -> Result<()> {
        validate_key(key)?;
        let rows = self.index_rows(&key.process_guid, key.index).await?;
        let row = rows.ordinary.as_ref().ok_or_else(ModelError::not_found)?;
        match row.value.state {
            ActualState::Unclaimed | ActualState::Crashed => {
                let mut change = Change::new();
                change.delete_row(&rows, Presence::Ordinary);
                self.commit(change).await?;
            }
            ActualState::Claimed | ActualState::Running => self.stop_on_cell(&row.value).await,
        }
        Ok(())
    }
}
