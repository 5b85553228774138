//! The tonic service, the watch stream, placement decisions and `serve`.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use diego_model::ModelError;
use diego_proto::bbs::v1 as pb;
use diego_proto::bbs::v1::bbs_server::{Bbs as BbsService, BbsServer};
use futures::{Stream, StreamExt};
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

use super::decode::InvalidBodies;
use super::trace::Traced;
use super::{model_status, status};
use crate::{Bbs, WatchFilter};

/// How many decisions are kept per piece of work, and how many pieces.
const DECISIONS_PER_WORK: usize = 8;
const MAX_WORK_IDS: usize = 100_000;
/// Per-cell lines cost one line per candidate cell (about 8 KB a decision
/// with 100 cells), so only this many of the latest decisions keep them;
/// older ones keep their one-line summary. Without the cap, work auctioned
/// in small batches filled the log with gigabytes of lines.
const DETAILED_DECISIONS: usize = 2_000;

/// Recent placement decisions, by work id (`task/<guid>` or `lrp/<pg>/<index>`).
#[derive(Default)]
pub struct DecisionLog {
    inner: Mutex<Decisions>,
}

#[derive(Default)]
struct Decisions {
    /// Each decision with the sequence number it was recorded under.
    by_work: HashMap<String, VecDeque<(u64, pb::PlacementDecision)>>,
    /// Work ids, oldest first, for dropping the oldest past `MAX_WORK_IDS`.
    order: VecDeque<String>,
    /// Decisions still holding per-cell lines, oldest first.
    detailed: VecDeque<(u64, String)>,
    next_seq: u64,
}

impl DecisionLog {
    pub fn record(
        &self,
        work_id: String,
        summary: String,
        cell_lines: Vec<String>,
        decided_at_ns: i64,
    ) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let log = &mut *guard;
        let seq = log.next_seq;
        log.next_seq += 1;
        if !log.by_work.contains_key(&work_id) {
            log.order.push_back(work_id.clone());
            if log.order.len() > MAX_WORK_IDS {
                if let Some(old) = log.order.pop_front() {
                    log.by_work.remove(&old);
                }
            }
        }
        if !cell_lines.is_empty() {
            log.detailed.push_back((seq, work_id.clone()));
            if log.detailed.len() > DETAILED_DECISIONS {
                if let Some((old_seq, old_id)) = log.detailed.pop_front() {
                    let mut old = log.by_work.get_mut(&old_id).into_iter().flatten();
                    if let Some((_, d)) = old.find(|(s, _)| *s == old_seq) {
                        d.cell_lines = Vec::new();
                    }
                }
            }
        }
        let list = log.by_work.entry(work_id.clone()).or_default();
        list.push_back((
            seq,
            pb::PlacementDecision {
                work_id,
                summary,
                cell_lines,
                decided_at_ns,
            },
        ));
        if list.len() > DECISIONS_PER_WORK {
            list.pop_front();
        }
    }

    pub fn get(&self, work_id: &str) -> Vec<pb::PlacementDecision> {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .by_work
            .get(work_id)
            .map(|l| l.iter().map(|(_, d)| d.clone()).collect())
            .unwrap_or_default()
    }

    /// Every work id with the given prefix (all indices of an LRP).
    pub fn with_prefix(&self, prefix: &str) -> Vec<pb::PlacementDecision> {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = guard
            .by_work
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .flat_map(|(_, v)| v.iter().map(|(_, d)| d.clone()))
            .collect();
        out.sort_by(|a, b| {
            a.work_id
                .cmp(&b.work_id)
                .then(a.decided_at_ns.cmp(&b.decided_at_ns))
        });
        out
    }
}

impl DecisionLog {
    /// The answer to a `PlacementDecisions` request (the BBS's and the
    /// auctioneer's API both serve it).
    pub fn answer(
        &self,
        r: pb::PlacementDecisionsRequest,
    ) -> Result<pb::PlacementDecisionsResponse, ModelError> {
        let pb::PlacementDecisionsRequest { kind, guid, index } = r;
        let decisions = match (pb::PlacementKind::try_from(kind), index) {
            (Ok(pb::PlacementKind::Task), _) => self.get(&format!("task/{guid}")),
            (Ok(pb::PlacementKind::Lrp), Some(i)) => self.get(&format!("lrp/{guid}/{i}")),
            (Ok(pb::PlacementKind::Lrp), None) => self.with_prefix(&format!("lrp/{guid}/")),
            _ => return Err(ModelError::invalid_field("kind", "must be task or lrp")),
        };
        Ok(pb::PlacementDecisionsResponse { decisions })
    }
}

/// Where `PlacementDecisions` is answered when the auctioneer runs in
/// another process: the decisions are made, and logged, there (ADR 0013).
pub trait DecisionSource: Send + Sync + 'static {
    fn placement_decisions(
        &self,
        r: pb::PlacementDecisionsRequest,
    ) -> crate::collab::BoxFut<'_, Result<pb::PlacementDecisionsResponse, Status>>;
}

#[derive(Clone)]
pub struct BbsGrpc {
    pub(crate) bbs: Bbs,
    pub(crate) decisions: Arc<DecisionLog>,
    /// Set when the auctioneer is remote; `decisions` is then unused.
    decision_source: Option<Arc<dyn DecisionSource>>,
}

impl BbsGrpc {
    pub fn new(bbs: Bbs, decisions: Arc<DecisionLog>) -> Self {
        BbsGrpc {
            bbs,
            decisions,
            decision_source: None,
        }
    }

    /// Answers `PlacementDecisions` from `source` instead of the local log.
    pub fn with_decision_source(mut self, source: Arc<dyn DecisionSource>) -> Self {
        self.decision_source = Some(source);
        self
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchEvent, Status>> + Send>>;
type R<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl BbsService for BbsGrpc {
    async fn ping(&self, _: Request<pb::PingRequest>) -> R<pb::PingResponse> {
        self.ping_impl().await
    }
    async fn domains(&self, _: Request<pb::DomainsRequest>) -> R<pb::DomainsResponse> {
        self.domains_impl().await
    }
    async fn upsert_domain(
        &self,
        r: Request<pb::UpsertDomainRequest>,
    ) -> R<pb::UpsertDomainResponse> {
        self.upsert_domain_impl(r).await
    }
    async fn cells(&self, _: Request<pb::CellsRequest>) -> R<pb::CellsResponse> {
        self.cells_impl().await
    }
    async fn report_cell(&self, r: Request<pb::ReportCellRequest>) -> R<pb::ReportCellResponse> {
        self.report_cell_impl(r).await
    }
    async fn desire_task(&self, r: Request<pb::DesireTaskRequest>) -> R<pb::DesireTaskResponse> {
        self.desire_task_impl(r).await
    }
    async fn tasks(&self, r: Request<pb::TasksRequest>) -> R<pb::TasksResponse> {
        self.tasks_impl(r).await
    }
    async fn task_by_guid(&self, r: Request<pb::TaskByGuidRequest>) -> R<pb::TaskByGuidResponse> {
        self.task_by_guid_impl(r).await
    }
    async fn cancel_task(&self, r: Request<pb::CancelTaskRequest>) -> R<pb::CancelTaskResponse> {
        self.cancel_task_impl(r).await
    }
    async fn resolving_task(
        &self,
        r: Request<pb::ResolvingTaskRequest>,
    ) -> R<pb::ResolvingTaskResponse> {
        self.resolving_task_impl(r).await
    }
    async fn delete_task(&self, r: Request<pb::DeleteTaskRequest>) -> R<pb::DeleteTaskResponse> {
        self.delete_task_impl(r).await
    }
    async fn start_task(&self, r: Request<pb::StartTaskRequest>) -> R<pb::StartTaskResponse> {
        self.start_task_impl(r).await
    }
    async fn complete_task(
        &self,
        r: Request<pb::CompleteTaskRequest>,
    ) -> R<pb::CompleteTaskResponse> {
        self.complete_task_impl(r).await
    }
    async fn reject_task(&self, r: Request<pb::RejectTaskRequest>) -> R<pb::RejectTaskResponse> {
        self.reject_task_impl(r).await
    }
    async fn fail_task(&self, r: Request<pb::FailTaskRequest>) -> R<pb::FailTaskResponse> {
        self.fail_task_impl(r).await
    }
    async fn desire_lrp(&self, r: Request<pb::DesireLrpRequest>) -> R<pb::DesireLrpResponse> {
        self.desire_lrp_impl(r).await
    }
    async fn update_desired_lrp(
        &self,
        r: Request<pb::UpdateDesiredLrpRequest>,
    ) -> R<pb::UpdateDesiredLrpResponse> {
        self.update_desired_lrp_impl(r).await
    }
    async fn remove_desired_lrp(
        &self,
        r: Request<pb::RemoveDesiredLrpRequest>,
    ) -> R<pb::RemoveDesiredLrpResponse> {
        self.remove_desired_lrp_impl(r).await
    }
    async fn desired_lrps(&self, r: Request<pb::DesiredLrpsRequest>) -> R<pb::DesiredLrpsResponse> {
        self.desired_lrps_impl(r).await
    }
    async fn desired_lrp_by_process_guid(
        &self,
        r: Request<pb::DesiredLrpByProcessGuidRequest>,
    ) -> R<pb::DesiredLrpByProcessGuidResponse> {
        self.desired_lrp_by_process_guid_impl(r).await
    }
    async fn desired_lrp_scheduling_infos(
        &self,
        r: Request<pb::DesiredLrpSchedulingInfosRequest>,
    ) -> R<pb::DesiredLrpSchedulingInfosResponse> {
        self.scheduling_infos_impl(r).await
    }
    async fn actual_lrps(&self, r: Request<pb::ActualLrpsRequest>) -> R<pb::ActualLrpsResponse> {
        self.actual_lrps_impl(r).await
    }
    async fn claim_actual_lrp(
        &self,
        r: Request<pb::ClaimActualLrpRequest>,
    ) -> R<pb::ClaimActualLrpResponse> {
        self.claim_impl(r).await
    }
    async fn start_actual_lrp(
        &self,
        r: Request<pb::StartActualLrpRequest>,
    ) -> R<pb::StartActualLrpResponse> {
        self.start_impl(r).await
    }
    async fn crash_actual_lrp(
        &self,
        r: Request<pb::CrashActualLrpRequest>,
    ) -> R<pb::CrashActualLrpResponse> {
        self.crash_impl(r).await
    }
    async fn fail_actual_lrp(
        &self,
        r: Request<pb::FailActualLrpRequest>,
    ) -> R<pb::FailActualLrpResponse> {
        self.fail_impl(r).await
    }
    async fn remove_actual_lrp(
        &self,
        r: Request<pb::RemoveActualLrpRequest>,
    ) -> R<pb::RemoveActualLrpResponse> {
        self.remove_impl(r).await
    }
    async fn retire_actual_lrp(
        &self,
        r: Request<pb::RetireActualLrpRequest>,
    ) -> R<pb::RetireActualLrpResponse> {
        self.retire_impl(r).await
    }
    async fn evacuate_claimed_actual_lrp(
        &self,
        r: Request<pb::EvacuateClaimedActualLrpRequest>,
    ) -> R<pb::EvacuateClaimedActualLrpResponse> {
        self.evacuate_claimed_impl(r).await
    }
    async fn evacuate_crashed_actual_lrp(
        &self,
        r: Request<pb::EvacuateCrashedActualLrpRequest>,
    ) -> R<pb::EvacuateCrashedActualLrpResponse> {
        self.evacuate_crashed_impl(r).await
    }
    async fn evacuate_stopped_actual_lrp(
        &self,
        r: Request<pb::EvacuateStoppedActualLrpRequest>,
    ) -> R<pb::EvacuateStoppedActualLrpResponse> {
        self.evacuate_stopped_impl(r).await
    }
    async fn evacuate_running_actual_lrp(
        &self,
        r: Request<pb::EvacuateRunningActualLrpRequest>,
    ) -> R<pb::EvacuateRunningActualLrpResponse> {
        self.evacuate_running_impl(r).await
    }
    async fn remove_evacuating_actual_lrp(
        &self,
        r: Request<pb::RemoveEvacuatingActualLrpRequest>,
    ) -> R<pb::RemoveEvacuatingActualLrpResponse> {
        self.remove_evacuating_impl(r).await
    }

    async fn placement_decisions(
        &self,
        r: Request<pb::PlacementDecisionsRequest>,
    ) -> R<pb::PlacementDecisionsResponse> {
        if let Some(source) = &self.decision_source {
            return source
                .placement_decisions(r.into_inner())
                .await
                .map(Response::new);
        }
        self.decisions
            .answer(r.into_inner())
            .map(Response::new)
            .map_err(model_status)
    }

    type WatchStream = WatchStream;

    async fn watch(&self, r: Request<pb::WatchRequest>) -> R<Self::WatchStream> {
        let pb::WatchRequest {
            kinds,
            process_guid,
            cell_id,
            since_revision,
            since_position,
        } = r.into_inner();
        for k in &kinds {
            if !matches!(k.as_str(), "task" | "desired_lrp" | "actual_lrp") {
                return Err(model_status(ModelError::invalid_field(
                    "kinds",
                    &format!("has {k:?}; expected task, desired_lrp or actual_lrp"),
                )));
            }
        }
        let filter = WatchFilter {
            kinds,
            process_guid,
            cell_id,
        };
        let since = (since_revision > 0).then_some(since_revision);
        let stream = self
            .bbs
            .watch(filter, since, since_position)
            .await
            .map_err(status)?;
        let out = stream.map(|item| match item {
            Ok(w) => Ok(pb::WatchEvent {
                revision: w.revision,
                event: Some(diego_proto::convert::traced_event(w.event, w.trace_id)),
                position: w.position,
            }),
            Err(e) => Err(status(e)),
        });
        Ok(Response::new(Box::pin(out)))
    }
}

#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// PEM server certificate and key; plain HTTP/2 when absent.
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
    /// PEM CA: with `tls`, every client must present a certificate it
    /// signed (mutual TLS); absent, any client may connect.
    pub client_ca: Option<Vec<u8>>,
}

/// Serves the BBS and the gRPC health service until `shutdown` resolves.
pub async fn serve(
    grpc: BbsGrpc,
    listener: tokio::net::TcpListener,
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<BbsServer<BbsGrpc>>().await;
    let mut builder = Server::builder();
    if let Some((cert, key)) = opts.tls {
        let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
        if let Some(ca) = opts.client_ca {
            tls = tls.client_ca_root(tonic::transport::Certificate::from_pem(ca));
        }
        builder = builder.tls_config(tls)?;
    }
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    builder
        .add_service(health)
        .add_service(Traced(InvalidBodies(
            BbsServer::new(grpc).max_decoding_message_size(64 * 1024 * 1024),
        )))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
