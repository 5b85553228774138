//! `diego bbs`: the control plane (BBS API, auctioneer, converger) on one
//! store, without cells; `diego cell` processes report to it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use diego_node::{ControlPlane, ControlPlaneConfig};

#[derive(Args, Debug, Clone)]
pub struct BbsArgs {
    /// The gRPC API address.
    #[arg(long, env = "DIEGO_LISTEN", default_value = "127.0.0.1:8889")]
    pub listen: SocketAddr,
    #[arg(long, env = "DIEGO_DATA_DIR", default_value = ".diego")]
    pub data_dir: PathBuf,
    /// The store: `embedded` or `etcd://host:port[,host:port...]` (TiKV is not built yet).
    #[arg(long, env = "DIEGO_STORE", default_value = "embedded")]
    pub store: String,
    /// Convergence period in milliseconds.
    #[arg(long, env = "DIEGO_CONVERGE_INTERVAL_MS", default_value_t = 30_000)]
    pub converge_interval_ms: u64,
    /// Store records in plaintext (encryption at rest is on by default).
    #[arg(long)]
    pub plaintext: bool,
    /// Serve the API over TLS with this PEM certificate (and --tls-key-file).
    #[arg(long, env = "DIEGO_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    #[arg(long, env = "DIEGO_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
}

pub async fn run(a: BbsArgs) -> anyhow::Result<i32> {
    super::init_tracing();
    let cp = start(&a).await?;
    println!("bbs api: {}", cp.api_url());
    super::wait_for_signal().await;
    cp.stop().await;
    Ok(0)
}

pub async fn start(a: &BbsArgs) -> anyhow::Result<ControlPlane> {
    let mut cfg = ControlPlaneConfig::new(a.listen, a.data_dir.clone());
    cfg.store = diego_node::StoreSpec::parse(&a.store).map_err(|e| anyhow::anyhow!(e))?;
    cfg.converge_interval_ms = a.converge_interval_ms;
    if a.plaintext {
        cfg.at_rest = diego_store::AtRest::Plaintext;
    }
    if let (Some(cert), Some(key)) = (&a.tls_cert_file, &a.tls_key_file) {
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
        };
        cfg.tls = Some((read(cert)?, read(key)?));
    }
    Ok(ControlPlane::start(cfg).await?)
}
