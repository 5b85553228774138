//! The control plane of one node: store, BBS over gRPC, the auctioneer and
//! the converger, each running while it holds its lock.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diego_auctioneer::{Auctioneer, AuctioneerConfig, ClientTls, GrpcReps};
use diego_bbs::collab::BoxFut;
use diego_bbs::grpc::{BbsGrpc, DecisionLog, ServeOptions};
use diego_bbs::{
    AuctionRequester, Bbs, BbsConfig, CallbackConfig, ConvergenceConfig, LrpAuction, SystemClock,
};
use diego_coordination::{LockTable, PresenceTable, Presences};
use diego_model::Task;
use diego_store::{AtRest, AtRestStore, EmbeddedOptions};
use diego_store_etcd::Fence;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::auctioneer_node::AUCTIONEER_LOCK;
use crate::cells::Cells;
use crate::remote_auctioneer::RemoteAuctioneer;
use crate::sink::BbsSink;
use crate::NodeError;

#[derive(Debug, Clone)]
pub struct ControlPlaneConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Where the records live: the embedded store in `data_dir`, or etcd.
    pub store: StoreSpec,
    pub at_rest: AtRest,
    /// Encryption keys from configuration (`--encryption-key`); without
    /// them the keyring file in `data_dir` (created on first start).
    pub keyring: Option<diego_store::Keyring>,
    /// Convergence period (Diego: 30 s); a lost cell triggers a pass at once.
    pub converge_interval_ms: u64,
    pub convergence: ConvergenceConfig,
    pub auctioneer: AuctioneerConfig,
    pub bbs: BbsConfig,
    /// Task completion callbacks (attempts, timeout, workers).
    pub callbacks: CallbackConfig,
    /// PEM certificate and key for TLS on the API; plain when absent.
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
    /// PEM CA for mutual TLS: with `tls`, API clients must present a
    /// certificate it signed, and reps with `https://` URLs are called with
    /// the `tls` certificate as client identity.
    pub tls_client_ca: Option<Vec<u8>>,
    /// On etcd: the lock this node won; every store write then checks that
    /// it still holds it (see `diego_store_etcd::Election`).
    pub fence: Option<Fence>,
    /// Where auctions run: in this process, or in the `diego auctioneer`
    /// holding the auctioneer lock (etcd only; ADR 0013).
    pub auctioneer_mode: AuctioneerMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuctioneerMode {
    /// The auctioneer runs inside this process (`diego up`, one `diego bbs`).
    #[default]
    InProcess,
    /// Auction requests go over gRPC to the holder of
    /// `<prefix>/locks/auctioneer`; `diego why` is answered from its log.
    Remote,
}

impl AuctioneerMode {
    /// `in-process` or `remote`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "in-process" => Ok(AuctioneerMode::InProcess),
            "remote" => Ok(AuctioneerMode::Remote),
            other => Err(format!("auctioneer {other:?} is not in-process or remote")),
        }
    }
}

impl ControlPlaneConfig {
    /// The keyring records are encrypted with: the configured one, else the
    /// file in the data dir (created on first start).
    pub fn keyring(&self) -> Result<diego_store::Keyring, diego_store::StoreError> {
        match &self.keyring {
            Some(k) => Ok(k.clone()),
            None => diego_store::Keyring::load_or_create(&self.data_dir),
        }
    }

    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        ControlPlaneConfig {
            listen,
            data_dir,
            store: StoreSpec::Embedded,
            at_rest: AtRest::Encrypted,
            keyring: None,
            converge_interval_ms: 30_000,
            convergence: ConvergenceConfig::default(),
            auctioneer: AuctioneerConfig::default(),
            bbs: BbsConfig::default(),
            callbacks: CallbackConfig::default(),
            tls: None,
            tls_client_ca: None,
            fence: None,
            auctioneer_mode: AuctioneerMode::InProcess,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    Embedded,
    /// etcd endpoints (`http://host:port`) and the key prefix.
    Etcd {
        endpoints: Vec<String>,
        prefix: String,
    },
    /// TiKV's PD endpoints (`host:port`) and the key prefix (the `tikv`
    /// feature; locks and presences stay in-process, ADR 0012).
    Tikv {
        pd_endpoints: Vec<String>,
        prefix: String,
    },
}

impl StoreSpec {
    /// `embedded` or `etcd://host:port[,host:port...]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s == "embedded" {
            return Ok(StoreSpec::Embedded);
        }
        if let Some(rest) = s.strip_prefix("tikv://") {
            return crate::store_tikv::parse(s, rest);
        }
        if let Some(rest) = s.strip_prefix("etcd://") {
            let endpoints: Vec<String> = rest
                .split(',')
                .filter(|e| !e.is_empty())
                .map(|e| format!("http://{e}"))
                .collect();
            if endpoints.is_empty() {
                return Err(format!("store {s:?} names no etcd endpoint"));
            }
            return Ok(StoreSpec::Etcd {
                endpoints,
                prefix: "/diego".into(),
            });
        }
        Err(format!(
            "store {s:?} is not embedded, etcd://host:port[,host:port] or tikv://pd-host:port"
        ))
    }
}

/// The records and the cell presences: both in-process for the embedded
/// store, both in etcd (so every replica sees them) for etcd.
struct Backend {
    store: Arc<dyn diego_store::Store>,
    /// Moves records onto the active key after a rotation (encrypted only).
    keys: Option<Arc<dyn diego_store::KeyMigration>>,
    presences: Arc<dyn Presences>,
    /// The in-process table expires presences lazily; it needs a sweeper.
    sweep: Option<Arc<PresenceTable>>,
}

async fn open_backend(cfg: &ControlPlaneConfig) -> Result<Backend, NodeError> {
    match &cfg.store {
        StoreSpec::Embedded => {
            let table = Arc::new(PresenceTable::new());
            let opened = diego_store::open_local_at_rest(
                &cfg.data_dir,
                cfg.at_rest,
                cfg.keyring.clone(),
                EmbeddedOptions::default(),
            )?;
            Ok(Backend {
                store: opened.store,
                keys: opened.keys,
                presences: table.clone(),
                sweep: Some(table),
            })
        }
        StoreSpec::Etcd { endpoints, prefix } => {
            let opts = diego_store_etcd::EtcdOptions::default();
            let etcd = diego_store_etcd::EtcdStore::connect_fenced(
                endpoints,
                prefix,
                opts.clone(),
                cfg.fence.clone(),
            )
            .await?;
            let client = diego_store_etcd::connect_client(endpoints, &opts).await?;
            let opened = match cfg.at_rest {
                // The keys stay with the replicas (configured, or in the data
                // dir); etcd only sees ciphertext.
                AtRest::Encrypted => AtRestStore::encrypted(etcd, cfg.keyring()?),
                AtRest::Plaintext => AtRestStore::plaintext(etcd),
            };
            Ok(Backend {
                store: opened.store,
                keys: opened.keys,
                presences: Arc::new(diego_store_etcd::EtcdPresences::new(client, prefix)),
                sweep: None,
            })
        }
        StoreSpec::Tikv {
            pd_endpoints,
            prefix,
        } => {
            let opened = crate::store_tikv::open(pd_endpoints, prefix, cfg.at_rest, cfg).await?;
            let table = Arc::new(PresenceTable::new());
            Ok(Backend {
                store: opened.store,
                keys: opened.keys,
                presences: table.clone(),
                sweep: Some(table),
            })
        }
    }
}

/// The auctioneer is built after the BBS (its results go to the BBS), so the
/// BBS gets this slot and the auctioneer is put in it. The BBS holds the
/// slot and the auctioneer's sink holds the BBS: `stop` empties the slot to
/// break that cycle, or a stopped control plane (a replica that lost its
/// lock) would keep its store open for the life of the process.
#[derive(Default)]
struct AuctioneerSlot(Mutex<Option<Auctioneer>>);

impl AuctioneerSlot {
    fn get(&self) -> Option<Auctioneer> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, a: Option<Auctioneer>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = a;
    }
}

impl AuctionRequester for AuctioneerSlot {
    fn request_lrp_auctions(&self, starts: Vec<LrpAuction>) -> BoxFut<'_, Result<(), String>> {
        match self.get() {
            Some(a) => Box::pin(async move { a.request_lrp_auctions(starts).await }),
            None => Box::pin(async { Err("auctioneer not running".to_string()) }),
        }
    }
    fn request_task_auctions(&self, tasks: Vec<Task>) -> BoxFut<'_, Result<(), String>> {
        match self.get() {
            Some(a) => Box::pin(async move { a.request_task_auctions(tasks).await }),
            None => Box::pin(async { Err("auctioneer not running".to_string()) }),
        }
    }
}

pub struct ControlPlane {
    pub addr: SocketAddr,
    pub bbs: Bbs,
    pub cells: Arc<Cells>,
    pub decisions: Arc<DecisionLog>,
    /// Whether the API is served over TLS (the URL scheme).
    tls: bool,
    shutdown: watch::Sender<bool>,
    slot: Arc<AuctioneerSlot>,
    tasks: Vec<JoinHandle<()>>,
    server: JoinHandle<()>,
}

const LOCK_TTL: Duration = Duration::from_secs(15);
/// Bounds one auction request to a remote auctioneer (they are queued and
/// sent one at a time, so a stopped auctioneer delays only the queue).
const AUCTION_REQUEST_TIMEOUT_MS: u64 = 5_000;

impl ControlPlane {
    pub async fn start(cfg: ControlPlaneConfig) -> Result<Self, NodeError> {
        if cfg.auctioneer_mode == AuctioneerMode::Remote
            && !matches!(cfg.store, StoreSpec::Etcd { .. })
        {
            // before anything is created: nothing to undo
            return Err(NodeError::Config(REMOTE_NEEDS_ETCD.into()));
        }
        std::fs::create_dir_all(&cfg.data_dir).map_err(|e| {
            NodeError::Backend(format!(
                "cannot create data dir {}: {e}",
                cfg.data_dir.display()
            ))
        })?;
        let tls_on = cfg.tls.is_some();
        let backend = open_backend(&cfg).await?;
        let store = backend.store;
        crate::key_check::verify_keys(store.as_ref()).await?;
        if let Some(keys) = &backend.keys {
            // before anything is served, as the original's encryptor does
            crate::key_check::migrate_keys(store.as_ref(), keys.as_ref()).await?;
        }
        let mut reps = GrpcReps::new(cfg.auctioneer.cell_state_timeout_ms);
        if let Some(fence) = &cfg.fence {
            // an active replica on etcd auctions under its lock: reps refuse
            // its work once a newer holder has placed some (ADR 0022)
            reps = reps.with_fencing_token(fence.token);
        }
        if let (Some((cert, key)), Some(ca)) = (&cfg.tls, &cfg.tls_client_ca) {
            reps = reps.with_tls(ca.clone(), cert.clone(), key.clone());
        }
        let reps = Arc::new(reps);
        let cells = Arc::new(Cells::with_presences(backend.presences, reps.clone()));
        let slot = Arc::new(AuctioneerSlot::default());
        let remote = match cfg.auctioneer_mode {
            AuctioneerMode::InProcess => None,
            AuctioneerMode::Remote => Some(Arc::new(remote_auctioneer(&cfg).await?)),
        };
        let requester: Arc<dyn AuctionRequester> = match &remote {
            Some(r) => r.clone(),
            None => slot.clone(),
        };
        let bbs = Bbs::new(
            store,
            Arc::new(SystemClock),
            requester,
            cells.clone(),
            cfg.bbs.clone(),
        );
        let decisions = Arc::new(DecisionLog::default());

        // One process holds every role here; the locks still gate each role
        // so the same code is right when they are split across processes.
        let locks = Arc::new(LockTable::new());
        let owner = uuid::Uuid::new_v4().to_string();
        for role in ["bbs", "auctioneer", "converger"] {
            locks
                .lock(role, &owner, LOCK_TTL)
                .map_err(|e| NodeError::Backend(e.to_string()))?;
        }

        let sink = Arc::new(BbsSink {
            bbs: bbs.clone(),
            decisions: decisions.clone(),
        });
        // Built either way (it is cheap and idle without requests); only
        // the in-process mode gives it work and runs its loop.
        let auctioneer = Auctioneer::new(cells.clone(), reps, sink, cfg.auctioneer.clone());
        slot.set(Some(auctioneer.clone()));

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
        let (shutdown, mut rx) = watch::channel(false);
        let mut grpc = BbsGrpc::new(bbs.clone(), decisions.clone());
        if let Some(r) = &remote {
            grpc = grpc.with_decision_source(r.clone());
        }
        let opts = ServeOptions {
            tls: cfg.tls.clone(),
            client_ca: cfg.tls_client_ca.clone(),
        };
        let server = tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|v| *v).await;
            };
            if let Err(e) = diego_bbs::grpc::serve(grpc, listener, opts, stop).await {
                tracing::error!(error = %e, "bbs grpc server stopped");
            }
        });

        let trigger = Arc::new(Notify::new());
        let (callbacks, kicks) =
            diego_bbs::spawn_callback_worker(bbs.clone(), cfg.callbacks.clone());
        let mut tasks = vec![
            callbacks,
            diego_bbs::spawn_converger(
                bbs.clone(),
                cfg.convergence.clone(),
                cfg.converge_interval_ms,
                trigger.clone(),
                Some(kicks),
            ),
        ];
        if remote.is_none() {
            tasks.push(auctioneer.spawn());
        }
        // In-process presences expire lazily; sweep every second so a lost
        // cell is seen quickly. Run a convergence pass when one goes.
        if let Some(table) = backend.sweep {
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    table.sweep();
                }
            }));
        }
        let presences = cells.presences.clone();
        let t = trigger.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                presences.lost().notified().await;
                t.notify_one();
            }
        }));
        let l = locks.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(LOCK_TTL / 3).await;
                for role in ["bbs", "auctioneer", "converger"] {
                    if let Err(e) = l.lock(role, &owner, LOCK_TTL) {
                        tracing::error!(error = %e, role, "lost the lock");
                    }
                }
            }
        }));
        Ok(ControlPlane {
            addr,
            bbs,
            cells,
            decisions,
            tls: tls_on,
            shutdown,
            slot,
            tasks,
            server,
        })
    }

    pub fn api_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops serving and every background loop.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        // other holders of the Bbs (tests, embedders) keep it alive: the
        // rows kept for the next convergence pass go now
        self.bbs.forget_convergence_cache();
        for t in &self.tasks {
            t.abort();
        }
        self.slot.set(None);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        // an aborted task drops what it holds (the store among it) only when
        // it is next polled: wait for that, so a stopped control plane has
        // let go of its store when `stop` returns
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

const REMOTE_NEEDS_ETCD: &str =
    "a remote auctioneer is found through its lock in etcd: use --store etcd://host:port";

/// The requester that finds the auctioneer through its lock in etcd.
async fn remote_auctioneer(cfg: &ControlPlaneConfig) -> Result<RemoteAuctioneer, NodeError> {
    let StoreSpec::Etcd { endpoints, prefix } = &cfg.store else {
        return Err(NodeError::Config(REMOTE_NEEDS_ETCD.into()));
    };
    let client = diego_store_etcd::connect_client(endpoints, &Default::default()).await?;
    let key = format!("{}/{AUCTIONEER_LOCK}", prefix.trim_end_matches('/'));
    // read only: the value is the holder's url; this process never campaigns
    let lock = diego_store_etcd::Election::new(client, key, "", LOCK_TTL)
        .map_err(|e| NodeError::Coordination(e.to_string()))?;
    let tls = match (&cfg.tls, &cfg.tls_client_ca) {
        (Some((cert, key)), Some(ca)) => Some(ClientTls {
            ca_pem: ca.clone(),
            cert_pem: cert.clone(),
            key_pem: key.clone(),
        }),
        _ => None,
    };
    Ok(RemoteAuctioneer::new(lock, tls, AUCTION_REQUEST_TIMEOUT_MS))
}
