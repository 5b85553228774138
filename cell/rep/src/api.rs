//! The rep's gRPC API (`diego.rep.v1.Rep`), which the auctioneer and the BBS call.

// tonic's handlers and streams must yield `tonic::Status` as their error.
#![allow(clippy::result_large_err)]

use diego_executor::ContainerState;
use diego_proto::rep::v1 as pb;
use diego_proto::rep::v1::rep_server::{Rep as RepService, RepServer};
use futures::StreamExt;
use tonic::{Request, Response, Status};

use crate::state::{TAG_INSTANCE_GUID, TAG_PROCESS_GUID};
use crate::Rep;

#[tonic::async_trait]
impl RepService for Rep {
    async fn state(&self, _: Request<pb::StateRequest>) -> Result<Response<pb::CellState>, Status> {
        Ok(Response::new(Rep::state(self)))
    }

    async fn perform(&self, r: Request<pb::Work>) -> Result<Response<pb::Work>, Status> {
        let token = diego_proto::fencing::read(r.metadata()).map_err(Status::invalid_argument)?;
        if let Some(token) = token {
            self.admit_auctioneer(token)
                .map_err(Status::failed_precondition)?;
        }
        Rep::perform(self, r.into_inner())
            .map(Response::new)
            .map_err(Status::invalid_argument)
    }

    async fn stop_lrp_instance(
        &self,
        r: Request<pb::StopLrpInstanceRequest>,
    ) -> Result<Response<pb::StopLrpInstanceResponse>, Status> {
        let pb::StopLrpInstanceRequest {
            process_guid,
            instance_guid,
        } = r.into_inner();
        let found = self
            .inner
            .exec
            .list()
            .into_iter()
            .find(|c| c.tags.get(TAG_INSTANCE_GUID) == Some(&instance_guid));
        let Some(c) = found else {
            return Err(Status::not_found(format!(
                "no instance {instance_guid} of {process_guid} on this cell"
            )));
        };
        let exec = self.inner.exec.clone();
        // Answer at once (202 in the original); the completed event reports it.
        tokio::spawn(async move {
            let res = if c.state == ContainerState::Reserved {
                exec.delete(&c.guid).await
            } else {
                exec.stop(&c.guid).await
            };
            if let Err(e) = res {
                tracing::warn!(error = %e, guid = %c.guid, "stop failed");
            }
        });
        Ok(Response::new(pb::StopLrpInstanceResponse {}))
    }

    async fn update_lrp_instance(
        &self,
        r: Request<pb::UpdateLrpInstanceRequest>,
    ) -> Result<Response<pb::UpdateLrpInstanceResponse>, Status> {
        let pb::UpdateLrpInstanceRequest {
            process_guid,
            instance_guid,
            index,
            domain: _,
            internal_routes,
            metric_tags,
        } = r.into_inner();
        if process_guid.is_empty() || instance_guid.is_empty() {
            return Err(Status::invalid_argument(
                "process_guid and instance_guid are required",
            ));
        }
        let found = self.inner.exec.list().into_iter().find(|c| {
            c.tags.get(TAG_INSTANCE_GUID) == Some(&instance_guid)
                && c.tags.get(TAG_PROCESS_GUID) == Some(&process_guid)
        });
        let Some(c) = found else {
            return Err(Status::not_found(format!(
                "no instance {instance_guid} of {process_guid} (index {index}) on this cell"
            )));
        };
        let metric_tags = metric_tags.into_iter().collect();
        let tags = crate::routes_tags::to_tags(&internal_routes, &metric_tags);
        // a running container emits an event: its processor reports the
        // instance to the BBS again with the new values
        self.inner
            .exec
            .update_tags(&c.guid, tags)
            .map_err(|e| Status::not_found(e.to_string()))?;
        Ok(Response::new(pb::UpdateLrpInstanceResponse {}))
    }

    async fn cancel_task(
        &self,
        r: Request<pb::CancelTaskRequest>,
    ) -> Result<Response<pb::CancelTaskResponse>, Status> {
        let guid = r.into_inner().task_guid;
        let exec = self.inner.exec.clone();
        tokio::spawn(async move {
            if let Err(e) = exec.delete(&guid).await {
                tracing::info!(error = %e, task_guid = %guid, "cancel: no container to delete");
            }
        });
        Ok(Response::new(pb::CancelTaskResponse {}))
    }

    type LogsStream =
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<pb::LogLine, Status>> + Send>>;

    async fn logs(
        &self,
        r: Request<pb::LogsRequest>,
    ) -> Result<Response<Self::LogsStream>, Status> {
        let pb::LogsRequest { guid, follow } = r.into_inner();
        let Some(c) = find(self, &guid) else {
            return Err(Status::not_found(format!(
                "no container {guid} on this cell"
            )));
        };
        // Subscribe before taking the snapshot so no line falls in between.
        let tail = self.inner.exec.tail(&c.guid);
        let recent: Vec<_> = self
            .inner
            .exec
            .logs(&c.guid)
            .into_iter()
            .map(|l| Ok(wire_line(l)))
            .collect();
        let head = futures::stream::iter(recent);
        if !follow {
            return Ok(Response::new(Box::pin(head)));
        }
        let rest = tokio_stream::wrappers::BroadcastStream::new(tail)
            .filter_map(|l| async move { l.ok().map(|l| Ok(wire_line(l))) });
        Ok(Response::new(Box::pin(head.chain(rest))))
    }
}

/// The container a guid names: a task guid or an LRP instance guid.
fn find(rep: &Rep, guid: &str) -> Option<diego_executor::Container> {
    rep.inner
        .exec
        .list()
        .into_iter()
        .find(|c| c.guid == guid || c.tags.get(TAG_INSTANCE_GUID).map(String::as_str) == Some(guid))
}

fn wire_line(l: diego_executor::LogLine) -> pb::LogLine {
    let stream = match l.stream {
        diego_executor::Stream::Stdout => "stdout",
        diego_executor::Stream::Stderr => "stderr",
    };
    pb::LogLine {
        guid: l.guid,
        source: l.source,
        stream: stream.into(),
        line: l.line,
        timestamp_ms: l.timestamp_ms,
    }
}

/// Serves the rep API on `listener` until `shutdown` resolves.
pub async fn serve_rep_api(
    rep: Rep,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    serve_rep_api_tls(rep, listener, None, shutdown).await
}

/// PEM material for serving the rep API over mutual TLS: the auctioneer
/// must present a certificate signed by `ca_pem`.
#[derive(Debug, Clone)]
pub struct RepTls {
    pub ca_pem: Vec<u8>,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// As `serve_rep_api`, over mutual TLS when `tls` is given.
pub async fn serve_rep_api_tls(
    rep: Rep,
    listener: tokio::net::TcpListener,
    tls: Option<RepTls>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let mut builder = tonic::transport::Server::builder();
    if let Some(t) = tls {
        builder = builder.tls_config(
            ServerTlsConfig::new()
                .identity(Identity::from_pem(t.cert_pem, t.key_pem))
                .client_ca_root(Certificate::from_pem(t.ca_pem)),
        )?;
    }
    builder
        .add_service(RepServer::new(rep))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
