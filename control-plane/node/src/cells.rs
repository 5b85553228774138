//! The cell directory of an in-process control plane: presences in the
//! coordination layer's TTL table, reps reached over their gRPC API.

use std::sync::Arc;
use std::time::Duration;

use diego_auctioneer::{CellSource, GrpcReps};
use diego_bbs::collab::BoxFut;
use diego_bbs::CellDirectory;
use diego_coordination::PresenceTable;
use diego_model::{ActualLrpKey, CellPresence, InstanceKey};
use diego_proto::rep::v1 as pb;

pub struct Cells {
    pub presences: Arc<PresenceTable>,
    pub reps: Arc<GrpcReps>,
}

impl Cells {
    pub fn new(reps: Arc<GrpcReps>) -> Self {
        Cells {
            presences: Arc::new(PresenceTable::new()),
            reps,
        }
    }
}

impl CellDirectory for Cells {
    fn cells(&self) -> BoxFut<'_, Result<Vec<CellPresence>, String>> {
        let live = self.presences.live();
        Box::pin(async move { Ok(live) })
    }

    fn report(&self, presence: CellPresence, ttl_ms: u64) -> BoxFut<'_, Result<(), String>> {
        self.presences
            .report(presence, Duration::from_millis(ttl_ms));
        Box::pin(async { Ok(()) })
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
}

impl CellSource for Cells {
    fn cells(&self) -> diego_auctioneer::BoxFut<'_, Result<Vec<CellPresence>, String>> {
        let live = self.presences.live();
        Box::pin(async move { Ok(live) })
    }
}
