//! `TikvStore`: connection, shared state and the `Store` impl.

use std::sync::Arc;
use std::time::Duration;

use diego_store::{BoxFuture, LogEntry, Record, Revision, Store, StoreError, Txn};
use tikv_client::{Config, TransactionClient};
use tokio::sync::{watch as tokio_watch, Mutex};

use crate::layout::Layout;
use crate::{commit, poll, read, retry};

/// Connection, retry and polling settings.
#[derive(Debug, Clone)]
pub struct TikvOptions {
    /// How long one TiKV or PD request may take.
    pub request_timeout: Duration,
    /// How long failures (PD or a TiKV node away, region moves) are retried
    /// before an operation fails; also how long `connect` waits for PD.
    pub retry_budget: Duration,
    /// Records per TiKV scan request when scanning a prefix.
    pub scan_page_records: u32,
    /// Change-log entries deleted per compaction transaction (keeps each
    /// transaction well under TiKV's size limits).
    pub compact_batch_entries: u32,
    /// How often the counter is polled right after it moved (TiKV has no
    /// watch); the interval doubles while nothing changes ...
    pub poll_min_interval: Duration,
    /// ... up to this, the worst extra latency a watcher of another
    /// process's commits sees.
    pub poll_max_interval: Duration,
}

impl Default for TikvOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(2),
            retry_budget: Duration::from_secs(10),
            scan_page_records: 5_000,
            compact_batch_entries: 5_000,
            poll_min_interval: Duration::from_millis(10),
            poll_max_interval: Duration::from_millis(200),
        }
    }
}

/// A `Store` kept in TiKV under one key prefix.
pub struct TikvStore {
    shared: Arc<Shared>,
    poller: tokio::task::JoinHandle<()>,
}

pub(crate) struct Shared {
    pub(crate) client: TransactionClient,
    pub(crate) layout: Layout,
    pub(crate) pd: Vec<String>,
    pub(crate) opts: TikvOptions,
    /// Commits of this process go one at a time: they would only make each
    /// other fail TiKV's conflict check on the counter.
    pub(crate) commit_lock: Mutex<()>,
    pub(crate) newest: tokio_watch::Sender<Revision>,
}

impl Shared {
    /// Publishes a revision to subscribers if it is newer than what they
    /// saw; says whether it was.
    pub(crate) fn publish(&self, revision: Revision) -> bool {
        self.newest.send_if_modified(|seen| {
            let newer = revision > *seen;
            if newer {
                *seen = revision;
            }
            newer
        })
    }
}

impl TikvStore {
    /// Connects to the TiKV cluster behind the PD endpoints (`host:port`)
    /// and opens (or starts) the store under `prefix`. Fails with
    /// `StoreError::Backend` naming the endpoints when PD or TiKV does not
    /// answer within `opts.retry_budget`.
    pub async fn connect(
        pd_endpoints: &[String],
        prefix: &str,
        opts: TikvOptions,
    ) -> Result<Self, StoreError> {
        let layout = Layout::new(prefix)?;
        if pd_endpoints.is_empty() {
            return Err(StoreError::Backend(
                "tikv store needs at least one pd endpoint".into(),
            ));
        }
        let pd = pd_endpoints.to_vec();
        let config = Config::default().with_timeout(opts.request_timeout);
        let client = tokio::time::timeout(
            opts.retry_budget,
            TransactionClient::new_with_config(pd.clone(), config),
        )
        .await
        .map_err(|_| {
            StoreError::Backend(format!(
                "tikv pd {pd:?} unreachable within {:?}",
                opts.retry_budget
            ))
        })?
        .map_err(|e| retry::backend(&pd, "connect", e))?;
        let (newest, _) = tokio_watch::channel(0);
        let shared = Arc::new(Shared {
            client,
            layout,
            pd,
            opts,
            commit_lock: Mutex::new(()),
            newest,
        });
        // PD answering does not mean a TiKV node does: read once
        shared.publish(read::current(&shared).await?.0);
        let poller = tokio::spawn(poll::follow(shared.clone()));
        Ok(Self { shared, poller })
    }
}

impl Drop for TikvStore {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

impl Store for TikvStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        Box::pin(read::get(&self.shared, key))
    }

    fn scan_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<(Vec<Record>, Revision), StoreError>> {
        Box::pin(read::scan_prefix(&self.shared, prefix))
    }

    fn commit(&self, txn: Txn) -> BoxFuture<'_, Result<Revision, StoreError>> {
        Box::pin(commit::commit(&self.shared, txn))
    }

    fn current_revision(&self) -> BoxFuture<'_, Result<Revision, StoreError>> {
        Box::pin(async move { Ok(read::current(&self.shared).await?.0) })
    }

    fn log_since(
        &self,
        after: Revision,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<LogEntry>, StoreError>> {
        Box::pin(read::log_since(&self.shared, after, limit))
    }

    fn compact_log(&self, upto: Revision) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(commit::compact_log(&self.shared, upto))
    }

    fn subscribe(&self) -> tokio_watch::Receiver<Revision> {
        self.shared.newest.subscribe()
    }
}
