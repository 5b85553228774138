//! Evacuation calls (spec §4.5). The rules are pure functions of the model
//! (`diego_model::evacuation`); this module reads the index's rows, applies
//! the row changes they return in one transaction, and requests auctions.

use diego_model::evacuation::{self, DesiredView, EvacuationOutcome, IndexRows, RowChange};
use diego_model::{ActualLrpKey, ActualState, DesiredLrp, InstanceKey, Presence, RunningInfo};

use crate::error::Result;
use crate::keys;
use crate::ops::actual::Rows;
use crate::txn::Change;
use crate::Bbs;

impl Rows {
    pub(crate) fn to_model(&self) -> IndexRows {
        IndexRows {
            ordinary: self.ordinary.as_ref().map(|r| r.value.clone()),
            evacuating: self.evacuating.as_ref().map(|r| r.value.clone()),
            suspect: self.suspect.as_ref().map(|r| r.value.clone()),
        }
    }
}

impl Change {
    pub(crate) fn apply_rows(&mut self, rows: &Rows, changes: &[RowChange]) -> &mut Self {
        for c in changes {
            match c {
                RowChange::Put(row) => self.put_row(rows, row),
                RowChange::Delete(p) => self.delete_row(rows, *p),
            };
        }
        self
    }
}

impl Bbs {
    /// Reads the index, asks `rule` what to do, commits it, requests an
    /// auction if the rule says so.
    async fn evacuate_with<F>(&self, key: &ActualLrpKey, rule: F) -> Result<bool>
    where
        F: Fn(&IndexRows, i64) -> std::result::Result<EvacuationOutcome, diego_model::ModelError>,
    {
        let outcome = self
            .with_retries(|| async {
                let rows = self.index_rows(&key.process_guid, key.index).await?;
                let outcome = rule(&rows.to_model(), self.now())?;
                let mut change = Change::new();
                change.apply_rows(&rows, &outcome.changes);
                if !change.is_empty() {
                    self.commit(change).await?;
                }
                Ok(outcome)
            })
            .await?;
        if outcome.request_auction {
            self.auction_indices(&key.process_guid, vec![key.index])
                .await;
        }
        Ok(outcome.keep_container)
    }

    pub async fn evacuate_claimed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
    ) -> Result<bool> {
        self.evacuate_with(key, |rows, now| {
            evacuation::evacuate_claimed(rows, key, ik, now)
        })
        .await
    }

    pub async fn evacuate_crashed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        reason: &str,
    ) -> Result<bool> {
        diego_model::validate::non_empty("error_message", reason)?;
        let policy = self.config.restart_policy.clone();
        self.evacuate_with(key, |rows, now| {
            evacuation::evacuate_crashed(rows, key, ik, reason, &policy, now)
        })
        .await
    }

    pub async fn evacuate_stopped_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
    ) -> Result<bool> {
        self.evacuate_with(key, |rows, _| evacuation::evacuate_stopped(rows, key, ik))
            .await
    }

    pub async fn evacuate_running_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        info: &RunningInfo,
    ) -> Result<bool> {
        let desired = self.desired_view(&key.process_guid).await?;
        self.evacuate_with(key, |rows, now| {
            evacuation::evacuate_running(rows, key, ik, info, desired, now)
        })
        .await
    }

    async fn desired_view(&self, process_guid: &str) -> Result<Option<DesiredView>> {
        let Some(d) = self
            .read::<DesiredLrp>(&keys::desired(process_guid))
            .await?
        else {
            return Ok(None);
        };
        let running_ordinary = self
            .actual_rows(process_guid)
            .await?
            .iter()
            .filter(|r| {
                r.value.presence == Presence::Ordinary && r.value.state == ActualState::Running
            })
            .count() as i32;
        Ok(Some(DesiredView {
            strategy: d.value.update_strategy,
            instances: d.value.instances,
            running_ordinary,
        }))
    }

    pub async fn remove_evacuating_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
    ) -> Result<()> {
        self.with_retries(|| async {
            let rows = self.index_rows(&key.process_guid, key.index).await?;
            let changes = evacuation::remove_evacuating(&rows.to_model(), ik)?;
            let mut change = Change::new();
            change.apply_rows(&rows, &changes);
            if !change.is_empty() {
                self.commit(change).await?;
            }
            Ok(())
        })
        .await
    }
}
