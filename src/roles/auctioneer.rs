//! `diego auctioneer`: the auctioneer as its own process (ADR 0013). Any
//! number may run; the holder of the auctioneer lock in etcd serves, the
//! others stand by. BBS replicas started with `--auctioneer remote` send it
//! their auction requests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use diego_node::{AuctioneerNode, AuctioneerNodeConfig, AuctioneerState, AuctioneerTls, StoreSpec};

use super::bbs::ScorerArgs;

#[derive(Args, Debug, Clone)]
pub struct AuctioneerArgs {
    /// Where the cell presences and the auctioneer lock live:
    /// `etcd://host:port[,host:port...]` (the BBS's store).
    #[arg(long, env = "DIEGO_STORE")]
    pub store: String,
    /// The BBS API placement failures are reported to; several
    /// comma-separated addresses for BBS replicas.
    #[arg(long, env = "DIEGO_BBS", default_value = "http://127.0.0.1:8889")]
    pub bbs: String,
    /// The auctioneer API address, served only while holding the lock (Diego: 9016).
    #[arg(
        long,
        env = "DIEGO_AUCTIONEER_LISTEN",
        default_value = "127.0.0.1:9016"
    )]
    pub listen: SocketAddr,
    /// The URL published in the lock for the BBS to call, when --listen is
    /// not it (a wildcard address, NAT); default `http(s)://<listen>`.
    #[arg(long, env = "DIEGO_AUCTIONEER_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// How long the auctioneer lock outlives an instance that stopped
    /// renewing it (bounds failover time).
    #[arg(long, env = "DIEGO_LOCK_TTL_MS", default_value_t = 5_000)]
    pub lock_ttl_ms: u64,
    /// Per-cell state request timeout in milliseconds (Diego: 10 s).
    #[arg(long, default_value_t = 10_000)]
    pub cell_state_timeout_ms: u64,
    /// Mutual TLS (all three or none): the CA every peer's certificate comes
    /// from, and this auctioneer's certificate and key. The API then accepts
    /// only callers with a certificate from the CA, and the auctioneer calls
    /// reps and the (`https://`) BBS with its certificate.
    #[arg(long, env = "DIEGO_TLS_CA_FILE")]
    pub tls_ca_file: Option<PathBuf>,
    #[arg(long, env = "DIEGO_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    #[arg(long, env = "DIEGO_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    #[command(flatten)]
    pub scoring: ScorerArgs,
}

pub async fn run(a: AuctioneerArgs) -> anyhow::Result<i32> {
    super::init_tracing();
    let cfg = config(&a)?;
    let node = AuctioneerNode::start(cfg).await?;
    let mut states = node.watch();
    let report = tokio::spawn(async move {
        loop {
            match states.borrow_and_update().clone() {
                AuctioneerState::Standby => {
                    println!("auctioneer standby: waiting for the auctioneer lock")
                }
                AuctioneerState::Active { url, token } => {
                    println!("auctioneer api: {url} (active, fencing token {token})")
                }
                AuctioneerState::Stopped => break,
            }
            if states.changed().await.is_err() {
                break;
            }
        }
    });
    super::wait_for_signal().await;
    node.stop().await;
    report.abort();
    Ok(0)
}

fn config(a: &AuctioneerArgs) -> anyhow::Result<AuctioneerNodeConfig> {
    let (endpoints, prefix) = match StoreSpec::parse(&a.store).map_err(|e| anyhow::anyhow!(e))? {
        StoreSpec::Etcd { endpoints, prefix } => (endpoints, prefix),
        _ => anyhow::bail!(
            "--store {}: the auctioneer needs etcd (etcd://host:port), where its lock and the cell presences live",
            a.store
        ),
    };
    let tls = match diego_tls::TlsPaths::from_flags(
        a.tls_ca_file.as_deref(),
        a.tls_cert_file.as_deref(),
        a.tls_key_file.as_deref(),
    )? {
        Some(paths) => {
            // checked now (expiry, CA, key) so a bad file fails the start
            let m = diego_tls::TlsMaterial::load(&paths)?;
            Some(AuctioneerTls {
                ca_pem: m.ca_pem,
                cert_pem: m.cert_pem,
                key_pem: m.key_pem,
            })
        }
        None => None,
    };
    let mut auctioneer = diego_auctioneer::AuctioneerConfig {
        cell_state_timeout_ms: a.cell_state_timeout_ms,
        ..Default::default()
    };
    if let Some(scorer) = a.scoring.load(&auctioneer.auction)? {
        println!("placement scorer: {}", scorer.description);
        auctioneer.scorer = Some(scorer);
    }
    Ok(AuctioneerNodeConfig {
        listen: a.listen,
        advertise_url: a.advertise_url.clone(),
        etcd_endpoints: endpoints,
        prefix,
        bbs_url: a.bbs.clone(),
        tls,
        auctioneer,
        lock_ttl: Duration::from_millis(a.lock_ttl_ms),
    })
}
