//! A cell in this process: executor on a backend, the rep, its gRPC API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use diego_backend_oci::{OciBackend, OciConfig};
use diego_executor::{Backend, Executor, ExecutorConfig, Resources};
use diego_rep::{Rep, RepConfig};
use diego_sdk::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::NodeError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Real containers through runc.
    Oci,
    /// The scripted in-memory backend (tests and simulations).
    Fake,
}

#[derive(Debug, Clone)]
pub struct CellConfig {
    pub cell_id: String,
    pub zone: String,
    /// The BBS API this cell reports to.
    pub bbs_url: String,
    /// Where the rep API listens (port 0 = any).
    pub listen: SocketAddr,
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub containers: u64,
    pub backend: BackendKind,
    /// Distinguishes cells on one machine: container subnet and host ports.
    pub cell_number: u8,
    pub state_dir: PathBuf,
    pub rep: Option<RepConfig>,
}

impl CellConfig {
    pub fn new(cell_id: &str, zone: &str, bbs_url: &str, cell_number: u8) -> Self {
        CellConfig {
            cell_id: cell_id.into(),
            zone: zone.into(),
            bbs_url: bbs_url.into(),
            listen: "127.0.0.1:0".parse().expect("a valid literal address"),
            memory_mb: 4096,
            disk_mb: 16384,
            containers: 250,
            backend: BackendKind::Oci,
            cell_number,
            state_dir: PathBuf::from("/var/lib/diego").join(cell_id),
            rep: None,
        }
    }
}

pub struct LocalCell {
    pub rep: Rep,
    pub addr: SocketAddr,
    pub backend: Arc<dyn Backend>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    server: JoinHandle<()>,
}

impl LocalCell {
    pub async fn start(cfg: CellConfig) -> Result<Self, NodeError> {
        let backend: Arc<dyn Backend> = match cfg.backend {
            BackendKind::Oci => {
                OciBackend::available().map_err(NodeError::Backend)?;
                std::fs::create_dir_all(&cfg.state_dir).map_err(|e| {
                    NodeError::Backend(format!("cannot create {}: {e}", cfg.state_dir.display()))
                })?;
                // Absolute paths: runc, mounts and CNI all see the real path.
                let state_dir = std::fs::canonicalize(&cfg.state_dir).map_err(|e| {
                    NodeError::Backend(format!("cannot resolve {}: {e}", cfg.state_dir.display()))
                })?;
                let mut oci = OciConfig::new(&cfg.cell_id, 10 + cfg.cell_number);
                oci.net.ipam_dir = state_dir.join("ipam");
                oci.state_dir = state_dir;
                // Cells on one machine must not hand out the same host ports:
                // 18 slots of 250 ports (the default container count) above
                // the kernel's ephemeral range, chosen by the cell number.
                let base = 61_000 + (u32::from(cfg.cell_number) % 18) * 250;
                oci.net.host_port_range = (base, base + 249);
                OciBackend::new(oci)
            }
            BackendKind::Fake => diego_backend_fake::FakeBackend::new(),
        };
        // Containers left by an earlier run of this cell (a crash or SIGKILL)
        // are unknown to the new executor: remove them so nothing leaks. The
        // bulk sync then reports their BBS records as gone.
        if let Ok(left) = backend.list().await {
            for guid in left {
                tracing::info!(cell = %cfg.cell_id, guid, "removing a container left by an earlier run");
                if let Err(e) = backend.destroy(&guid).await {
                    tracing::warn!(error = %e, guid, "cannot remove leftover container");
                }
            }
        }
        let exec_cfg = ExecutorConfig {
            cell_id: cfg.cell_id.clone(),
            external_ip: "127.0.0.1".into(),
            total: Resources {
                memory_mb: cfg.memory_mb,
                disk_mb: cfg.disk_mb,
                containers: cfg.containers,
            },
            ..ExecutorConfig::default()
        };
        let exec = Executor::new(backend.clone(), exec_cfg);
        let bbs = Client::connect(&cfg.bbs_url, None).await?;
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| NodeError::Listen {
                addr: cfg.listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| NodeError::Listen {
            addr: cfg.listen.to_string(),
            source,
        })?;
        let mut rep_cfg = cfg
            .rep
            .clone()
            .unwrap_or_else(|| RepConfig::new(&cfg.cell_id, &cfg.zone, ""));
        rep_cfg.rep_url = format!("http://{addr}");
        let rep = Rep::new(rep_cfg, exec, bbs);
        let (shutdown, mut rx) = watch::channel(false);
        let r = rep.clone();
        let server = tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|v| *v).await;
            };
            if let Err(e) = diego_rep::serve_rep_api(r, listener, stop).await {
                tracing::error!(error = %e, "rep api stopped");
            }
        });
        rep.report_presence().await?;
        let tasks = rep.spawn_loops();
        Ok(LocalCell {
            rep,
            addr,
            backend,
            shutdown,
            tasks,
            server,
        })
    }

    /// Stops all work on the cell (reporting it to the BBS) and the loops.
    pub async fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
        self.rep.shutdown().await;
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
    }

    /// Simulates a cell dying: the loops and API stop, containers are torn
    /// down without telling the BBS (its presence then expires).
    pub async fn kill(self) {
        for t in &self.tasks {
            t.abort();
        }
        let _ = self.shutdown.send(true);
        // Through the executor, so its running steps end before teardown;
        // the rep's loops are gone, so the BBS hears nothing of it.
        for c in self.rep.executor().list() {
            let _ = self.rep.executor().delete(&c.guid).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
    }
}
