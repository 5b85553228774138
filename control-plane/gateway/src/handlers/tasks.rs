//! Task routes.

use bytes::Bytes;
use diego_model::ModelError;
use diego_proto::compat;
use diego_proto::models as w;

use super::{decode, encode};
use crate::api::BbsApi;

type R<T> = Result<T, ModelError>;

fn tasks_out(tasks: Vec<diego_model::Task>) -> Vec<w::Task> {
    tasks.into_iter().map(Into::into).collect()
}

async fn lifecycle(
    bbs: &dyn BbsApi,
    name: &str,
    body: Option<&Bytes>,
) -> R<w::TaskLifecycleResponse> {
    match name {
        "DesireTask" => {
            let w::DesireTaskRequest {
                task_definition,
                task_guid,
                domain,
            } = decode(body)?;
            let def = task_definition
                .ok_or_else(|| ModelError::invalid_field("task_definition", "is missing"))?;
            let def = compat::task_definition_from(def, "task_definition")?;
            bbs.desire_task(&task_guid, &domain, def).await
        }
        "CancelTask" | "ResolvingTask" | "DeleteTask" => {
            let w::TaskGuidRequest { task_guid } = decode(body)?;
            match name {
                "CancelTask" => bbs.cancel_task(&task_guid).await,
                "ResolvingTask" => bbs.resolving_task(&task_guid).await,
                _ => bbs.delete_task(&task_guid).await,
            }
        }
        "FailTask" => {
            let w::FailTaskRequest {
                task_guid,
                failure_reason,
            } = decode(body)?;
            bbs.fail_task(&task_guid, &failure_reason).await
        }
        "RejectTask" => {
            let w::RejectTaskRequest {
                task_guid,
                rejection_reason,
            } = decode(body)?;
            bbs.reject_task(&task_guid, &rejection_reason).await
        }
        _ => {
            let w::CompleteTaskRequest {
                task_guid,
                cell_id,
                failed,
                failure_reason,
                result,
            } = decode(body)?;
            bbs.complete_task(&task_guid, &cell_id, failed, &failure_reason, &result)
                .await
        }
    }?;
    Ok(w::TaskLifecycleResponse { error: None })
}

pub(super) async fn call(bbs: &dyn BbsApi, name: &str, body: Option<&Bytes>) -> Option<Vec<u8>> {
    Some(match name {
        "DesireTask" | "CancelTask" | "ResolvingTask" | "DeleteTask" | "FailTask"
        | "RejectTask" | "CompleteTask" => encode(lifecycle(bbs, name, body).await),
        "StartTask" => encode(
            async {
                let w::StartTaskRequest { task_guid, cell_id } = decode(body)?;
                let should_start = bbs.start_task(&task_guid, &cell_id).await?;
                Ok(w::StartTaskResponse {
                    error: None,
                    should_start,
                })
            }
            .await,
        ),
        // r2 and r3 differ only in image layers, which stored tasks never
        // carry (they are lowered on the way in): both share the encoding.
        "Tasks" | "Tasks_r2" => encode(
            async {
                let w::TasksRequest { domain, cell_id } = decode(body)?;
                let tasks = bbs.tasks(&domain, &cell_id).await?;
                Ok(w::TasksResponse {
                    error: None,
                    tasks: tasks_out(tasks),
                })
            }
            .await,
        ),
        "TaskByGuid" | "TaskByGuid_r2" => encode(
            async {
                let w::TaskByGuidRequest { task_guid } = decode(body)?;
                let task = bbs.task(&task_guid).await?;
                Ok(w::TaskResponse {
                    error: None,
                    task: Some(task.into()),
                })
            }
            .await,
        ),
        _ => return None,
    })
}
