//! Evacuation (spec §7.5) and clean shutdown.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use diego_executor::{Container, ContainerState};

use crate::state::TAG_LIFECYCLE;
use crate::Rep;

impl Rep {
    pub(crate) async fn process_lrp_evacuating(&self, c: &Container) {
        let Some(t) = self.lrp_tags(c) else { return };
        let bbs = &self.inner.bbs;
        match c.state {
            ContainerState::Reserved | ContainerState::Initializing | ContainerState::Created => {
                let _ = bbs.evacuate_claimed_actual_lrp(&t.key, &t.ik).await;
                let _ = self.inner.exec.delete(&c.guid).await;
            }
            ContainerState::Running => {
                let info = self.running_info(c);
                match bbs.evacuate_running_actual_lrp(&t.key, &t.ik, &info).await {
                    Ok(true) => {}
                    Ok(false) | Err(_) => {
                        let _ = self.inner.exec.delete(&c.guid).await;
                    }
                }
            }
            ContainerState::Completed => {
                let r = c.run_result.clone().unwrap_or_default();
                let _ = if r.stopped {
                    bbs.evacuate_stopped_actual_lrp(&t.key, &t.ik).await
                } else {
                    bbs.evacuate_crashed_actual_lrp(&t.key, &t.ik, &r.failure_reason)
                        .await
                };
                let _ = self.inner.exec.delete(&c.guid).await;
            }
        }
    }

    fn lrp_containers(&self) -> Vec<Container> {
        self.inner
            .exec
            .list()
            .into_iter()
            .filter(|c| c.tags.get(TAG_LIFECYCLE).map(String::as_str) == Some("lrp"))
            .collect()
    }

    /// Drains the cell: the auctioneer stops sending work, LRP instances are
    /// replaced elsewhere before their containers go. Returns when no LRP
    /// container is left or the evacuation timeout passed.
    pub async fn evacuate(&self) {
        if self.inner.evacuating.swap(true, Ordering::SeqCst) {
            return;
        }
        tracing::info!(cell = %self.inner.cfg.cell_id, "evacuating");
        let deadline = Instant::now() + Duration::from_millis(self.inner.cfg.evacuation_timeout_ms);
        let poll = Duration::from_millis(
            self.inner
                .cfg
                .evacuation_polling_interval_ms
                .clamp(100, 10_000),
        );
        loop {
            let left = self.lrp_containers();
            if left.is_empty() || Instant::now() >= deadline {
                return;
            }
            for c in left {
                self.process(&c.guid).await;
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Stops every container and reports each as stopped, so nothing is left
    /// on the machine and the BBS knows the instances are gone.
    pub async fn shutdown(&self) {
        self.inner.evacuating.store(true, Ordering::SeqCst);
        let containers = self.inner.exec.list();
        let stops = containers.iter().map(|c| async move {
            if let Some(t) = self.lrp_tags(c) {
                let _ = self
                    .inner
                    .bbs
                    .remove_actual_lrp(&t.key.process_guid, t.key.index, Some(&t.ik))
                    .await;
            }
            let _ = self.inner.exec.delete(&c.guid).await;
        });
        futures::future::join_all(stops).await;
    }
}
