//! `diego cell`: one cell (rep + executor on runc) reporting to a BBS.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use diego_node::{CellConfig, LocalCell};

#[derive(Args, Debug, Clone)]
pub struct CellArgs {
    /// The BBS gRPC API this cell reports to; several comma-separated
    /// addresses for BBS replicas (the cell follows the active one).
    #[arg(long, env = "DIEGO_BBS", default_value = "http://127.0.0.1:8889")]
    pub bbs: String,
    #[arg(long, env = "DIEGO_CELL_ID")]
    pub cell_id: String,
    #[arg(long, env = "DIEGO_ZONE", default_value = "z1")]
    pub zone: String,
    /// The rep API address; the auctioneer must be able to reach it.
    #[arg(long, env = "DIEGO_REP_LISTEN", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    #[arg(long, default_value_t = 4096)]
    pub memory_mb: u64,
    #[arg(long, default_value_t = 16384)]
    pub disk_mb: u64,
    /// Keeps several cells on one machine apart (container subnet, host ports).
    #[arg(long, default_value_t = 0)]
    pub cell_number: u8,
    #[arg(long, env = "DIEGO_DATA_DIR", default_value = ".diego")]
    pub data_dir: PathBuf,
    /// Run work on the in-memory fake backend instead of runc (simulations
    /// and control-plane tests on machines without root).
    #[arg(long)]
    pub fake_backend: bool,
    /// The OCI runtime: runc or crun (default: crun where it can run, else runc).
    #[arg(long, env = "DIEGO_OCI_RUNTIME", value_parser = ["runc", "crun"])]
    pub oci_runtime: Option<String>,
    /// Where Downloads with a cache_key are cached (default:
    /// <data-dir>/cells/<cell-id>/download-cache).
    #[arg(long, env = "DIEGO_DOWNLOAD_CACHE_DIR")]
    pub download_cache_dir: Option<PathBuf>,
    /// The download cache's size cap in bytes (Diego's 10 GiB); 0 turns it off.
    #[arg(long, env = "DIEGO_DOWNLOAD_CACHE_MAX_BYTES", default_value_t = 10 << 30)]
    pub download_cache_max_bytes: u64,
    /// Mutual TLS (all three or none): the PEM CA of the BBS and auctioneer,
    /// and this cell's certificate and key. The cell then reaches an
    /// `https://` --bbs with the certificate and serves its rep API over TLS.
    #[arg(long, env = "DIEGO_TLS_CA_FILE")]
    pub tls_ca_file: Option<PathBuf>,
    #[arg(long, env = "DIEGO_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    #[arg(long, env = "DIEGO_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
}

pub async fn run(a: CellArgs) -> anyhow::Result<i32> {
    super::init_tracing();
    let mut cfg = CellConfig::new(&a.cell_id, &a.zone, &a.bbs, a.cell_number);
    cfg.listen = a.listen;
    cfg.memory_mb = a.memory_mb;
    cfg.disk_mb = a.disk_mb;
    cfg.state_dir = a.data_dir.join("cells").join(&a.cell_id);
    if a.fake_backend {
        cfg.backend = diego_node::BackendKind::Fake;
    }
    cfg.oci_runtime = super::oci_runtime(a.oci_runtime.as_deref())?;
    cfg.download_cache_dir = a.download_cache_dir.clone();
    cfg.download_cache_max_bytes = a.download_cache_max_bytes;
    let paths = diego_tls::TlsPaths::from_flags(
        a.tls_ca_file.as_deref(),
        a.tls_cert_file.as_deref(),
        a.tls_key_file.as_deref(),
    )?;
    if let Some(p) = paths {
        let m = diego_tls::TlsMaterial::load(&p)?;
        if !a.bbs.starts_with("https://") {
            anyhow::bail!("--bbs {} must be https:// with --tls-* certificates", a.bbs);
        }
        cfg.tls = Some(diego_rep::RepTls {
            ca_pem: m.ca_pem,
            cert_pem: m.cert_pem,
            key_pem: m.key_pem,
        });
    }
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    let cell = LocalCell::start(cfg).await?;
    println!(
        "cell {} (zone {}): rep api {scheme}://{}",
        a.cell_id, a.zone, cell.addr
    );
    super::wait_for_signal().await;
    // A drain: hand running instances over to other cells first.
    cell.rep.evacuate().await;
    cell.stop().await;
    Ok(0)
}
