//! The BBS's side of a remote auctioneer (ADR 0013): auction requests go to
//! whichever `diego auctioneer` holds `<prefix>/locks/auctioneer`, whose
//! value is its URL; `diego why` is answered from that auctioneer's log.
//!
//! Requests are queued and sent by one background sender, everything queued
//! in one call per kind: a desire does not wait on the auctioneer (a stopped
//! one would otherwise hold every desire for a whole call timeout), calls
//! stay one at a time however many desires arrive, and they batch under
//! load. A failed send is logged and dropped, as in Diego: convergence
//! re-requests whatever is still unplaced.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diego_auctioneer::{AuctioneerClient, ClientTls};
use diego_bbs::collab::BoxFut;
use diego_bbs::grpc::DecisionSource;
use diego_bbs::{AuctionRequester, LrpAuction};
use diego_model::Task;
use diego_proto::bbs::v1 as pb;
use diego_store_etcd::Election;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How long a looked-up auctioneer address is trusted before the lock is
/// read again (a failed call drops it at once).
const ADDRESS_TTL: Duration = Duration::from_secs(1);

pub struct RemoteAuctioneer {
    shared: Arc<Shared>,
    sender: JoinHandle<()>,
}

struct Shared {
    /// Read only, for the lock holder's value: this process never campaigns.
    lock: Election,
    tls: Option<ClientTls>,
    timeout: Duration,
    current: Mutex<Option<(AuctioneerClient, Instant)>>,
    queue: Mutex<Queued>,
    wake: Notify,
}

#[derive(Default)]
struct Queued {
    lrps: Vec<LrpAuction>,
    tasks: Vec<Task>,
}

impl RemoteAuctioneer {
    /// `lock` reads `<prefix>/locks/auctioneer`; `tls` is this BBS's client
    /// identity for `https://` auctioneers; `timeout_ms` bounds each call.
    pub fn new(lock: Election, tls: Option<ClientTls>, timeout_ms: u64) -> Self {
        let shared = Arc::new(Shared {
            lock,
            tls,
            timeout: Duration::from_millis(timeout_ms),
            current: Mutex::new(None),
            queue: Mutex::new(Queued::default()),
            wake: Notify::new(),
        });
        let sender = tokio::spawn(send_loop(shared.clone()));
        RemoteAuctioneer { shared, sender }
    }
}

impl Drop for RemoteAuctioneer {
    fn drop(&mut self) {
        self.sender.abort();
    }
}

impl Shared {
    /// The lock holder's client, from the cache while it is fresh.
    async fn client(&self) -> Result<AuctioneerClient, String> {
        if let Some((c, at)) = &*self.current.lock().unwrap_or_else(|p| p.into_inner()) {
            if at.elapsed() < ADDRESS_TTL {
                return Ok(c.clone());
            }
        }
        let url = self
            .lock
            .holder()
            .await
            .map_err(|e| format!("cannot read the auctioneer lock: {e}"))?
            .ok_or("no auctioneer holds the auctioneer lock")?;
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let client = match &*current {
            Some((c, _)) if c.url() == url => c.clone(),
            _ => AuctioneerClient::lazy(&url, self.tls.clone(), self.timeout)?,
        };
        *current = Some((client.clone(), Instant::now()));
        Ok(client)
    }

    /// Forgets the address after a failed call, so the next one reads the
    /// lock again (the holder may have changed).
    fn forget(&self) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    async fn send(&self, queued: Queued) {
        let client = match self.client().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    lrps = queued.lrps.len(),
                    tasks = queued.tasks.len(),
                    "auction requests not sent; convergence requests them again"
                );
                return;
            }
        };
        if !queued.lrps.is_empty() {
            if let Err(e) = client.request_lrp_auctions(queued.lrps).await {
                tracing::warn!(error = %e, "lrp auction request failed; convergence requests it again");
                self.forget();
            }
        }
        if !queued.tasks.is_empty() {
            if let Err(e) = client.request_task_auctions(queued.tasks).await {
                tracing::warn!(error = %e, "task auction request failed; convergence requests it again");
                self.forget();
            }
        }
    }
}

async fn send_loop(shared: Arc<Shared>) {
    loop {
        shared.wake.notified().await;
        let queued = std::mem::take(&mut *shared.queue.lock().unwrap_or_else(|p| p.into_inner()));
        if queued.lrps.is_empty() && queued.tasks.is_empty() {
            continue;
        }
        shared.send(queued).await;
    }
}

impl AuctionRequester for RemoteAuctioneer {
    fn request_lrp_auctions(&self, starts: Vec<LrpAuction>) -> BoxFut<'_, Result<(), String>> {
        if !starts.is_empty() {
            let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.lrps.extend(starts);
            self.shared.wake.notify_one();
        }
        Box::pin(async { Ok(()) })
    }

    fn request_task_auctions(&self, tasks: Vec<Task>) -> BoxFut<'_, Result<(), String>> {
        if !tasks.is_empty() {
            let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.tasks.extend(tasks);
            self.shared.wake.notify_one();
        }
        Box::pin(async { Ok(()) })
    }
}

impl DecisionSource for RemoteAuctioneer {
    fn placement_decisions(
        &self,
        r: pb::PlacementDecisionsRequest,
    ) -> BoxFut<'_, Result<pb::PlacementDecisionsResponse, tonic::Status>> {
        Box::pin(async move {
            let client = self
                .shared
                .client()
                .await
                .map_err(tonic::Status::unavailable)?;
            client.placement_decisions(r).await.inspect_err(|_| {
                self.shared.forget();
            })
        })
    }
}
