//! The cell presence heartbeat (spec §7.2).

use std::time::Duration;

use diego_model::{CellCapacity, CellPresence, Provider};

use crate::Rep;

impl Rep {
    pub fn presence(&self) -> CellPresence {
        let cfg = &self.inner.cfg;
        let total = self.inner.exec.total();
        let stacks: Vec<String> = cfg.stacks.iter().map(|s| format!("{s}@1")).collect();
        CellPresence {
            cell_id: cfg.cell_id.clone(),
            rep_address: cfg.rep_url.clone(),
            zone: cfg.zone.clone(),
            capacity: CellCapacity {
                memory_mb: i32::try_from(total.memory_mb).unwrap_or(i32::MAX),
                disk_mb: i32::try_from(total.disk_mb).unwrap_or(i32::MAX),
                containers: i32::try_from(total.containers).unwrap_or(i32::MAX),
            },
            rootfs_providers: std::iter::once(Provider {
                name: "preloaded".into(),
                properties: stacks,
            })
            .chain(cfg.rootfs_schemes.iter().map(|scheme| Provider {
                name: scheme.clone(),
                properties: vec![],
            }))
            .collect(),
            placement_tags: cfg.placement_tags.clone(),
            optional_placement_tags: cfg.optional_placement_tags.clone(),
            rep_url: cfg.rep_url.clone(),
            annotations: Default::default(),
        }
    }

    /// Reports the presence now; used at start so the cell is placeable at once.
    pub async fn report_presence(&self) -> Result<(), diego_model::ModelError> {
        let ttl_ms = i64::try_from(self.inner.cfg.presence_ttl_ms).unwrap_or(i64::MAX);
        self.inner.bbs.report_cell(self.presence(), ttl_ms).await
    }

    pub(crate) fn spawn_presence(&self) -> tokio::task::JoinHandle<()> {
        let rep = self.clone();
        tokio::spawn(async move {
            let every = Duration::from_millis(rep.inner.cfg.presence_interval_ms.max(100));
            loop {
                if let Err(e) = rep.report_presence().await {
                    // Like Locket's presence runner: keep retrying.
                    tracing::warn!(error = %e, "presence heartbeat failed");
                }
                tokio::time::sleep(every).await;
            }
        })
    }
}
