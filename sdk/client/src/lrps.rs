//! Desired and actual LRP calls.

use diego_model::{
    ActualLrp, ActualLrpKey, DesiredLrp, DesiredLrpUpdate, InstanceKey, RunningInfo, SchedulingInfo,
};
use diego_proto::bbs::v1 as pb;
use diego_proto::convert::requests::StartActualLrp;

use crate::{err, missing, Client, Result};

/// The running report Start and EvacuateRunning share, in the proto crate's
/// request form (it owns the wire encoding).
fn running(key: &ActualLrpKey, ik: &InstanceKey, info: &RunningInfo) -> StartActualLrp {
    StartActualLrp {
        key: key.clone(),
        instance_key: ik.clone(),
        info: info.clone(),
    }
}

/// `ActualLRPs` filters; empty = any.
#[derive(Debug, Clone, Default)]
pub struct ActualFilter {
    pub domain: String,
    pub cell_id: String,
    pub process_guid: String,
    pub index: Option<i32>,
}

impl Client {
    pub async fn desire_lrp(&self, lrp: DesiredLrp) -> Result<()> {
        let req = pb::DesireLrpRequest {
            desired_lrp: Some(lrp.into()),
        };
        self.inner.clone().desire_lrp(req).await.map_err(err)?;
        Ok(())
    }

    pub async fn update_desired_lrp(
        &self,
        process_guid: &str,
        update: DesiredLrpUpdate,
    ) -> Result<()> {
        let req = pb::UpdateDesiredLrpRequest {
            process_guid: process_guid.into(),
            update: Some(update.into()),
        };
        self.inner
            .clone()
            .update_desired_lrp(req)
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn remove_desired_lrp(&self, process_guid: &str) -> Result<()> {
        let req = pb::RemoveDesiredLrpRequest {
            process_guid: process_guid.into(),
        };
        self.inner
            .clone()
            .remove_desired_lrp(req)
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn desired_lrps(
        &self,
        domain: &str,
        process_guids: Vec<String>,
    ) -> Result<Vec<DesiredLrp>> {
        let req = pb::DesiredLrpsRequest {
            domain: domain.into(),
            process_guids,
        };
        let r = self.inner.clone().desired_lrps(req).await.map_err(err)?;
        r.into_inner()
            .desired_lrps
            .into_iter()
            .map(DesiredLrp::try_from)
            .collect()
    }

    pub async fn desired_lrp(&self, process_guid: &str) -> Result<DesiredLrp> {
        let req = pb::DesiredLrpByProcessGuidRequest {
            process_guid: process_guid.into(),
        };
        let r = self
            .inner
            .clone()
            .desired_lrp_by_process_guid(req)
            .await
            .map_err(err)?;
        DesiredLrp::try_from(
            r.into_inner()
                .desired_lrp
                .ok_or_else(|| missing("desired_lrp"))?,
        )
    }

    pub async fn scheduling_infos(
        &self,
        domain: &str,
        process_guids: Vec<String>,
    ) -> Result<Vec<SchedulingInfo>> {
        let req = pb::DesiredLrpSchedulingInfosRequest {
            domain: domain.into(),
            process_guids,
        };
        let r = self
            .inner
            .clone()
            .desired_lrp_scheduling_infos(req)
            .await
            .map_err(err)?;
        r.into_inner()
            .scheduling_infos
            .into_iter()
            .map(SchedulingInfo::try_from)
            .collect()
    }

    pub async fn actual_lrps(&self, f: ActualFilter) -> Result<Vec<ActualLrp>> {
        let req = pb::ActualLrpsRequest {
            domain: f.domain,
            cell_id: f.cell_id,
            process_guid: f.process_guid,
            index: f.index,
        };
        let r = self.inner.clone().actual_lrps(req).await.map_err(err)?;
        r.into_inner()
            .actual_lrps
            .into_iter()
            .map(ActualLrp::try_from)
            .collect()
    }

    pub async fn claim_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        ik: &InstanceKey,
    ) -> Result<()> {
        let req = pb::ClaimActualLrpRequest {
            process_guid: process_guid.into(),
            index,
            instance_key: Some(ik.clone().into()),
        };
        self.inner
            .clone()
            .claim_actual_lrp(req)
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        info: &RunningInfo,
    ) -> Result<()> {
        let req: pb::StartActualLrpRequest = running(key, ik, info).into();
        self.inner
            .clone()
            .start_actual_lrp(req)
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        reason: &str,
    ) -> Result<()> {
        let req = pb::CrashActualLrpRequest {
            key: Some(key.clone().into()),
            instance_key: Some(ik.clone().into()),
            error_message: reason.into(),
        };
        self.inner
            .clone()
            .crash_actual_lrp(req)
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn fail_actual_lrp(&self, key: &ActualLrpKey, placement_error: &str) -> Result<()> {
        let req = pb::FailActualLrpRequest {
            key: Some(key.clone().into()),
            error_message: placement_error.into(),
        };
        self.inner.clone().fail_actual_lrp(req).await.map_err(err)?;
        Ok(())
    }

    pub async fn remove_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        ik: Option<&InstanceKey>,
    ) -> Result<()> {
        let req = pb::RemoveActualLrpRequest {
            process_guid: process_guid.into(),
            index,
            instance_key: ik.map(|k| k.clone().into()),
        };
        self.inner
            .clone()
            .remove_actual_lrp(req)
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn retire_actual_lrp(&self, key: &ActualLrpKey) -> Result<()> {
        let req = pb::RetireActualLrpRequest {
            key: Some(key.clone().into()),
        };
        self.inner
            .clone()
            .retire_actual_lrp(req)
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn evacuate_claimed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
    ) -> Result<bool> {
        let req = pb::EvacuateClaimedActualLrpRequest {
            key: Some(key.clone().into()),
            instance_key: Some(ik.clone().into()),
        };
        Ok(self
            .inner
            .clone()
            .evacuate_claimed_actual_lrp(req)
            .await
            .map_err(err)?
            .into_inner()
            .keep_container)
    }

    pub async fn evacuate_crashed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        reason: &str,
    ) -> Result<bool> {
        let req = pb::EvacuateCrashedActualLrpRequest {
            key: Some(key.clone().into()),
            instance_key: Some(ik.clone().into()),
            error_message: reason.into(),
        };
        Ok(self
            .inner
            .clone()
            .evacuate_crashed_actual_lrp(req)
            .await
            .map_err(err)?
            .into_inner()
            .keep_container)
    }

    pub async fn evacuate_stopped_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
    ) -> Result<bool> {
        let req = pb::EvacuateStoppedActualLrpRequest {
            key: Some(key.clone().into()),
            instance_key: Some(ik.clone().into()),
        };
        Ok(self
            .inner
            .clone()
            .evacuate_stopped_actual_lrp(req)
            .await
            .map_err(err)?
            .into_inner()
            .keep_container)
    }

    pub async fn evacuate_running_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        info: &RunningInfo,
    ) -> Result<bool> {
        let req: pb::EvacuateRunningActualLrpRequest = running(key, ik, info).into();
        Ok(self
            .inner
            .clone()
            .evacuate_running_actual_lrp(req)
            .await
            .map_err(err)?
            .into_inner()
            .keep_container)
    }

    pub async fn remove_evacuating_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
    ) -> Result<()> {
        let req = pb::RemoveEvacuatingActualLrpRequest {
            key: Some(key.clone().into()),
            instance_key: Some(ik.clone().into()),
        };
        self.inner
            .clone()
            .remove_evacuating_actual_lrp(req)
            .await
            .map_err(err)?;
        Ok(())
    }
}
