//! `diego up`: every role in one process on the embedded store, with local
//! cells on real containers.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use diego_node::{BackendKind, CellConfig, LocalCell};

#[derive(Args, Debug, Clone)]
pub struct UpArgs {
    #[arg(long, env = "DIEGO_DATA_DIR", default_value = ".diego")]
    pub data_dir: PathBuf,
    /// How many local cells (zones z1, z2, ... in turn).
    #[arg(long, default_value_t = 2)]
    pub cells: u8,
    /// The gRPC API address.
    #[arg(long, env = "DIEGO_LISTEN", default_value = "127.0.0.1:8889")]
    pub listen: SocketAddr,
    /// The compatibility gateway: the original BBS HTTP API, plain HTTP.
    #[arg(long, env = "DIEGO_GATEWAY_LISTEN", default_value = "127.0.0.1:8890")]
    pub gateway_listen: SocketAddr,
    /// The content-addressed file server (`diego push` uploads apps and droplets to it).
    #[arg(
        long,
        env = "DIEGO_FILESERVER_LISTEN",
        default_value = "127.0.0.1:8891"
    )]
    pub fileserver_listen: SocketAddr,
    /// Memory per cell in MB.
    #[arg(long, default_value_t = 4096)]
    pub cell_memory_mb: u64,
    /// Convergence period in milliseconds.
    #[arg(long, env = "DIEGO_CONVERGE_INTERVAL_MS", default_value_t = 30_000)]
    pub converge_interval_ms: u64,
    /// Run the cells on the in-memory fake backend instead of runc.
    #[arg(long, hide = true)]
    pub fake_cells: bool,
    /// The cells' OCI runtime: runc or crun (default: crun where it can run, else runc).
    #[arg(long, env = "DIEGO_OCI_RUNTIME", value_parser = ["runc", "crun"])]
    pub oci_runtime: Option<String>,
    /// Each cell's download cache cap in bytes (in <data-dir>/cells/<id>/download-cache);
    /// 1 GiB, below a production cell's 10 GiB: several cells share a dev box's disk.
    /// 0 turns it off.
    #[arg(long, env = "DIEGO_DOWNLOAD_CACHE_MAX_BYTES", default_value_t = 1 << 30)]
    pub download_cache_max_bytes: u64,
    #[command(flatten)]
    pub scoring: super::bbs::ScorerArgs,
}

pub async fn run(a: UpArgs) -> anyhow::Result<i32> {
    super::init_tracing();
    let bbs_args = super::bbs::BbsArgs {
        listen: a.listen,
        data_dir: a.data_dir.clone(),
        store: "embedded".into(),
        converge_interval_ms: a.converge_interval_ms,
        lock_ttl_ms: 5_000,
        plaintext: false,
        encryption_keys: Vec::new(),
        active_key_label: None,
        tls_cert_file: None,
        tls_key_file: None,
        tls_ca_file: None,
        auctioneer: "in-process".into(),
        scoring: a.scoring.clone(),
    };
    let cp = super::bbs::start(&bbs_args).await?;
    let api = cp.api_url();
    // A busy gateway port leaves the gRPC API usable, so it only warns.
    let (gw_stop, gw_stopped) = tokio::sync::oneshot::channel::<()>();
    let gateway = match tokio::net::TcpListener::bind(a.gateway_listen).await {
        Ok(l) => {
            println!("bbs compatibility gateway: http://{}", l.local_addr()?);
            // a gRPC client of the API above, as `diego gateway` is (ADR 0014)
            let client = diego_sdk::Client::connect(&api, None)
                .await
                .map_err(|e| anyhow::anyhow!("gateway: {}", e.message))?;
            Some(tokio::spawn(diego_gateway::serve(
                std::sync::Arc::new(client),
                l,
                async {
                    let _ = gw_stopped.await;
                },
            )))
        }
        Err(e) => {
            eprintln!(
                "warning: no compatibility gateway on {}: {e}",
                a.gateway_listen
            );
            None
        }
    };
    // Like the gateway, a busy file server port only warns: everything but `diego push` works.
    let fileserver =
        match diego_fileserver::spawn(a.fileserver_listen, &a.data_dir.join("fileserver")).await {
            Ok(f) => {
                println!("file server: {}", f.url());
                Some(f)
            }
            Err(e) => {
                eprintln!("warning: no file server on {}: {e}", a.fileserver_listen);
                None
            }
        };
    let mut cells = Vec::new();
    for i in 0..a.cells {
        let id = format!("cell-{}", i + 1);
        let zone = format!("z{}", (i % 2) + 1);
        let mut cfg = CellConfig::new(&id, &zone, &api, i);
        cfg.memory_mb = a.cell_memory_mb;
        cfg.state_dir = a.data_dir.join("cells").join(&id);
        if a.fake_cells {
            cfg.backend = BackendKind::Fake;
        }
        cfg.oci_runtime = super::oci_runtime(a.oci_runtime.as_deref())?;
        cfg.download_cache_max_bytes = a.download_cache_max_bytes;
        let cell = match LocalCell::start(cfg).await {
            Ok(c) => c,
            Err(e) => {
                cp.stop().await;
                anyhow::bail!("cannot start cell {id}: {e}");
            }
        };
        println!("cell {id} (zone {zone}): rep api http://{}", cell.addr);
        cells.push(cell);
    }
    println!("bbs api: {api}");
    println!("data dir: {}", a.data_dir.display());
    println!("ready: try `diego task create -f task.json --wait`, `diego lrp list`, `diego actual list`, `diego events`");
    super::wait_for_signal().await;
    println!("shutting down: stopping containers");
    for c in cells {
        c.stop().await;
    }
    let _ = gw_stop.send(());
    if let Some(f) = fileserver {
        f.stop().await;
    }
    if let Some(g) = gateway {
        let _ = g.await;
    }
    cp.stop().await;
    Ok(0)
}
