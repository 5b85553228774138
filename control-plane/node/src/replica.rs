//! A BBS replica on etcd (spec §9: one active BBS, the others standing by).
//!
//! Every replica campaigns for `<prefix>/locks/bbs`. The winner starts the
//! control plane (API, auctioneer, converger) with a store fenced by the
//! lock's token and starts listening; the others do not listen at all, so
//! clients given every replica's address reach the active one. A replica
//! that loses the lock stops serving at once and campaigns again; anything
//! it still tries to write is refused by the fence.

use std::time::Duration;

use diego_store_etcd::{connect_client, Election, EtcdOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::control_plane::{ControlPlane, ControlPlaneConfig, StoreSpec};
use crate::NodeError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaState {
    /// Waiting for the lock; not listening.
    Standby,
    /// Holding the lock and serving at this address.
    Active {
        api_url: String,
        token: i64,
    },
    Stopped,
}

pub struct Replica {
    state: watch::Receiver<ReplicaState>,
    stop: watch::Sender<bool>,
    runner: JoinHandle<()>,
}

/// Pause before campaigning again after the control plane failed to start,
/// so a broken node does not spin holding and dropping the lock.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// How long start-up waits for etcd to answer (the store's own connect
/// budget is the same).
const STARTUP_BUDGET: Duration = Duration::from_secs(10);

impl Replica {
    /// Starts campaigning. Fails at once if the store is not etcd or etcd
    /// cannot be reached.
    pub async fn start(cfg: ControlPlaneConfig, lock_ttl: Duration) -> Result<Self, NodeError> {
        let StoreSpec::Etcd { endpoints, prefix } = &cfg.store else {
            return Err(NodeError::Coordination(
                "replicas need a shared store: use --store etcd://host:port".into(),
            ));
        };
        let client = connect_client(endpoints, &EtcdOptions::default()).await?;
        let key = format!("{}/locks/bbs", prefix.trim_end_matches('/'));
        let election = Election::new(client, key, format!("http://{}", cfg.listen), lock_ttl)
            .map_err(|e| NodeError::Coordination(e.to_string()))?;
        // the client dials lazily: ask once so a wrong address fails now,
        // with the endpoints named, instead of a standby retrying forever
        let started = std::time::Instant::now();
        loop {
            match election.holder().await {
                Ok(holder) => {
                    if let Some(h) = holder {
                        tracing::info!(active = %h, "standing by; the bbs lock is held");
                    }
                    break;
                }
                Err(e) if started.elapsed() < STARTUP_BUDGET => {
                    tracing::debug!(error = %e, "etcd not answering yet");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => {
                    return Err(NodeError::Coordination(format!(
                        "etcd unreachable at {endpoints:?} within {STARTUP_BUDGET:?}: {e}"
                    )))
                }
            }
        }
        let (state_tx, state) = watch::channel(ReplicaState::Standby);
        let (stop, stop_rx) = watch::channel(false);
        let runner = tokio::spawn(run(cfg, election, state_tx, stop_rx));
        Ok(Replica {
            state,
            stop,
            runner,
        })
    }

    pub fn state(&self) -> ReplicaState {
        self.state.borrow().clone()
    }

    /// Resolves once this replica is active, with its API URL.
    pub async fn active(&mut self) -> Option<String> {
        let state = self
            .state
            .wait_for(|s| !matches!(s, ReplicaState::Standby))
            .await
            .ok()?;
        match &*state {
            ReplicaState::Active { api_url, .. } => Some(api_url.clone()),
            _ => None,
        }
    }

    /// A receiver of state changes (for logging them).
    pub fn watch(&self) -> watch::Receiver<ReplicaState> {
        self.state.clone()
    }

    /// Stops serving and gives the lock up, so a standby takes over at once.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.runner.await;
    }
}

async fn run(
    cfg: ControlPlaneConfig,
    election: Election,
    state: watch::Sender<ReplicaState>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let _ = state.send(ReplicaState::Standby);
        let mut leadership = tokio::select! {
            l = election.campaign() => l,
            _ = stopped(&mut stop) => break,
        };
        let token = leadership.fence.token;
        let mut active_cfg = cfg.clone();
        active_cfg.fence = Some(leadership.fence.clone());
        let cp = match ControlPlane::start(active_cfg).await {
            Ok(cp) => cp,
            Err(e) => {
                tracing::error!(error = %e, "won the bbs lock but could not start; giving it up");
                leadership.resign().await;
                tokio::time::sleep(RESTART_PAUSE).await;
                continue;
            }
        };
        tracing::info!(api = %cp.api_url(), token, "active: holding the bbs lock");
        let _ = state.send(ReplicaState::Active {
            api_url: cp.api_url(),
            token,
        });
        tokio::select! {
            _ = leadership.lost() => {
                tracing::warn!(token, "lost the bbs lock; stopping the api and standing by");
                cp.stop().await;
            }
            _ = stopped(&mut stop) => {
                cp.stop().await;
                leadership.resign().await;
                break;
            }
        }
    }
    let _ = state.send(ReplicaState::Stopped);
}

/// Resolves when `stop` turns true (the guard is dropped before returning,
/// so the caller's future stays `Send`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
