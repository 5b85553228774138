//! Leader election on etcd with fencing tokens (spec §9: Locket's locks).
//!
//! A candidate grants a lease and creates the lock key with it only if the
//! key does not exist (`create_revision == 0`). The key's create revision is
//! the **fencing token**: it grows with every new holder, and a store opened
//! with that token (`EtcdStore::connect_fenced`) puts
//! `create_revision(lock) == token` into every write transaction, so a
//! deposed leader that wakes up late cannot write, whatever it believes.
//!
//! The leader keeps the lease alive every `ttl / 3`. It gives up leadership
//! locally as soon as it cannot prove the lease alive for a whole TTL (or
//! etcd says the lease is gone), without waiting to be told: by then a new
//! leader may exist, and the fence is what makes the overlap harmless.

use std::time::{Duration, Instant};

use etcd_client::{
    Client, Compare, CompareOp, EventType, PutOptions, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::retry::Backoff;

/// The key and token a fenced store checks on every write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The full etcd key of the lock.
    pub key: Vec<u8>,
    /// The lock key's create revision when this holder created it.
    pub token: i64,
}

/// Errors of the coordination side of the etcd backend.
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    #[error("lock ttl must be at least 1 s (etcd leases count whole seconds), got {0:?}")]
    InvalidTtl(Duration),
    #[error("etcd {what}: {source}")]
    Etcd {
        what: &'static str,
        // boxed: etcd's error is large and this travels in every Result
        source: Box<etcd_client::Error>,
    },
}

fn etcd(what: &'static str) -> impl FnOnce(etcd_client::Error) -> ElectionError {
    move |source| ElectionError::Etcd {
        what,
        source: Box::new(source),
    }
}

/// One candidate for one lock key.
#[derive(Clone)]
pub struct Election {
    client: Client,
    key: Vec<u8>,
    /// What the holder writes into the key: its address, so standbys can say
    /// who is active.
    value: String,
    ttl: Duration,
}

/// Held leadership. Dropping it stops the keepalive; the lease then expires.
pub struct Leadership {
    pub fence: Fence,
    lease_id: i64,
    client: Client,
    lost: watch::Receiver<bool>,
    keeper: JoinHandle<()>,
}

impl Election {
    /// `key` is the full etcd key (for example `/diego/locks/bbs`).
    pub fn new(
        client: Client,
        key: impl Into<Vec<u8>>,
        value: impl Into<String>,
        ttl: Duration,
    ) -> Result<Self, ElectionError> {
        if ttl < Duration::from_secs(1) {
            return Err(ElectionError::InvalidTtl(ttl));
        }
        Ok(Election {
            client,
            key: key.into(),
            value: value.into(),
            ttl,
        })
    }

    /// Who holds the lock now (its value), if anyone.
    pub async fn holder(&self) -> Result<Option<String>, ElectionError> {
        let resp = self
            .client
            .clone()
            .get(self.key.clone(), None)
            .await
            .map_err(etcd("read lock"))?;
        Ok(resp
            .kvs()
            .first()
            .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()))
    }

    /// Waits until this candidate holds the lock. Transient etcd failures
    /// are retried with backoff; the caller bounds the wait (select on a
    /// shutdown signal).
    pub async fn campaign(&self) -> Leadership {
        let mut backoff = Backoff::new();
        loop {
            match self.try_acquire().await {
                Ok(Ok(leadership)) => return leadership,
                Ok(Err(held_at)) => {
                    backoff = Backoff::new();
                    if let Err(e) = self.wait_released(held_at).await {
                        tracing::warn!(error = %e, "watching the lock failed; retrying");
                        backoff.wait().await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "campaign failed; retrying");
                    backoff.wait().await;
                }
            }
        }
    }

    /// One attempt: `Ok(Ok(_))` when acquired, `Ok(Err(mod_revision))` when
    /// someone else holds it (at that etcd revision).
    async fn try_acquire(&self) -> Result<Result<Leadership, i64>, ElectionError> {
        let mut client = self.client.clone();
        let ttl_s = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let lease = client
            .lease_grant(ttl_s, None)
            .await
            .map_err(etcd("grant lease"))?;
        let granted_at = Instant::now();
        let put = TxnOp::put(
            self.key.clone(),
            self.value.clone(),
            Some(PutOptions::new().with_lease(lease.id())),
        );
        let txn = Txn::new()
            .when(vec![Compare::create_revision(
                self.key.clone(),
                CompareOp::Equal,
                0,
            )])
            .and_then(vec![put])
            .or_else(vec![TxnOp::get(self.key.clone(), None)]);
        let resp = match client.txn(txn).await {
            Ok(resp) => resp,
            Err(e) => {
                // best effort: an unused lease expires by itself anyway
                let _ = client.lease_revoke(lease.id()).await;
                return Err(etcd("acquire lock")(e));
            }
        };
        if resp.succeeded() {
            let token = resp.header().map(|h| h.revision()).unwrap_or_default();
            let fence = Fence {
                key: self.key.clone(),
                token,
            };
            let (tx, lost) = watch::channel(false);
            let keeper = tokio::spawn(keep_alive(
                client.clone(),
                lease.id(),
                self.ttl,
                granted_at,
                tx,
            ));
            return Ok(Ok(Leadership {
                fence,
                lease_id: lease.id(),
                client,
                lost,
                keeper,
            }));
        }
        let _ = client.lease_revoke(lease.id()).await;
        let held_at = resp
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Get(get) => get.kvs().first().map(|kv| kv.mod_revision()),
                _ => None,
            })
            // the holder vanished between compare and get: try again at once
            .unwrap_or(0);
        Ok(Err(held_at))
    }

    /// Returns once the lock key is deleted (released or lease expired)
    /// after etcd revision `held_at`.
    async fn wait_released(&self, held_at: i64) -> Result<(), ElectionError> {
        if held_at == 0 {
            return Ok(());
        }
        let options = WatchOptions::new().with_start_revision(held_at + 1);
        let (mut watcher, mut stream) = self
            .client
            .clone()
            .watch(self.key.clone(), Some(options))
            .await
            .map_err(etcd("watch lock"))?;
        let released = loop {
            match stream.message().await.map_err(etcd("watch lock"))? {
                None => break false,
                Some(resp) if resp.canceled() => break false,
                Some(resp) => {
                    if resp
                        .events()
                        .iter()
                        .any(|e| e.event_type() == EventType::Delete)
                    {
                        break true;
                    }
                }
            }
        };
        let _ = watcher.cancel().await;
        if !released {
            tracing::debug!("lock watch ended before a release; campaigning again");
        }
        Ok(())
    }
}

impl Leadership {
    /// Resolves when leadership is lost (lease gone or unprovable).
    pub async fn lost(&mut self) {
        let _ = self.lost.wait_for(|lost| *lost).await;
    }

    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Gives the lock up at once (clean shutdown), so a standby takes over
    /// without waiting for the TTL.
    pub async fn resign(self) {
        self.keeper.abort();
        let mut client = self.client.clone();
        if let Err(e) = client.lease_revoke(self.lease_id).await {
            tracing::warn!(error = %e, "could not revoke the lock lease; it will expire");
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

/// Keeps the lease alive; flips `lost` when etcd reports the lease gone or
/// no keepalive has been acknowledged for a whole TTL.
async fn keep_alive(
    mut client: Client,
    lease_id: i64,
    ttl: Duration,
    granted_at: Instant,
    lost: watch::Sender<bool>,
) {
    // the lease is surely alive until `valid_until` (measured from before
    // the request that extended it, so never later than etcd's view)
    let mut valid_until = granted_at + ttl;
    let every = ttl / 3;
    loop {
        if Instant::now() >= valid_until {
            tracing::warn!(
                lease_id,
                "lock lease not renewed within its ttl; leadership lost"
            );
            let _ = lost.send(true);
            return;
        }
        let sent_at = Instant::now();
        let left = valid_until.saturating_duration_since(sent_at);
        let renewed = tokio::time::timeout(left, renew_lease(&mut client, lease_id)).await;
        match renewed {
            Ok(Ok(remaining_s)) if remaining_s > 0 => {
                let remaining = Duration::from_secs(u64::try_from(remaining_s).unwrap_or(0));
                valid_until = sent_at + remaining.min(ttl);
                tokio::time::sleep(every).await;
            }
            Ok(Ok(_)) => {
                tracing::warn!(lease_id, "lock lease expired; leadership lost");
                let _ = lost.send(true);
                return;
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, lease_id, "lock keepalive failed; retrying");
                tokio::time::sleep(Duration::from_millis(200).min(every)).await;
            }
            Err(_) => {}
        }
    }
}

/// One keepalive round trip; the lease's remaining TTL in seconds (0 when
/// etcd no longer knows the lease).
pub(crate) async fn renew_lease(
    client: &mut Client,
    lease_id: i64,
) -> Result<i64, etcd_client::Error> {
    let (mut keeper, mut stream) = client.lease_keep_alive(lease_id).await?;
    keeper.keep_alive().await?;
    match stream.message().await? {
        Some(resp) => Ok(resp.ttl()),
        None => Err(etcd_client::Error::LeaseKeepAliveError(
            "keepalive stream closed".into(),
        )),
    }
}
