//! Desired and actual LRP RPCs.

use diego_model::{ActualLrpKey, DesiredLrp, DesiredLrpUpdate, InstanceKey};
use diego_proto::bbs::v1 as pb;
use diego_proto::convert::requests::{
    ClaimActualLrp, CrashActualLrp, FailActualLrp, LrpInstance, StartActualLrp,
};
use tonic::{Request, Response, Status};

use super::{model_status, required, status, BbsGrpc};
use crate::ActualLrpFilter;

type R<T> = Result<Response<T>, Status>;

/// Decodes a request through the proto crate's request conversions, which
/// name the missing or invalid field.
fn decode<W, T>(r: Request<W>) -> Result<T, Status>
where
    T: TryFrom<W, Error = diego_model::ModelError>,
{
    T::try_from(r.into_inner()).map_err(model_status)
}

impl BbsGrpc {
    pub(crate) async fn desire_lrp_impl(
        &self,
        r: Request<pb::DesireLrpRequest>,
    ) -> R<pb::DesireLrpResponse> {
        let lrp: DesiredLrp = required("desired_lrp", r.into_inner().desired_lrp)?;
        self.bbs.desire_lrp(lrp).await.map_err(status)?;
        Ok(Response::new(pb::DesireLrpResponse {}))
    }

    pub(crate) async fn update_desired_lrp_impl(
        &self,
        r: Request<pb::UpdateDesiredLrpRequest>,
    ) -> R<pb::UpdateDesiredLrpResponse> {
        let pb::UpdateDesiredLrpRequest {
            process_guid,
            update,
        } = r.into_inner();
        let update: DesiredLrpUpdate = required("update", update)?;
        self.bbs
            .update_desired_lrp(&process_guid, update)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::UpdateDesiredLrpResponse {}))
    }

    pub(crate) async fn remove_desired_lrp_impl(
        &self,
        r: Request<pb::RemoveDesiredLrpRequest>,
    ) -> R<pb::RemoveDesiredLrpResponse> {
        self.bbs
            .remove_desired_lrp(&r.into_inner().process_guid)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::RemoveDesiredLrpResponse {}))
    }

    pub(crate) async fn desired_lrps_impl(
        &self,
        r: Request<pb::DesiredLrpsRequest>,
    ) -> R<pb::DesiredLrpsResponse> {
        let pb::DesiredLrpsRequest {
            domain,
            process_guids,
        } = r.into_inner();
        let lrps = self
            .bbs
            .desired_lrps(&domain, &process_guids)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DesiredLrpsResponse {
            desired_lrps: lrps.into_iter().map(Into::into).collect(),
        }))
    }

    pub(crate) async fn desired_lrp_by_process_guid_impl(
        &self,
        r: Request<pb::DesiredLrpByProcessGuidRequest>,
    ) -> R<pb::DesiredLrpByProcessGuidResponse> {
        let lrp = self
            .bbs
            .desired_lrp_by_process_guid(&r.into_inner().process_guid)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DesiredLrpByProcessGuidResponse {
            desired_lrp: Some(lrp.into()),
        }))
    }

    pub(crate) async fn scheduling_infos_impl(
        &self,
        r: Request<pb::DesiredLrpSchedulingInfosRequest>,
    ) -> R<pb::DesiredLrpSchedulingInfosResponse> {
        let pb::DesiredLrpSchedulingInfosRequest {
            domain,
            process_guids,
        } = r.into_inner();
        let infos = self
            .bbs
            .scheduling_infos(&domain, &process_guids)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DesiredLrpSchedulingInfosResponse {
            scheduling_infos: infos.into_iter().map(Into::into).collect(),
        }))
    }

    pub(crate) async fn actual_lrps_impl(
        &self,
        r: Request<pb::ActualLrpsRequest>,
    ) -> R<pb::ActualLrpsResponse> {
        let pb::ActualLrpsRequest {
            domain,
            cell_id,
            process_guid,
            index,
        } = r.into_inner();
        let filter = ActualLrpFilter {
            domain,
            cell_id,
            process_guid,
            index,
        };
        let rows = self.bbs.actual_lrps(&filter).await.map_err(status)?;
        Ok(Response::new(pb::ActualLrpsResponse {
            actual_lrps: rows.into_iter().map(Into::into).collect(),
        }))
    }

    pub(crate) async fn claim_impl(
        &self,
        r: Request<pb::ClaimActualLrpRequest>,
    ) -> R<pb::ClaimActualLrpResponse> {
        let c: ClaimActualLrp = decode(r)?;
        self.bbs
            .claim_actual_lrp(&c.process_guid, c.index, &c.instance_key)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ClaimActualLrpResponse {}))
    }

    pub(crate) async fn start_impl(
        &self,
        r: Request<pb::StartActualLrpRequest>,
    ) -> R<pb::StartActualLrpResponse> {
        let s: StartActualLrp = decode(r)?;
        self.bbs
            .start_actual_lrp(&s.key, &s.instance_key, &s.info)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::StartActualLrpResponse {}))
    }

    pub(crate) async fn crash_impl(
        &self,
        r: Request<pb::CrashActualLrpRequest>,
    ) -> R<pb::CrashActualLrpResponse> {
        let c: CrashActualLrp = decode(r)?;
        self.bbs
            .crash_actual_lrp(&c.key, &c.instance_key, &c.error_message)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::CrashActualLrpResponse {}))
    }

    pub(crate) async fn fail_impl(
        &self,
        r: Request<pb::FailActualLrpRequest>,
    ) -> R<pb::FailActualLrpResponse> {
        let f: FailActualLrp = decode(r)?;
        self.bbs
            .fail_actual_lrp(&f.key, &f.error_message)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::FailActualLrpResponse {}))
    }

    pub(crate) async fn remove_impl(
        &self,
        r: Request<pb::RemoveActualLrpRequest>,
    ) -> R<pb::RemoveActualLrpResponse> {
        let pb::RemoveActualLrpRequest {
            process_guid,
            index,
            instance_key,
        } = r.into_inner();
        let ik: Option<InstanceKey> = instance_key.map(InstanceKey::from);
        self.bbs
            .remove_actual_lrp(&process_guid, index, ik.as_ref())
            .await
            .map_err(status)?;
        Ok(Response::new(pb::RemoveActualLrpResponse {}))
    }

    pub(crate) async fn retire_impl(
        &self,
        r: Request<pb::RetireActualLrpRequest>,
    ) -> R<pb::RetireActualLrpResponse> {
        let key: ActualLrpKey = required("key", r.into_inner().key)?;
        self.bbs.retire_actual_lrp(&key).await.map_err(status)?;
        Ok(Response::new(pb::RetireActualLrpResponse {}))
    }

    pub(crate) async fn evacuate_claimed_impl(
        &self,
        r: Request<pb::EvacuateClaimedActualLrpRequest>,
    ) -> R<pb::EvacuateClaimedActualLrpResponse> {
        let i: LrpInstance = decode(r)?;
        let keep_container = self
            .bbs
            .evacuate_claimed_actual_lrp(&i.key, &i.instance_key)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::EvacuateClaimedActualLrpResponse {
            keep_container,
        }))
    }

    pub(crate) async fn evacuate_crashed_impl(
        &self,
        r: Request<pb::EvacuateCrashedActualLrpRequest>,
    ) -> R<pb::EvacuateCrashedActualLrpResponse> {
        let c: CrashActualLrp = decode(r)?;
        let keep_container = self
            .bbs
            .evacuate_crashed_actual_lrp(&c.key, &c.instance_key, &c.error_message)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::EvacuateCrashedActualLrpResponse {
            keep_container,
        }))
    }

    pub(crate) async fn evacuate_stopped_impl(
        &self,
        r: Request<pb::EvacuateStoppedActualLrpRequest>,
    ) -> R<pb::EvacuateStoppedActualLrpResponse> {
        let i: LrpInstance = decode(r)?;
        let keep_container = self
            .bbs
            .evacuate_stopped_actual_lrp(&i.key, &i.instance_key)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::EvacuateStoppedActualLrpResponse {
            keep_container,
        }))
    }

    pub(crate) async fn evacuate_running_impl(
        &self,
        r: Request<pb::EvacuateRunningActualLrpRequest>,
    ) -> R<pb::EvacuateRunningActualLrpResponse> {
        let s: StartActualLrp = decode(r)?;
        let keep_container = self
            .bbs
            .evacuate_running_actual_lrp(&s.key, &s.instance_key, &s.info)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::EvacuateRunningActualLrpResponse {
            keep_container,
        }))
    }

    pub(crate) async fn remove_evacuating_impl(
        &self,
        r: Request<pb::RemoveEvacuatingActualLrpRequest>,
    ) -> R<pb::RemoveEvacuatingActualLrpResponse> {
        let i: LrpInstance = decode(r)?;
        self.bbs
            .remove_evacuating_actual_lrp(&i.key, &i.instance_key)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::RemoveEvacuatingActualLrpResponse {}))
    }
}
