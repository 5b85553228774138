//! `diego bbs`: the control plane (BBS API, auctioneer, converger) on one
//! store, without cells; `diego cell` processes report to it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use std::time::Duration;

use diego_node::{ControlPlane, ControlPlaneConfig, Replica, ReplicaState, StoreSpec};

#[derive(Args, Debug, Clone)]
pub struct BbsArgs {
    /// The gRPC API address.
    #[arg(long, env = "DIEGO_LISTEN", default_value = "127.0.0.1:8889")]
    pub listen: SocketAddr,
    #[arg(long, env = "DIEGO_DATA_DIR", default_value = ".diego")]
    pub data_dir: PathBuf,
    /// The store: `embedded`, `etcd://host:port[,host:port...]` or `tikv://pd-host:port[,...]`
    /// (TiKV only in a build with `--features tikv`).
    #[arg(long, env = "DIEGO_STORE", default_value = "embedded")]
    pub store: String,
    /// On etcd: how long the bbs lock outlives a replica that stopped
    /// renewing it (bounds failover time).
    #[arg(long, env = "DIEGO_LOCK_TTL_MS", default_value_t = 5_000)]
    pub lock_ttl_ms: u64,
    /// Convergence period in milliseconds.
    #[arg(long, env = "DIEGO_CONVERGE_INTERVAL_MS", default_value_t = 30_000)]
    pub converge_interval_ms: u64,
    /// Store records in plaintext (encryption at rest is on by default).
    #[arg(long, conflicts_with = "encryption_keys")]
    pub plaintext: bool,
    /// An encryption key at rest as LABEL:PASSPHRASE (repeatable; the
    /// original BBS's `encryption_keys`). Replicas given the same keys share
    /// them; without any, a random key is kept in `<data dir>/keyring`.
    #[arg(
        long = "encryption-key",
        env = "DIEGO_ENCRYPTION_KEYS",
        value_delimiter = ',',
        value_name = "LABEL:PASSPHRASE",
        hide_env_values = true
    )]
    pub encryption_keys: Vec<String>,
    /// The label of the key new writes use (needed with several keys).
    #[arg(long, env = "DIEGO_ACTIVE_KEY_LABEL", requires = "encryption_keys")]
    pub active_key_label: Option<String>,
    /// Serve the API over TLS with this PEM certificate (and --tls-key-file).
    #[arg(long, env = "DIEGO_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    #[arg(long, env = "DIEGO_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// Mutual TLS: accept only clients (CLI, cells, gateway) with a
    /// certificate from this PEM CA; reps served over https are called with
    /// --tls-cert-file as client certificate.
    #[arg(long, env = "DIEGO_TLS_CA_FILE", requires = "tls_cert_file")]
    pub tls_ca_file: Option<PathBuf>,
    /// Where auctions run: `in-process`, or `remote` (etcd only): sent to
    /// the `diego auctioneer` holding the auctioneer lock (ADR 0013).
    #[arg(long, env = "DIEGO_AUCTIONEER", default_value = "in-process")]
    pub auctioneer: String,
    #[command(flatten)]
    pub scoring: ScorerArgs,
}

pub async fn run(a: BbsArgs) -> anyhow::Result<i32> {
    super::init_tracing();
    let cfg = config(&a)?;
    if matches!(cfg.store, StoreSpec::Etcd { .. }) {
        return run_replica(cfg, a.lock_ttl_ms).await;
    }
    let cp = ControlPlane::start(cfg).await?;
    println!("bbs api: {}", cp.api_url());
    super::wait_for_signal().await;
    cp.stop().await;
    Ok(0)
}

/// On a shared store every `diego bbs` is a replica: it serves only while
/// it holds the bbs lock, and stands by otherwise.
async fn run_replica(cfg: ControlPlaneConfig, lock_ttl_ms: u64) -> anyhow::Result<i32> {
    let replica = Replica::start(cfg, Duration::from_millis(lock_ttl_ms)).await?;
    let mut states = replica.watch();
    let report = tokio::spawn(async move {
        loop {
            match states.borrow_and_update().clone() {
                ReplicaState::Standby => println!("bbs standby: waiting for the bbs lock"),
                ReplicaState::Active { api_url, token } => {
                    println!("bbs api: {api_url} (active, fencing token {token})")
                }
                ReplicaState::Stopped => break,
            }
            if states.changed().await.is_err() {
                break;
            }
        }
    });
    super::wait_for_signal().await;
    replica.stop().await;
    report.abort();
    Ok(0)
}

pub async fn start(a: &BbsArgs) -> anyhow::Result<ControlPlane> {
    Ok(ControlPlane::start(config(a)?).await?)
}

fn config(a: &BbsArgs) -> anyhow::Result<ControlPlaneConfig> {
    let mut cfg = ControlPlaneConfig::new(a.listen, a.data_dir.clone());
    cfg.store = diego_node::StoreSpec::parse(&a.store).map_err(|e| anyhow::anyhow!(e))?;
    cfg.converge_interval_ms = a.converge_interval_ms;
    cfg.auctioneer_mode =
        diego_node::AuctioneerMode::parse(&a.auctioneer).map_err(|e| anyhow::anyhow!(e))?;
    if a.plaintext {
        cfg.at_rest = diego_store::AtRest::Plaintext;
    }
    if !a.encryption_keys.is_empty() {
        let keys = a
            .encryption_keys
            .iter()
            .map(|k| diego_store::Keyring::parse_key_flag(k))
            .collect::<Result<Vec<_>, _>>()?;
        cfg.keyring = Some(diego_store::Keyring::from_passphrases(
            &keys,
            a.active_key_label.as_deref(),
        )?);
    }
    if let (Some(cert), Some(key)) = (&a.tls_cert_file, &a.tls_key_file) {
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
        };
        cfg.tls = Some((read(cert)?, read(key)?));
    }
    if let (Some(ca), Some(cert), Some(key)) = (&a.tls_ca_file, &a.tls_cert_file, &a.tls_key_file) {
        // Checked now (expiry, CA, key) so a bad file fails the start, not every handshake.
        let m = diego_tls::TlsMaterial::load(&diego_tls::TlsPaths::new(ca, cert, key))?;
        cfg.tls = Some((m.cert_pem.clone(), m.key_pem.clone()));
        cfg.tls_client_ca = Some(m.ca_pem);
    }
    if let Some(scorer) = a.scoring.load(&cfg.auctioneer.auction)? {
        println!("placement scorer: {}", scorer.description);
        cfg.auctioneer.scorer = Some(scorer);
    }
    Ok(cfg)
}

/// Placement scorer plugins (WASM components named by sha256) and their weights.
#[derive(Args, Debug, Clone, Default)]
pub struct ScorerArgs {
    /// A scorer plugin and its weight, `sha256:<hex>=<weight>` (repeatable); the component
    /// is looked up in --plugin-dir and refused unless its bytes hash to the digest.
    #[arg(long = "scorer", value_name = "SHA256=WEIGHT")]
    pub scorers: Vec<String>,
    /// Where scorer plugins are found (`<hex>.wasm`, or any `.wasm` with the digest).
    #[arg(long, env = "DIEGO_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Weight of the native default (Diego) scorer in the sum; 0 leaves scoring to plugins.
    #[arg(long, default_value_t = 1.0)]
    pub diego_scorer_weight: f64,
}

impl ScorerArgs {
    /// The weighted scorer, or `None` for Diego's alone; a bad flag or plugin fails the start.
    pub fn load(
        &self,
        auction: &diego_auction::AuctionConfig,
    ) -> anyhow::Result<Option<diego_auctioneer::SharedScorer>> {
        if self.scorers.is_empty() && self.diego_scorer_weight == 1.0 {
            return Ok(None);
        }
        let plugins = self
            .scorers
            .iter()
            .map(|s| diego_auctioneer::PluginSpec::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        let config = diego_auctioneer::ScorerConfig {
            diego_weight: self.diego_scorer_weight,
            plugins,
            plugin_dir: self.plugin_dir.clone(),
            ..Default::default()
        };
        Ok(Some(diego_auctioneer::load_scorer(&config, auction)?))
    }
}
