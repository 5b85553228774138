//! The bulker: every polling interval it re-processes every container and
//! cleans up BBS records that have no container on this cell (spec §7.3).

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use diego_model::{Presence, TaskState};
use diego_sdk::ActualFilter;

use crate::state::{TAG_INSTANCE_GUID, TAG_LIFECYCLE};
use crate::Rep;

impl Rep {
    pub(crate) fn spawn_bulker(&self) -> tokio::task::JoinHandle<()> {
        let rep = self.clone();
        tokio::spawn(async move {
            // A first pass at start: records of containers that died with an
            // earlier run of this cell are cleaned up at once, not a period later.
            if let Err(e) = rep.sync_once().await {
                tracing::warn!(error = %e, "initial sync failed");
            }
            loop {
                let cfg = &rep.inner.cfg;
                let ms = if rep.inner.evacuating.load(Ordering::SeqCst) {
                    cfg.evacuation_polling_interval_ms
                } else {
                    cfg.polling_interval_ms
                };
                tokio::time::sleep(Duration::from_millis(ms.max(100))).await;
                if let Err(e) = rep.sync_once().await {
                    tracing::warn!(error = %e, "bulk sync failed");
                }
            }
        })
    }

    /// One reconciliation pass, both ways; its duration and the cell's
    /// capacity are recorded as metrics.
    pub async fn sync_once(&self) -> Result<(), diego_model::ModelError> {
        let started = std::time::Instant::now();
        let res = self.reconcile().await;
        let cell = &self.inner.cfg.cell_id;
        let m = crate::metrics::instruments();
        m.bulk_sync(cell, res.is_ok(), started.elapsed().as_secs_f64() * 1e3);
        let exec = &self.inner.exec;
        m.capacity(cell, exec.total(), exec.remaining());
        let (mut lrps, mut tasks) = (0, 0);
        for c in exec.list() {
            match c.tags.get(TAG_LIFECYCLE).map(String::as_str) {
                Some("lrp") => lrps += 1,
                Some("task") => tasks += 1,
                _ => {}
            }
        }
        m.containers(cell, lrps, tasks);
        res
    }

    async fn reconcile(&self) -> Result<(), diego_model::ModelError> {
        let cell = self.inner.cfg.cell_id.clone();
        let containers = self.inner.exec.list();
        let instance_guids: HashSet<String> = containers
            .iter()
            .filter_map(|c| c.tags.get(TAG_INSTANCE_GUID).cloned())
            .collect();
        let container_guids: HashSet<String> = containers.iter().map(|c| c.guid.clone()).collect();
        for c in &containers {
            self.process(&c.guid).await;
        }
        let bbs = &self.inner.bbs;
        let actuals = bbs
            .actual_lrps(ActualFilter {
                cell_id: cell.clone(),
                ..Default::default()
            })
            .await?;
        for a in actuals {
            if instance_guids.contains(&a.instance_key.instance_guid) {
                continue;
            }
            // A record on this cell without a container: the container is gone.
            let res = match a.presence {
                Presence::Ordinary => {
                    bbs.remove_actual_lrp(&a.key.process_guid, a.key.index, Some(&a.instance_key))
                        .await
                }
                Presence::Evacuating => {
                    bbs.remove_evacuating_actual_lrp(&a.key, &a.instance_key)
                        .await
                }
                Presence::Suspect => Ok(()),
            };
            if let Err(e) = res {
                tracing::info!(error = %e, process_guid = %a.key.process_guid, "residual lrp cleanup");
            }
        }
        for t in bbs.tasks("", &cell).await? {
            if t.state == TaskState::Running && !container_guids.contains(&t.task_guid) {
                let reason = "task container does not exist";
                if let Err(e) = bbs
                    .complete_task(&t.task_guid, &cell, true, reason, "")
                    .await
                {
                    tracing::info!(error = %e, task_guid = %t.task_guid, "residual task cleanup");
                }
            }
        }
        Ok(())
    }
}
