//! Cell presences as leased etcd keys: `<prefix>/cells/<cell id>` holds the
//! presence as JSON, attached to a lease with the cell's TTL. A heartbeat
//! renews the lease; a cell that stops heartbeating disappears when the
//! lease expires, even if the BBS that wrote it died too, and every BBS
//! replica sees the same set.

use std::sync::Arc;
use std::time::Duration;

use diego_coordination::{BoxFut, Presences};
use diego_model::CellPresence;
use etcd_client::{Client, EventType, GetOptions, PutOptions, WatchOptions};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::election::renew_lease;
use crate::retry::Backoff;

pub struct EtcdPresences {
    client: Client,
    root: String,
    lost: Arc<Notify>,
    watcher: JoinHandle<()>,
}

impl EtcdPresences {
    /// Presences under `<prefix>/cells/`; watches them for deletions so
    /// `lost()` fires when a cell's lease expires.
    pub fn new(client: Client, prefix: &str) -> Self {
        let root = format!("{}/cells/", prefix.trim_end_matches('/'));
        let lost = Arc::new(Notify::new());
        let watcher = tokio::spawn(watch_losses(client.clone(), root.clone(), lost.clone()));
        EtcdPresences {
            client,
            root,
            lost,
            watcher,
        }
    }

    fn key(&self, cell_id: &str) -> String {
        format!("{}{cell_id}", self.root)
    }

    async fn report_inner(&self, presence: CellPresence, ttl: Duration) -> Result<(), String> {
        let mut client = self.client.clone();
        let key = self.key(&presence.cell_id);
        let value = serde_json::to_vec(&presence).map_err(|e| format!("encode presence: {e}"))?;
        let ttl_s = i64::try_from(ttl.as_millis().div_ceil(1000).max(1)).unwrap_or(i64::MAX);
        // renew the lease the key already has; a new one only when it is gone
        let current = client
            .get(key.clone(), None)
            .await
            .map_err(|e| format!("etcd read presence: {e}"))?;
        let lease = current.kvs().first().map(|kv| kv.lease()).unwrap_or(0);
        let alive = lease != 0 && renew_lease(&mut client, lease).await.unwrap_or(0) > 0;
        let lease = if alive {
            lease
        } else {
            client
                .lease_grant(ttl_s, None)
                .await
                .map_err(|e| format!("etcd grant presence lease: {e}"))?
                .id()
        };
        let unchanged = current.kvs().first().map(|kv| kv.value()) == Some(value.as_slice());
        if !(alive && unchanged) {
            client
                .put(key, value, Some(PutOptions::new().with_lease(lease)))
                .await
                .map_err(|e| format!("etcd write presence: {e}"))?;
        }
        Ok(())
    }

    async fn live_inner(&self) -> Result<Vec<CellPresence>, String> {
        let resp = self
            .client
            .clone()
            .get(self.root.clone(), Some(GetOptions::new().with_prefix()))
            .await
            .map_err(|e| format!("etcd list presences: {e}"))?;
        let mut cells = Vec::with_capacity(resp.kvs().len());
        for kv in resp.kvs() {
            match serde_json::from_slice::<CellPresence>(kv.value()) {
                Ok(p) => cells.push(p),
                // one bad record must not hide every other cell
                Err(e) => tracing::warn!(
                    key = %String::from_utf8_lossy(kv.key()),
                    error = %e,
                    "unreadable cell presence skipped"
                ),
            }
        }
        cells.sort_by(|a, b| a.cell_id.cmp(&b.cell_id));
        Ok(cells)
    }
}

impl Drop for EtcdPresences {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl Presences for EtcdPresences {
    fn report(&self, presence: CellPresence, ttl: Duration) -> BoxFut<'_, Result<(), String>> {
        Box::pin(self.report_inner(presence, ttl))
    }

    fn release<'a>(&'a self, cell_id: &'a str) -> BoxFut<'a, Result<(), String>> {
        Box::pin(async move {
            self.client
                .clone()
                .delete(self.key(cell_id), None)
                .await
                .map_err(|e| format!("etcd delete presence: {e}"))?;
            Ok(())
        })
    }

    fn live(&self) -> BoxFut<'_, Result<Vec<CellPresence>, String>> {
        Box::pin(self.live_inner())
    }

    fn lost(&self) -> &Notify {
        &self.lost
    }
}

/// Notifies `lost` for every deleted presence key (expiry or release).
async fn watch_losses(client: Client, root: String, lost: Arc<Notify>) {
    let mut backoff = Backoff::new();
    loop {
        let options = WatchOptions::new().with_prefix();
        match client.clone().watch(root.clone(), Some(options)).await {
            Ok((_watcher, mut stream)) => {
                while let Ok(Some(resp)) = stream.message().await {
                    backoff = Backoff::new();
                    for event in resp.events() {
                        if event.event_type() == EventType::Delete {
                            tracing::info!(
                                key = %event.kv().map(|kv| String::from_utf8_lossy(kv.key()).into_owned()).unwrap_or_default(),
                                "cell presence expired"
                            );
                            lost.notify_waiters();
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "presence watch failed; retrying"),
        }
        backoff.wait().await;
    }
}
