//! A simulated rep: an in-memory cell with capacity, a zone and tags. It
//! answers State and Perform like a real rep (reserving resources for the
//! work it accepts), in-process or as a real gRPC server, so the auctioneer
//! can be tested and benchmarked without containers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use diego_auction::{CellLrp, CellState, LrpStart, Resources, TaskStart};
use diego_model::{CellCapacity, CellPresence};
use diego_proto::rep::v1 as pb;
use tonic::{Request, Response, Status};

use crate::wire;
use crate::{BoxFut, CellSource, HandedBack, RepClient};

pub struct SimCell {
    pub presence: CellPresence,
    state: Mutex<CellState>,
}

impl SimCell {
    pub fn new(cell_id: &str, zone: &str, total: Resources, stacks: &[&str]) -> Arc<Self> {
        Self::new_at(cell_id, zone, total, stacks, &format!("sim://{cell_id}"))
    }

    /// A cell whose presence points at `rep_url` (where its `SimRepServer` listens).
    pub fn new_at(
        cell_id: &str,
        zone: &str,
        total: Resources,
        stacks: &[&str],
        rep_url: &str,
    ) -> Arc<Self> {
        let state = CellState::new(cell_id, zone, total).with_standard_providers(stacks);
        let presence = CellPresence {
            cell_id: cell_id.into(),
            rep_address: rep_url.into(),
            rep_url: rep_url.into(),
            zone: zone.into(),
            capacity: CellCapacity {
                memory_mb: total.memory_mb,
                disk_mb: total.disk_mb,
                containers: total.containers,
            },
            ..Default::default()
        };
        Arc::new(SimCell {
            presence,
            state: Mutex::new(state),
        })
    }

    pub fn with_placement_tags(self: Arc<Self>, tags: &[&str]) -> Arc<Self> {
        if let Ok(mut s) = self.state.lock() {
            s.placement_tags = tags.iter().map(|t| t.to_string()).collect();
        }
        self
    }

    pub fn snapshot(&self) -> CellState {
        self.state
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Reserves what fits (LRPs by memory, largest first, as the rep does)
    /// and returns what did not.
    pub fn perform(
        &self,
        mut lrps: Vec<LrpStart>,
        tasks: Vec<TaskStart>,
    ) -> (Vec<LrpStart>, Vec<TaskStart>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.evacuating {
            return (lrps, tasks);
        }
        lrps.sort_by_key(|l| std::cmp::Reverse(l.memory_mb));
        let mut failed_l = Vec::new();
        let mut failed_t = Vec::new();
        let fits = |s: &CellState, m: i32, d: i32| {
            s.available.memory_mb >= m && s.available.disk_mb >= d && s.available.containers >= 1
        };
        for l in lrps {
            if fits(&s, l.memory_mb, l.disk_mb) {
                s.available.memory_mb -= l.memory_mb;
                s.available.disk_mb -= l.disk_mb;
                s.available.containers -= 1;
                s.lrps.push(CellLrp {
                    process_guid: l.process_guid,
                    index: l.index,
                });
            } else {
                failed_l.push(l);
            }
        }
        for t in tasks {
            if fits(&s, t.memory_mb, t.disk_mb) {
                s.available.memory_mb -= t.memory_mb;
                s.available.disk_mb -= t.disk_mb;
                s.available.containers -= 1;
                s.task_guids.push(t.task_guid);
            } else {
                failed_t.push(t);
            }
        }
        (failed_l, failed_t)
    }

    pub fn set_evacuating(&self, on: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.evacuating = on;
        }
    }
}

/// A set of simulated cells, in-process.
#[derive(Default, Clone)]
pub struct SimReps {
    pub cells: Arc<Mutex<BTreeMap<String, Arc<SimCell>>>>,
}

impl SimReps {
    pub fn add(&self, cell: Arc<SimCell>) {
        if let Ok(mut c) = self.cells.lock() {
            c.insert(cell.presence.cell_id.clone(), cell);
        }
    }

    pub fn remove(&self, cell_id: &str) -> Option<Arc<SimCell>> {
        self.cells.lock().ok()?.remove(cell_id)
    }

    pub fn get(&self, cell_id: &str) -> Option<Arc<SimCell>> {
        self.cells.lock().ok()?.get(cell_id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<SimCell>> {
        self.cells
            .lock()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default()
    }
}

impl CellSource for SimReps {
    fn cells(&self) -> BoxFut<'_, Result<Vec<CellPresence>, String>> {
        let out = self.all().iter().map(|c| c.presence.clone()).collect();
        Box::pin(async move { Ok(out) })
    }
}

impl RepClient for SimReps {
    fn state<'a>(&'a self, cell: &'a CellPresence) -> BoxFut<'a, Result<CellState, String>> {
        let r = self
            .get(&cell.cell_id)
            .map(|c| c.snapshot())
            .ok_or_else(|| format!("no such cell {}", cell.cell_id));
        Box::pin(async move { r })
    }

    fn perform<'a>(
        &'a self,
        cell: &'a CellPresence,
        lrps: Vec<LrpStart>,
        tasks: Vec<TaskStart>,
    ) -> BoxFut<'a, Result<HandedBack, String>> {
        let r = self
            .get(&cell.cell_id)
            .map(|c| c.perform(lrps, tasks))
            .ok_or_else(|| format!("no such cell {}", cell.cell_id));
        Box::pin(async move { r })
    }
}

/// A simulated cell behind the real `diego.rep.v1` gRPC API.
pub struct SimRepServer(pub Arc<SimCell>);

impl SimRepServer {
    /// Starts a new simulated cell's rep API on a free loopback port; the
    /// cell's presence carries that `http://` URL, ready to report to a BBS.
    /// The server runs until the returned task is aborted.
    pub async fn spawn_loopback(
        cell_id: &str,
        zone: &str,
        total: Resources,
        stacks: &[&str],
    ) -> std::io::Result<(Arc<SimCell>, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let cell = SimCell::new_at(cell_id, zone, total, stacks, &url);
        let service = pb::rep_server::RepServer::new(SimRepServer(cell.clone()))
            .max_decoding_message_size(64 * 1024 * 1024);
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let id = cell_id.to_string();
        let task = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .tcp_nodelay(true)
                .add_service(service)
                .serve_with_incoming(incoming)
                .await;
            if let Err(e) = served {
                tracing::error!(cell = %id, error = %e, "simulated rep stopped");
            }
        });
        Ok((cell, task))
    }
}

#[tonic::async_trait]
impl pb::rep_server::Rep for SimRepServer {
    async fn state(&self, _: Request<pb::StateRequest>) -> Result<Response<pb::CellState>, Status> {
        Ok(Response::new(wire::cell_state_to_wire(
            &self.0.snapshot(),
            &self.0.presence.rep_url,
        )))
    }

    async fn perform(&self, r: Request<pb::Work>) -> Result<Response<pb::Work>, Status> {
        let w = r.into_inner();
        if w.cell_id != self.0.presence.cell_id {
            return Err(Status::invalid_argument(format!(
                "work for cell {} sent to cell {}",
                w.cell_id, self.0.presence.cell_id
            )));
        }
        let lrps = w
            .lrps
            .into_iter()
            .map(|l| wire::lrp_from_wire(l).0)
            .collect();
        let tasks = w
            .tasks
            .into_iter()
            .map(|t| wire::task_from_wire(t).0)
            .collect();
        let (fl, ft) = self.0.perform(lrps, tasks);
        Ok(Response::new(pb::Work {
            lrps: fl
                .into_iter()
                .map(|l| wire::lrp_to_wire(l, "insufficient resources".into()))
                .collect(),
            tasks: ft
                .into_iter()
                .map(|t| wire::task_to_wire(t, "insufficient resources".into()))
                .collect(),
            cell_id: w.cell_id,
        }))
    }

    async fn stop_lrp_instance(
        &self,
        _: Request<pb::StopLrpInstanceRequest>,
    ) -> Result<Response<pb::StopLrpInstanceResponse>, Status> {
        Ok(Response::new(pb::StopLrpInstanceResponse {}))
    }

    async fn cancel_task(
        &self,
        _: Request<pb::CancelTaskRequest>,
    ) -> Result<Response<pb::CancelTaskResponse>, Status> {
        Ok(Response::new(pb::CancelTaskResponse {}))
    }

    /// Simulated instances have no container to update.
    async fn update_lrp_instance(
        &self,
        _: Request<pb::UpdateLrpInstanceRequest>,
    ) -> Result<Response<pb::UpdateLrpInstanceResponse>, Status> {
        Ok(Response::new(pb::UpdateLrpInstanceResponse {}))
    }

    type LogsStream = futures::stream::Empty<Result<pb::LogLine, Status>>;

    /// Simulated work prints nothing.
    async fn logs(
        &self,
        _: Request<pb::LogsRequest>,
    ) -> Result<Response<Self::LogsStream>, Status> {
        Ok(Response::new(futures::stream::empty()))
    }
}
