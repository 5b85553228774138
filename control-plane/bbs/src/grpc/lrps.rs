//! Desired and actual LRP RPCs.

use std::collections::BTreeMap;

use diego_model::{ActualLrpKey, DesiredLrp, DesiredLrpUpdate, InstanceKey, NetInfo, RunningInfo};
use diego_proto::bbs::v1 as pb;
use tonic::{Request, Response, Status};

use super::{required, status, BbsGrpc};
use crate::ActualLrpFilter;

type R<T> = Result<Response<T>, Status>;

fn running_info(
    net_info: Option<pb::NetInfo>,
    internal_routes: Vec<String>,
    metric_tags: impl IntoIterator<Item = (String, String)>,
    routable: Option<bool>,
    availability_zone: String,
) -> Result<RunningInfo, Status> {
    let net_info: NetInfo = required("net_info", net_info)?;
    Ok(RunningInfo {
        net_info,
        internal_routes,
        metric_tags: metric_tags.into_iter().collect::<BTreeMap<_, _>>(),
        routable,
        availability_zone,
    })
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
        let pb::ClaimActualLrpRequest {
            process_guid,
            index,
            instance_key,
        } = r.into_inner();
        let ik: InstanceKey = required("instance_key", instance_key)?;
        self.bbs
            .claim_actual_lrp(&process_guid, index, &ik)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ClaimActualLrpResponse {}))
    }

    pub(crate) async fn start_impl(
        &self,
        r: Request<pb::StartActualLrpRequest>,
    ) -> R<pb::StartActualLrpResponse> {
        let pb::StartActualLrpRequest {
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        } = r.into_inner();
        let key: ActualLrpKey = required("key", key)?;
        let ik: InstanceKey = required("instance_key", instance_key)?;
        let info = running_info(
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        )?;
        self.bbs
            .start_actual_lrp(&key, &ik, &info)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::StartActualLrpResponse {}))
    }

    pub(crate) async fn crash_impl(
        &self,
        r: Request<pb::CrashActualLrpRequest>,
    ) -> R<pb::CrashActualLrpResponse> {
        let pb::CrashActualLrpRequest {
            key,
            instance_key,
            error_message,
        } = r.into_inner();
        let key: ActualLrpKey = required("key", key)?;
        let ik: InstanceKey = required("instance_key", instance_key)?;
        self.bbs
            .crash_actual_lrp(&key, &ik, &error_message)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::CrashActualLrpResponse {}))
    }

    pub(crate) async fn fail_impl(
        &self,
        r: Request<pb::FailActualLrpRequest>,
    ) -> R<pb::FailActualLrpResponse> {
        let pb::FailActualLrpRequest { key, error_message } = r.into_inner();
        let key: ActualLrpKey = required("key", key)?;
        self.bbs
            .fail_actual_lrp(&key, &error_message)
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
        let pb::EvacuateClaimedActualLrpRequest { key, instance_key } = r.into_inner();
        let key: ActualLrpKey = required("key", key)?;
        let ik: InstanceKey = required("instance_key", instance_key)?;
        let keep_container = self
            .bbs
            .evacuate_claimed_actual_lrp(&key, &ik)
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
        let pb::EvacuateCrashedActualLrpRequest {
            key,
            instance_key,
            error_message,
        } = r.into_inner();
        let key: ActualLrpKey = required("key", key)?;
        let ik: InstanceKey = required("instance_key", instance_key)?;
        let keep_container = self
            .bbs
            .evacuate_crashed_actual_lrp(&key, &ik, &error_message)
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
        let pb::EvacuateStoppedActualLrpRequest { key, instance_key } = r.into_inner();
        let key: ActualLrpKey = required("key", key)?;
        let ik: InstanceKey = required("instance_key", instance_key)?;
        let keep_container = self
            .bbs
            .evacuate_stopped_actual_lrp(&key, &ik)
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
        let pb::EvacuateRunningActualLrpRequest {
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        } = r.into_inner();
        let key: ActualLrpKey = required("key", key)?;
        let ik: InstanceKey = required("instance_key", instance_key)?;
        let info = running_info(
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        )?;
        let keep_container = self
            .bbs
            .evacuate_running_actual_lrp(&key, &ik, &info)
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
        let pb::RemoveEvacuatingActualLrpRequest { key, instance_key } = r.into_inner();
        let key: ActualLrpKey = required("key", key)?;
        let ik: InstanceKey = required("instance_key", instance_key)?;
        self.bbs
            .remove_evacuating_actual_lrp(&key, &ik)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::RemoveEvacuatingActualLrpResponse {}))
    }
}
