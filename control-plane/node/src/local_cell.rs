//! A cell in this process: executor on a backend, the rep, its gRPC API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use diego_backend_oci::{OciBackend, OciConfig};
use diego_backend_wasm::{RoutedBackend, WasmBackend, WasmConfig, WasmPortChecker, WASM_SCHEME};
use diego_executor::{
    Backend, Executor, ExecutorConfig, HealthChecker, NativeHealthChecker, Resources,
};
use diego_rep::{Rep, RepConfig};
use diego_sdk::Client;
use diego_wasm_host::{Healthcheck, HostConfig, WasmHealthChecker, WasmHost};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::NodeError;

/// Where `diego up` (scripts/up.sh) points cells at the built healthcheck guest.
pub const HEALTHCHECK_WASM_ENV: &str = "DIEGO_HEALTHCHECK_WASM";

/// Host ports of a cell's slot from which wasm instances take theirs (the OCI backend keeps
/// the ones below).
const WASM_PORT_OFFSET: u32 = 150;

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
    /// Mutual TLS: the cell connects to an `https://` BBS with this identity
    /// and serves its rep API over TLS (rep URL `https://`), accepting only
    /// callers with a certificate from the same CA. Plain when absent.
    pub tls: Option<diego_rep::RepTls>,
    /// Runs `wasm:` workloads on the wasm backend beside the OCI containers (OCI backend
    /// only) and advertises the `wasm` rootfs provider. On by default.
    pub wasm: bool,
    /// The healthcheck guest (`diego_healthcheck.wasm`): when set, LRP checks run through it
    /// on the cell host; else (or when it cannot be loaded) through the native checker.
    /// Defaults to `$DIEGO_HEALTHCHECK_WASM`.
    pub healthcheck_wasm: Option<PathBuf>,
    /// The OCI runtime; `None` chooses (`$DIEGO_OCI_RUNTIME`, else crun
    /// where it can run, else runc; ADR 0025).
    pub oci_runtime: Option<diego_backend_oci::OciRuntime>,
    /// Where Downloads with a `cache_key` are cached (ADR 0031); `None` =
    /// `<state_dir>/download-cache`.
    pub download_cache_dir: Option<PathBuf>,
    /// The download cache's size cap in bytes; 0 turns the cache off.
    pub download_cache_max_bytes: u64,
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
            tls: None,
            wasm: true,
            healthcheck_wasm: std::env::var_os(HEALTHCHECK_WASM_ENV).map(PathBuf::from),
            oci_runtime: None,
            download_cache_dir: None,
            download_cache_max_bytes: diego_executor::download_cache::DEFAULT_MAX_BYTES,
        }
    }
}

pub struct LocalCell {
    pub rep: Rep,
    pub addr: SocketAddr,
    pub backend: Arc<dyn Backend>,
    /// The runc backend, whose cell-wide network (bridge, masquerade rule)
    /// goes when the cell stops for good.
    oci: Option<Arc<OciBackend>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    server: JoinHandle<()>,
}

impl LocalCell {
    pub async fn start(cfg: CellConfig) -> Result<Self, NodeError> {
        let mut wasm_backend: Option<Arc<WasmBackend>> = None;
        let mut oci_backend: Option<Arc<OciBackend>> = None;
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
                if cfg.oci_runtime.is_some() {
                    oci.runtime = cfg.oci_runtime;
                }
                oci.net.ipam_dir = state_dir.join("ipam");
                oci.state_dir = state_dir;
                // Cells on one machine must not hand out the same host ports:
                // 18 slots of 250 ports (the default container count) above
                // the kernel's ephemeral range, chosen by the cell number.
                let base = 61_000 + (u32::from(cfg.cell_number) % 18) * 250;
                oci.net.host_port_range = (base, base + 249);
                if cfg.wasm {
                    oci.net.host_port_range = (base, base + WASM_PORT_OFFSET - 1);
                    let wasm_cfg = WasmConfig::new(
                        oci.state_dir.join("wasm"),
                        (base + WASM_PORT_OFFSET, base + 249),
                    );
                    let wasm = WasmBackend::new(wasm_cfg)
                        .map_err(|e| NodeError::Backend(e.to_string()))?;
                    wasm_backend = Some(wasm.clone());
                    let oci = OciBackend::new(oci);
                    oci_backend = Some(oci.clone());
                    RoutedBackend::new(wasm, oci)
                } else {
                    let oci = OciBackend::new(oci);
                    oci_backend = Some(oci.clone());
                    oci
                }
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
        let download_cache_dir = download_cache_dir(&cfg)?;
        let exec_cfg = ExecutorConfig {
            cell_id: cfg.cell_id.clone(),
            external_ip: "127.0.0.1".into(),
            total: Resources {
                memory_mb: cfg.memory_mb,
                disk_mb: cfg.disk_mb,
                containers: cfg.containers,
            },
            download_cache_dir,
            download_cache_max_bytes: cfg.download_cache_max_bytes,
            ..ExecutorConfig::default()
        };
        let exec = match &wasm_backend {
            Some(wasm) => {
                let checker = WasmPortChecker::new(wasm.clone(), health_checker(&cfg));
                Executor::with_health_checker(backend.clone(), exec_cfg, checker)
            }
            None => Executor::new(backend.clone(), exec_cfg),
        };
        let bbs_tls = cfg.tls.as_ref().map(|t| diego_sdk::TlsFiles {
            ca_pem: Some(t.ca_pem.clone()),
            cert_pem: Some(t.cert_pem.clone()),
            key_pem: Some(t.key_pem.clone()),
        });
        let bbs = connect_bbs(&cfg.bbs_url, bbs_tls).await?;
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
        let scheme = if cfg.tls.is_some() { "https" } else { "http" };
        rep_cfg.rep_url = format!("{scheme}://{addr}");
        if oci_backend.is_some() && rep_cfg.fencing_token_file.is_none() {
            rep_cfg.fencing_token_file = Some(cfg.state_dir.join("auctioneer-fencing-token"));
        }
        if wasm_backend.is_some() && !rep_cfg.rootfs_schemes.iter().any(|s| s == WASM_SCHEME) {
            rep_cfg.rootfs_schemes.push(WASM_SCHEME.to_string());
        }
        let rep = Rep::new(rep_cfg, exec, bbs);
        let (shutdown, mut rx) = watch::channel(false);
        let r = rep.clone();
        let rep_tls = cfg.tls.clone();
        let server = tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|v| *v).await;
            };
            if let Err(e) = diego_rep::serve_rep_api_tls(r, listener, rep_tls, stop).await {
                tracing::error!(error = %e, "rep api stopped");
            }
        });
        rep.report_presence().await?;
        let tasks = rep.spawn_loops();
        Ok(LocalCell {
            rep,
            addr,
            backend,
            oci: oci_backend,
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
        // nothing left behind: the bridge and the masquerade rule too
        self.remove_network().await;
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
        self.remove_network().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
    }

    /// The cell-wide network (bridge, masquerade rule), once no container
    /// is left; the next start of this cell creates it again.
    async fn remove_network(&self) {
        let Some(oci) = &self.oci else { return };
        if !self.rep.executor().list().is_empty() {
            return;
        }
        if let Err(e) = oci.remove_cell_network().await {
            tracing::warn!(error = %e, "cannot remove the cell network");
        }
    }
}

/// The download cache's directory, created here so a cell that cannot
/// write it fails its start naming the path; `None` when the cache is off.
fn download_cache_dir(cfg: &CellConfig) -> Result<Option<PathBuf>, NodeError> {
    if cfg.download_cache_max_bytes == 0 {
        return Ok(None);
    }
    let dir = cfg
        .download_cache_dir
        .clone()
        .unwrap_or_else(|| cfg.state_dir.join("download-cache"));
    std::fs::create_dir_all(&dir).map_err(|e| {
        NodeError::Backend(format!(
            "cannot create download cache {}: {e}",
            dir.display()
        ))
    })?;
    Ok(Some(dir))
}

/// The cell's health checker: the wasm healthcheck guest on the host when configured and
/// loadable, else the native one (said in a log line).
fn health_checker(cfg: &CellConfig) -> Arc<dyn HealthChecker> {
    let Some(path) = &cfg.healthcheck_wasm else {
        tracing::info!(cell = %cfg.cell_id, "no healthcheck guest configured ({HEALTHCHECK_WASM_ENV}): native health checks");
        return Arc::new(NativeHealthChecker);
    };
    match load_healthcheck(path) {
        Ok(checker) => {
            tracing::info!(cell = %cfg.cell_id, guest = %path.display(), "health checks run through the wasm healthcheck");
            checker
        }
        Err(e) => {
            tracing::warn!(cell = %cfg.cell_id, guest = %path.display(), error = %e, "cannot load the healthcheck guest: native health checks");
            Arc::new(NativeHealthChecker)
        }
    }
}

fn load_healthcheck(path: &std::path::Path) -> Result<Arc<dyn HealthChecker>, String> {
    // One plugin host (one Engine) per process, shared by every cell of `diego up`.
    static HOST: std::sync::OnceLock<Result<Arc<WasmHost>, String>> = std::sync::OnceLock::new();
    let host = HOST
        .get_or_init(|| {
            WasmHost::new(HostConfig::default())
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .clone()?;
    let bytes = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let healthcheck = Healthcheck::load(&host, &bytes).map_err(|e| e.to_string())?;
    Ok(Arc::new(WasmHealthChecker::new(healthcheck)))
}

/// A cell may start before its BBS (a machine booting, a BBS restarting):
/// while nothing listens at the address the start waits, retrying with a
/// capped backoff and saying so. Anything else (a malformed address, a
/// certificate the BBS refuses) fails the start at once: waiting would not
/// fix it.
async fn connect_bbs(url: &str, tls: Option<diego_sdk::TlsFiles>) -> Result<Client, NodeError> {
    const MAX_DELAY_MS: u64 = 5_000;
    Ok(Client::connect_when_listening(url, tls, MAX_DELAY_MS).await?)
}
