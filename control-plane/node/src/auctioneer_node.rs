//! `diego auctioneer`: the auctioneer as its own process (ADR 0013).
//!
//! Every instance campaigns for `<prefix>/locks/auctioneer` with its URL as
//! the lock's value. Only the holder listens and auctions: cells come from
//! the leased presences in etcd, placements go to the reps, failures go to
//! the BBS through its API (`FailActualLRP`, `RejectTask`), decisions into
//! a log its API serves. A holder that loses the lock stops listening and
//! auctioning at once and campaigns again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diego_auctioneer::server::{serve, AuctioneerGrpc};
use diego_auctioneer::{Auctioneer, AuctioneerConfig, BoxFut, GrpcReps, ResultSink};
use diego_bbs::grpc::{DecisionLog, ServeOptions};
use diego_model::ActualLrpKey;
use diego_sdk::{Client, TlsFiles};
use diego_store_etcd::{connect_client, Election, EtcdOptions, EtcdPresences};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cells::Cells;
use crate::NodeError;

/// The lock key under the store prefix (the BBS reads the same key).
pub const AUCTIONEER_LOCK: &str = "locks/auctioneer";

/// PEM material for mutual TLS everywhere the auctioneer talks: its API
/// (clients must present a certificate from `ca_pem`), the reps and the BBS.
#[derive(Debug, Clone)]
pub struct AuctioneerTls {
    pub ca_pem: Vec<u8>,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct AuctioneerNodeConfig {
    /// Where the API listens while this instance holds the lock; the port
    /// must be fixed, since it is published in the lock before binding.
    pub listen: SocketAddr,
    /// The URL published in the lock; `http(s)://<listen>` when absent.
    pub advertise_url: Option<String>,
    pub etcd_endpoints: Vec<String>,
    pub prefix: String,
    /// The BBS API (comma-separated replicas) failures are reported to.
    pub bbs_url: String,
    pub tls: Option<AuctioneerTls>,
    pub auctioneer: AuctioneerConfig,
    pub lock_ttl: Duration,
}

impl AuctioneerNodeConfig {
    /// The URL the BBS is given through the lock.
    pub fn url(&self) -> Result<String, NodeError> {
        if let Some(u) = &self.advertise_url {
            return Ok(u.clone());
        }
        if self.listen.ip().is_unspecified() {
            return Err(NodeError::Config(format!(
                "--listen {} is not an address the bbs can call: give --advertise-url",
                self.listen
            )));
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        Ok(format!("{scheme}://{}", self.listen))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuctioneerState {
    /// Waiting for the lock; not listening.
    Standby,
    /// Holding the lock, listening and auctioning.
    Active {
        url: String,
        token: i64,
    },
    Stopped,
}

pub struct AuctioneerNode {
    state: watch::Receiver<AuctioneerState>,
    stop: watch::Sender<bool>,
    runner: JoinHandle<()>,
}

/// Pause before campaigning again after failing to serve with the lock held.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

impl AuctioneerNode {
    /// Checks the configuration, reaches etcd and the BBS client, then
    /// campaigns in the background.
    pub async fn start(cfg: AuctioneerNodeConfig) -> Result<Self, NodeError> {
        if cfg.listen.port() == 0 {
            return Err(NodeError::Config(
                "--listen needs a fixed port: its address is published in the auctioneer lock before the api binds it".into(),
            ));
        }
        let url = cfg.url()?;
        if cfg.tls.is_some() {
            if !url.starts_with("https://") {
                return Err(NodeError::Config(format!(
                    "the advertised url {url} must be https:// with tls certificates"
                )));
            }
            if cfg
                .bbs_url
                .split(',')
                .any(|u| !u.trim().starts_with("https://"))
            {
                return Err(NodeError::Config(format!(
                    "--bbs {} must be https:// with tls certificates",
                    cfg.bbs_url
                )));
            }
        }
        let bbs_tls = cfg.tls.as_ref().map(|t| TlsFiles {
            ca_pem: Some(t.ca_pem.clone()),
            cert_pem: Some(t.cert_pem.clone()),
            key_pem: Some(t.key_pem.clone()),
        });
        let bbs = Client::connect(&cfg.bbs_url, bbs_tls).await?;
        let client = connect_client(&cfg.etcd_endpoints, &EtcdOptions::default()).await?;
        let key = format!("{}/{AUCTIONEER_LOCK}", cfg.prefix.trim_end_matches('/'));
        let election = Election::new(client.clone(), key, url.clone(), cfg.lock_ttl)
            .map_err(|e| NodeError::Coordination(e.to_string()))?;
        // etcd dials lazily: one read now, so a wrong address fails here
        match election.holder().await {
            Ok(Some(h)) => tracing::info!(active = %h, "standing by; the auctioneer lock is held"),
            Ok(None) => {}
            Err(e) => {
                return Err(NodeError::Coordination(format!(
                    "etcd unreachable at {:?}: {e}",
                    cfg.etcd_endpoints
                )))
            }
        }
        let presences = Arc::new(EtcdPresences::new(client, &cfg.prefix));
        let (state_tx, state) = watch::channel(AuctioneerState::Standby);
        let (stop, stop_rx) = watch::channel(false);
        let ctx = Ctx {
            cfg,
            url,
            bbs,
            presences,
        };
        let runner = tokio::spawn(run(ctx, election, state_tx, stop_rx));
        Ok(AuctioneerNode {
            state,
            stop,
            runner,
        })
    }

    pub fn state(&self) -> AuctioneerState {
        self.state.borrow().clone()
    }

    /// A receiver of state changes (for logging them).
    pub fn watch(&self) -> watch::Receiver<AuctioneerState> {
        self.state.clone()
    }

    /// Stops serving and gives the lock up, so a standby takes over at once.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.runner.await;
    }
}

struct Ctx {
    cfg: AuctioneerNodeConfig,
    url: String,
    bbs: Client,
    presences: Arc<EtcdPresences>,
}

/// An auctioneer that is serving: its API server and its batching loop.
struct Serving {
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    runner: JoinHandle<()>,
}

impl Serving {
    /// Serves while holding the lock with fencing `token` (sent to the reps).
    async fn start(ctx: &Ctx, token: i64) -> Result<Serving, NodeError> {
        let cfg = &ctx.cfg;
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| NodeError::Listen {
                addr: cfg.listen.to_string(),
                source,
            })?;
        let mut reps =
            GrpcReps::new(cfg.auctioneer.cell_state_timeout_ms).with_fencing_token(token);
        if let Some(t) = &cfg.tls {
            reps = reps.with_tls(t.ca_pem.clone(), t.cert_pem.clone(), t.key_pem.clone());
        }
        let reps = Arc::new(reps);
        let cells = Arc::new(Cells::with_presences(ctx.presences.clone(), reps.clone()));
        let decisions = Arc::new(DecisionLog::default());
        let sink = Arc::new(BbsClientSink {
            bbs: ctx.bbs.clone(),
            decisions: decisions.clone(),
        });
        let auctioneer = Auctioneer::new(cells, reps, sink, cfg.auctioneer.clone());
        let runner = auctioneer.spawn();
        let opts = ServeOptions {
            tls: cfg
                .tls
                .as_ref()
                .map(|t| (t.cert_pem.clone(), t.key_pem.clone())),
            client_ca: cfg.tls.as_ref().map(|t| t.ca_pem.clone()),
        };
        let grpc = AuctioneerGrpc::new(auctioneer, decisions);
        let (shutdown, mut rx) = watch::channel(false);
        let server = tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|v| *v).await;
            };
            if let Err(e) = serve(grpc, listener, opts, stop).await {
                tracing::error!(error = %e, "auctioneer api stopped");
            }
        });
        Ok(Serving {
            shutdown,
            server,
            runner,
        })
    }

    async fn stop(self) {
        // the batch in flight is dropped: what it did not place stays
        // unclaimed or pending, and convergence asks the next holder
        self.runner.abort();
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
    }
}

async fn run(
    ctx: Ctx,
    election: Election,
    state: watch::Sender<AuctioneerState>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let _ = state.send(AuctioneerState::Standby);
        let mut leadership = tokio::select! {
            l = election.campaign() => l,
            _ = stopped(&mut stop) => break,
        };
        let token = leadership.fence.token;
        let serving = match Serving::start(&ctx, token).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "won the auctioneer lock but could not serve; giving it up");
                leadership.resign().await;
                tokio::time::sleep(RESTART_PAUSE).await;
                continue;
            }
        };
        tracing::info!(url = %ctx.url, token, "active: holding the auctioneer lock");
        let _ = state.send(AuctioneerState::Active {
            url: ctx.url.clone(),
            token,
        });
        tokio::select! {
            _ = leadership.lost() => {
                tracing::warn!(token, "lost the auctioneer lock; stopping the api and auctions");
                serving.stop().await;
            }
            _ = stopped(&mut stop) => {
                serving.stop().await;
                leadership.resign().await;
                break;
            }
        }
    }
    let _ = state.send(AuctioneerState::Stopped);
}

/// Results of a remote auctioneer: failures to the BBS over its API,
/// decisions into the log this auctioneer serves.
struct BbsClientSink {
    bbs: Client,
    decisions: Arc<DecisionLog>,
}

impl ResultSink for BbsClientSink {
    fn fail_lrp<'a>(&'a self, key: &'a ActualLrpKey, reason: &'a str) -> BoxFut<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.bbs.fail_actual_lrp(key, reason).await {
                tracing::warn!(error = %e, process_guid = %key.process_guid, "fail actual lrp");
            }
        })
    }

    fn reject_task<'a>(&'a self, task_guid: &'a str, reason: &'a str) -> BoxFut<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.bbs.reject_task(task_guid, reason).await {
                tracing::warn!(error = %e, task_guid, "reject task");
            }
        })
    }

    fn record(&self, work_id: String, summary: String, cell_lines: Vec<String>) {
        let now_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        self.decisions.record(work_id, summary, cell_lines, now_ns);
    }
}

/// Resolves when `stop` turns true (the guard is dropped before returning,
/// so the caller's future stays `Send`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
