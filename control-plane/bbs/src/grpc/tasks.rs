//! Task, domain, cell and ping RPCs.

use diego_model::{CellPresence, TaskDefinition};
use diego_proto::bbs::v1 as pb;
use tonic::{Request, Response, Status};

use super::{required, status, BbsGrpc};

type R<T> = Result<Response<T>, Status>;

impl BbsGrpc {
    pub(crate) async fn ping_impl(&self) -> R<pb::PingResponse> {
        Ok(Response::new(pb::PingResponse { available: true }))
    }

    pub(crate) async fn domains_impl(&self) -> R<pb::DomainsResponse> {
        let domains = self.bbs.domains().await.map_err(status)?;
        Ok(Response::new(pb::DomainsResponse { domains }))
    }

    pub(crate) async fn upsert_domain_impl(
        &self,
        r: Request<pb::UpsertDomainRequest>,
    ) -> R<pb::UpsertDomainResponse> {
        let pb::UpsertDomainRequest { domain, ttl_s } = r.into_inner();
        self.bbs
            .upsert_domain(&domain, ttl_s)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::UpsertDomainResponse {}))
    }

    pub(crate) async fn cells_impl(&self) -> R<pb::CellsResponse> {
        let cells = self.bbs.cells_list().await.map_err(status)?;
        Ok(Response::new(pb::CellsResponse {
            cells: cells.into_iter().map(Into::into).collect(),
        }))
    }

    pub(crate) async fn report_cell_impl(
        &self,
        r: Request<pb::ReportCellRequest>,
    ) -> R<pb::ReportCellResponse> {
        let pb::ReportCellRequest { cell, ttl_ms } = r.into_inner();
        let cell: CellPresence = required("cell", cell)?;
        let ttl_ms = u64::try_from(ttl_ms).unwrap_or(0);
        self.bbs.report_cell(cell, ttl_ms).await.map_err(status)?;
        Ok(Response::new(pb::ReportCellResponse {}))
    }

    pub(crate) async fn desire_task_impl(
        &self,
        r: Request<pb::DesireTaskRequest>,
    ) -> R<pb::DesireTaskResponse> {
        let pb::DesireTaskRequest {
            task_guid,
            domain,
            definition,
        } = r.into_inner();
        let def: TaskDefinition = required("definition", definition)?;
        self.bbs
            .desire_task(&task_guid, &domain, def)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DesireTaskResponse {}))
    }

    pub(crate) async fn tasks_impl(&self, r: Request<pb::TasksRequest>) -> R<pb::TasksResponse> {
        let pb::TasksRequest { domain, cell_id } = r.into_inner();
        let tasks = self.bbs.tasks(&domain, &cell_id).await.map_err(status)?;
        Ok(Response::new(pb::TasksResponse {
            tasks: tasks.into_iter().map(Into::into).collect(),
        }))
    }

    pub(crate) async fn task_by_guid_impl(
        &self,
        r: Request<pb::TaskByGuidRequest>,
    ) -> R<pb::TaskByGuidResponse> {
        let task = self
            .bbs
            .task_by_guid(&r.into_inner().task_guid)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::TaskByGuidResponse {
            task: Some(task.into()),
        }))
    }

    pub(crate) async fn cancel_task_impl(
        &self,
        r: Request<pb::CancelTaskRequest>,
    ) -> R<pb::CancelTaskResponse> {
        self.bbs
            .cancel_task(&r.into_inner().task_guid)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::CancelTaskResponse {}))
    }

    pub(crate) async fn resolving_task_impl(
        &self,
        r: Request<pb::ResolvingTaskRequest>,
    ) -> R<pb::ResolvingTaskResponse> {
        self.bbs
            .resolving_task(&r.into_inner().task_guid)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ResolvingTaskResponse {}))
    }

    pub(crate) async fn delete_task_impl(
        &self,
        r: Request<pb::DeleteTaskRequest>,
    ) -> R<pb::DeleteTaskResponse> {
        self.bbs
            .delete_task(&r.into_inner().task_guid)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DeleteTaskResponse {}))
    }

    pub(crate) async fn start_task_impl(
        &self,
        r: Request<pb::StartTaskRequest>,
    ) -> R<pb::StartTaskResponse> {
        let pb::StartTaskRequest { task_guid, cell_id } = r.into_inner();
        let should_start = self
            .bbs
            .start_task(&task_guid, &cell_id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::StartTaskResponse { should_start }))
    }

    pub(crate) async fn complete_task_impl(
        &self,
        r: Request<pb::CompleteTaskRequest>,
    ) -> R<pb::CompleteTaskResponse> {
        let pb::CompleteTaskRequest {
            task_guid,
            cell_id,
            failed,
            failure_reason,
            result,
        } = r.into_inner();
        self.bbs
            .complete_task(&task_guid, &cell_id, failed, &failure_reason, &result)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::CompleteTaskResponse {}))
    }

    pub(crate) async fn reject_task_impl(
        &self,
        r: Request<pb::RejectTaskRequest>,
    ) -> R<pb::RejectTaskResponse> {
        let pb::RejectTaskRequest { task_guid, reason } = r.into_inner();
        self.bbs
            .reject_task(&task_guid, &reason)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::RejectTaskResponse {}))
    }

    pub(crate) async fn fail_task_impl(
        &self,
        r: Request<pb::FailTaskRequest>,
    ) -> R<pb::FailTaskResponse> {
        let pb::FailTaskRequest { task_guid, reason } = r.into_inner();
        self.bbs
            .fail_task(&task_guid, &reason)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::FailTaskResponse {}))
    }
}
