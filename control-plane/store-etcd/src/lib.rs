//! The diego `Store` on etcd.
//!
//! etcd's own revision is global across every key in the cluster and jumps
//! by one per etcd write, so it cannot be our revision (which steps by one
//! per commit of this store). We keep our own counter at `<prefix>/meta/rev`
//! and every commit is one etcd transaction that compares that key's etcd
//! mod revision with the one read, then writes the records (each value
//! carrying our mod revision), the counter + 1 and the change-log entry. A
//! concurrent writer makes the compare fail; we re-read and retry. Commits
//! of one process are group-committed: those queued while a transaction is
//! in flight go into the next one under consecutive revisions (`batch`),
//! and a few such transactions may be in flight at once, chained on the
//! counter value each writes.
//! The key layout is in `layout`, the commit protocol in `commit`.
//!
//! Deployment needs: etcd 3.4+, `--max-txn-ops` above the largest diego
//! transaction (ops + checks + 2; the etcd default is 128). Batches are kept
//! within `EtcdOptions::max_txn_ops` / `max_txn_bytes`.

mod batch;
mod commit;
mod compact;
mod election;
mod history;
mod layout;
mod presence;
mod read;
mod retry;
mod watch;

pub use election::{Election, ElectionError, Fence, Leadership};
pub use presence::EtcdPresences;

use std::sync::Arc;
use std::time::Duration;

use diego_store::{BoxFuture, LogEntry, Record, Revision, Store, StoreError, Txn};
use etcd_client::{Client, ConnectOptions, KvClient};
use tokio::sync::{mpsc, watch as tokio_watch};

use crate::layout::Layout;

/// Connection and retry settings.
#[derive(Debug, Clone)]
pub struct EtcdOptions {
    /// How long one dial of an endpoint may take.
    pub connect_timeout: Duration,
    /// How long one etcd request may take.
    pub request_timeout: Duration,
    /// How long transient failures (no leader, member down) are retried
    /// before an operation fails; also how long `connect` waits for etcd.
    pub retry_budget: Duration,
    /// Records in the first etcd range read of a scan.
    pub scan_page_records: usize,
    /// About how many bytes each later range read of a scan fetches (sized
    /// from the records seen so far). Larger pages matter on etcd 3.4, which
    /// walks its index to the end of the range on every page.
    pub scan_page_bytes: usize,
    /// The most ops (and compares) one group-committed transaction may
    /// hold: etcd's `--max-txn-ops` (default 128). A single commit larger
    /// than this is still sent alone, for etcd to judge.
    pub max_txn_ops: usize,
    /// The most bytes one group-committed transaction may carry, below
    /// etcd's `--max-request-bytes` (default 1.5 MiB) with room for framing.
    pub max_txn_bytes: usize,
    /// How many group-commit transactions may be in flight at once. Each
    /// one after the first compares the counter value the one before it
    /// writes, so they land in order or not at all (ADR 0035). The default,
    /// 1, sends one at a time: against a local etcd bound by its fsync more
    /// gained nothing measurable (BENCHMARKS.md); more may pay off where the
    /// round trip to etcd dominates.
    pub max_batches_in_flight: usize,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            retry_budget: Duration::from_secs(10),
            scan_page_records: 5_000,
            scan_page_bytes: 16 * 1024 * 1024,
            max_txn_ops: 128,
            max_txn_bytes: 1024 * 1024,
            max_batches_in_flight: 1,
        }
    }
}

/// Responses can hold a whole scan page of large records.
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// A `Store` kept in etcd under one key prefix.
pub struct EtcdStore {
    shared: Arc<Shared>,
    watcher: tokio::task::JoinHandle<()>,
    committer: mpsc::UnboundedSender<commit::Request>,
    committer_task: tokio::task::JoinHandle<()>,
}

pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) kv: KvClient,
    pub(crate) layout: Layout,
    pub(crate) endpoints: Vec<String>,
    pub(crate) opts: EtcdOptions,
    pub(crate) newest: tokio_watch::Sender<Revision>,
    /// When set, every write also requires the lock to still be ours.
    pub(crate) fence: Option<Fence>,
}

impl Shared {
    /// Publishes a revision to subscribers if it is newer than what they saw.
    pub(crate) fn publish(&self, revision: Revision) {
        self.newest.send_if_modified(|seen| {
            let newer = revision > *seen;
            if newer {
                *seen = revision;
            }
            newer
        });
    }
}

impl EtcdStore {
    /// Connects to an etcd cluster and opens (or starts) the store under
    /// `prefix`. Fails with `StoreError::Backend` naming the endpoints when
    /// etcd does not answer within `opts.retry_budget`.
    pub async fn connect(
        endpoints: &[String],
        prefix: &str,
        opts: EtcdOptions,
    ) -> Result<Self, StoreError> {
        Self::connect_fenced(endpoints, prefix, opts, None).await
    }

    /// Like `connect`, but every write also compares the lock's create
    /// revision with `fence.token`: once another holder has the lock, writes
    /// fail with `StoreError::Fenced` instead of landing.
    pub async fn connect_fenced(
        endpoints: &[String],
        prefix: &str,
        opts: EtcdOptions,
        fence: Option<Fence>,
    ) -> Result<Self, StoreError> {
        let layout = Layout::new(prefix)?;
        let client = connect_client(endpoints, &opts).await?;
        let kv = client
            .kv_client()
            .max_decoding_message_size(MAX_RESPONSE_BYTES);
        let (newest, _) = tokio_watch::channel(0);
        let shared = Arc::new(Shared {
            client,
            kv,
            layout,
            endpoints: endpoints.to_vec(),
            opts,
            newest,
            fence,
        });
        // the channel client dials lazily, so this first read is what tells
        // an unreachable cluster apart
        let current = read::current(&shared).await.map_err(|e| match e {
            // the reason already names the endpoints
            StoreError::Backend(reason) => StoreError::Backend(format!(
                "etcd unreachable within {:?}: {reason}",
                shared.opts.retry_budget
            )),
            other => other,
        })?;
        shared.publish(current.revision);
        let watcher = tokio::spawn(watch::follow(shared.clone()));
        let (committer, committer_task) = commit::start(shared.clone());
        Ok(Self {
            shared,
            watcher,
            committer,
            committer_task,
        })
    }
}

/// Connects a plain etcd client with the store's dial settings (for
/// elections and presences next to a store).
pub async fn connect_client(
    endpoints: &[String],
    opts: &EtcdOptions,
) -> Result<Client, StoreError> {
    let connect = ConnectOptions::new()
        .with_connect_timeout(opts.connect_timeout)
        .with_timeout(opts.request_timeout)
        .with_keep_alive(Duration::from_secs(10), opts.request_timeout);
    Client::connect(endpoints, Some(connect))
        .await
        .map_err(|e| retry::backend(endpoints, "connect", e))
}

impl Drop for EtcdStore {
    fn drop(&mut self) {
        self.watcher.abort();
        self.committer_task.abort();
    }
}

impl Store for EtcdStore {
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
        Box::pin(commit::commit(&self.committer, txn))
    }

    fn current_revision(&self) -> BoxFuture<'_, Result<Revision, StoreError>> {
        Box::pin(async move { Ok(read::current(&self.shared).await?.revision) })
    }

    fn log_since(
        &self,
        after: Revision,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<LogEntry>, StoreError>> {
        Box::pin(read::log_since(&self.shared, after, limit))
    }

    fn compact_log(&self, upto: Revision) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(compact::compact_log(&self.shared, upto))
    }

    fn subscribe(&self) -> tokio_watch::Receiver<Revision> {
        self.shared.newest.subscribe()
    }
}
