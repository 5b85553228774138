//! The cell directory of a control plane: presences in the coordination
//! layer (the in-process TTL table, or leased keys in etcd), reps reached
//! over their gRPC API.

use std::sync::Arc;
use std::time::Duration;

use diego_auctioneer::{CellSource, GrpcReps};
use diego_bbs::collab::BoxFut;
use diego_bbs::{CellDirectory, InstanceUpdate};
use diego_coordination::{PresenceTable, Presences};
use diego_model::{ActualLrpKey, CellPresence, InstanceKey};
use diego_proto::rep::v1 as pb;

pub struct Cells {
    pub presences: Arc<dyn Presences>,
    pub reps: Arc<GrpcReps>,
}

impl Cells {
    /// Presences in an in-process TTL table.
    pub fn new(reps: Arc<GrpcReps>) -> Self {
        Self::with_presences(Arc::new(PresenceTable::new()), reps)
    }

    pub fn with_presences(presences: Arc<dyn Presences>, reps: Arc<GrpcReps>) -> Self {
        Cells { presences, reps }
    }
}

impl CellDirectory for Cells {
    fn cells(&self) -> BoxFut<'_, Result<Vec<CellPresence>, String>> {
        self.presences.live()
    }

    fn report(&self, presence: CellPresence, ttl_ms: u64) -> BoxFut<'_, Result<(), String>> {
        self.presences
            .report(presence, Duration::from_millis(ttl_ms))
    }

    fn stop_lrp_instance<'a>(
        &'a self,
        cell: &'a CellPresence,
        key: &'a ActualLrpKey,
        instance: &'a InstanceKey,
    ) -> BoxFut<'a, Result<(), String>> {
        Box::pin(async move {
            let mut c = self.reps.client(cell)?;
            let req = pb::StopLrpInstanceRequest {
                process_guid: key.process_guid.clone(),
                instance_guid: instance.instance_guid.clone(),
            };
            c.stop_lrp_instance(req)
                .await
                .map_err(|e| e.message().to_string())?;
            Ok(())
        })
    }

    fn cancel_task<'a>(
        &'a self,
        cell: &'a CellPresence,
        task_guid: &'a str,
    ) -> BoxFut<'a, Result<(), String>> {
        Box::pin(async move {
            let mut c = self.reps.client(cell)?;
            let req = pb::CancelTaskRequest {
                task_guid: task_guid.to_string(),
            };
            c.cancel_task(req)
                .await
                .map_err(|e| e.message().to_string())?;
            Ok(())
        })
    }

    fn update_lrp_instance<'a>(
        &'a self,
        cell: &'a CellPresence,
        update: &'a InstanceUpdate,
    ) -> BoxFut<'a, Result<(), String>> {
        Box::pin(async move {
            let mut c = self.reps.client(cell)?;
            let req = pb::UpdateLrpInstanceRequest {
                process_guid: update.key.process_guid.clone(),
                instance_guid: update.instance.instance_guid.clone(),
                index: update.key.index,
                domain: update.key.domain.clone(),
                internal_routes: update.internal_routes.clone(),
                metric_tags: update.metric_tags.clone().into_iter().collect(),
            };
            c.update_lrp_instance(req)
                .await
                .map_err(|e| e.message().to_string())?;
            Ok(())
        })
    }
}

impl CellSource for Cells {
    fn cells(&self) -> diego_auctioneer::BoxFut<'_, Result<Vec<CellPresence>, String>> {
        self.presences.live()
    }
}
