//! The rep API client over gRPC, one channel per rep URL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use diego_auction::{CellState, LrpStart, TaskStart};
use diego_model::CellPresence;
use diego_proto::rep::v1 as pb;
use diego_proto::rep::v1::rep_client::RepClient as PbRepClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::wire;
use crate::{BoxFut, HandedBack, RepClient};

pub struct GrpcReps {
    channels: Mutex<HashMap<String, Channel>>,
    timeout: Duration,
    /// Client identity and trusted CA for reps served over `https://`.
    tls: Option<ClientTlsConfig>,
    /// The auctioneer lock's fencing token sent with every `Perform` (0: none;
    /// ADR 0022), so reps refuse work from a deposed auctioneer.
    fencing_token: AtomicI64,
}

impl GrpcReps {
    /// `timeout_ms` bounds every call (Diego's cell state timeout is 10 s).
    pub fn new(timeout_ms: u64) -> Self {
        GrpcReps {
            channels: Mutex::new(HashMap::new()),
            timeout: Duration::from_millis(timeout_ms),
            tls: None,
            fencing_token: AtomicI64::new(0),
        }
    }

    /// Sends `token` (the etcd revision of the lock this auctioneer holds)
    /// with every `Perform`.
    pub fn with_fencing_token(self, token: i64) -> Self {
        self.fencing_token.store(token, Ordering::Relaxed);
        self
    }

    /// Calls reps with an `https://` rep URL over mutual TLS: this PEM
    /// certificate and key, trusting only `ca_pem`.
    pub fn with_tls(mut self, ca_pem: Vec<u8>, cert_pem: Vec<u8>, key_pem: Vec<u8>) -> Self {
        self.tls = Some(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca_pem))
                .identity(Identity::from_pem(cert_pem, key_pem)),
        );
        self
    }

    /// A client for the cell's rep (channels connect lazily and are reused).
    pub fn client(&self, cell: &CellPresence) -> Result<PbRepClient<Channel>, String> {
        let url = if cell.rep_url.is_empty() {
            &cell.rep_address
        } else {
            &cell.rep_url
        };
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = channels.get(url) {
            return Ok(PbRepClient::new(c.clone()));
        }
        let mut endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| format!("cell {} has an invalid rep url {url}: {e}", cell.cell_id))?;
        if url.starts_with("https://") {
            let tls = self.tls.clone().ok_or_else(|| {
                format!(
                    "cell {} serves its rep api over tls ({url}) but the auctioneer has no tls certificates",
                    cell.cell_id
                )
            })?;
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| format!("cell {}: tls for {url}: {e}", cell.cell_id))?;
        }
        let channel = endpoint
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .tcp_nodelay(true)
            .connect_lazy();
        channels.insert(url.clone(), channel.clone());
        Ok(PbRepClient::new(channel))
    }
}

impl RepClient for GrpcReps {
    fn state<'a>(&'a self, cell: &'a CellPresence) -> BoxFut<'a, Result<CellState, String>> {
        Box::pin(async move {
            let mut c = self.client(cell)?;
            let s = c
                .state(pb::StateRequest {})
                .await
                .map_err(|e| e.message().to_string())?;
            Ok(wire::cell_state(s.into_inner()))
        })
    }

    fn perform<'a>(
        &'a self,
        cell: &'a CellPresence,
        lrps: Vec<LrpStart>,
        tasks: Vec<TaskStart>,
    ) -> BoxFut<'a, Result<HandedBack, String>> {
        Box::pin(async move {
            let mut c = self.client(cell)?;
            let work = pb::Work {
                lrps: lrps
                    .into_iter()
                    .map(|l| wire::lrp_to_wire(l, String::new()))
                    .collect(),
                tasks: tasks
                    .into_iter()
                    .map(|t| wire::task_to_wire(t, String::new()))
                    .collect(),
                cell_id: cell.cell_id.clone(),
            };
            let mut request = tonic::Request::new(work);
            diego_proto::fencing::attach(
                request.metadata_mut(),
                self.fencing_token.load(Ordering::Relaxed),
            );
            let failed = c
                .perform(request)
                .await
                .map_err(|e| e.message().to_string())?
                .into_inner();
            Ok((
                failed
                    .lrps
                    .into_iter()
                    .map(|l| wire::lrp_from_wire(l).0)
                    .collect(),
                failed
                    .tasks
                    .into_iter()
                    .map(|t| wire::task_from_wire(t).0)
                    .collect(),
            ))
        })
    }
}
