//! The embedded backend: one redb file, one writer thread doing group
//! commit, reads straight from redb snapshots.

mod read;
mod tables;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use redb::Database;
use tokio::sync::{oneshot, watch};

use crate::{BoxFuture, LogEntry, Record, Revision, Store, StoreError, Txn};
use read::backend;
use tables::{read_meta, EngineError, LOG, META, META_COMPACTED, META_REVISION, RECORDS};
use writer::{Request, Writer};

/// Tuning of the embedded store; `Default` is what a node should run with.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// redb page cache; bounds the memory the engine keeps beyond the OS page cache.
    pub cache_size_bytes: usize,
    /// Automatic retention: keep at least the newest N revisions of the
    /// change log. `0` keeps everything (only `compact_log` trims).
    pub log_retention_revisions: u64,
    /// Upper bound of transactions applied in one group commit.
    pub max_group_txns: usize,
    /// Upper bound of (checks + ops) applied in one group commit.
    pub max_group_ops: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            cache_size_bytes: 128 * 1024 * 1024,
            log_retention_revisions: 100_000,
            max_group_txns: 4096,
            max_group_ops: 100_000,
        }
    }
}

/// A `Store` on a local redb file.
pub struct EmbeddedStore {
    db: Arc<Database>,
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    revision_rx: watch::Receiver<Revision>,
    path: Option<PathBuf>,
    // declared last: dropped after the database closed its file
    _temp_dir: Option<tempfile::TempDir>,
}

impl EmbeddedStore {
    /// Opens (or creates) the database file at `path`, creating parent
    /// directories. After a crash redb repairs the file on open.
    pub fn open(path: &Path, opts: EmbeddedOptions) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let db = Database::builder()
            .set_cache_size(opts.cache_size_bytes)
            .create(path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        Self::start(db, &opts, Some(path.to_path_buf()), None)
    }

    /// A store in a fresh temporary directory that is removed on drop; for
    /// tests that want the real file and fsync path.
    pub fn open_temp(opts: EmbeddedOptions) -> Result<Self, StoreError> {
        let dir = tempfile::Builder::new()
            .prefix("diego-store-")
            .tempdir()
            .map_err(|e| StoreError::Backend(format!("cannot create temp dir: {e}")))?;
        let mut store = Self::open(&dir.path().join("store.redb"), opts)?;
        store._temp_dir = Some(dir);
        Ok(store)
    }

    /// A store that lives in memory only (nothing survives drop); for unit
    /// tests of other crates.
    pub fn in_memory(opts: EmbeddedOptions) -> Result<Self, StoreError> {
        let db = Database::builder()
            .set_cache_size(opts.cache_size_bytes)
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(backend)?;
        Self::start(db, &opts, None, None)
    }

    /// The database file, `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn start(
        db: Database,
        opts: &EmbeddedOptions,
        path: Option<PathBuf>,
        temp_dir: Option<tempfile::TempDir>,
    ) -> Result<Self, StoreError> {
        let (current, compacted) =
            init_tables(&db).map_err(|e| StoreError::Backend(e.to_string()))?;
        let db = Arc::new(db);
        let (revision_tx, revision_rx) = watch::channel(current);
        let (requests, requests_rx) = mpsc::channel();
        let writer = Writer {
            db: db.clone(),
            requests: requests_rx,
            revision_tx,
            current,
            compacted,
            retention_revisions: opts.log_retention_revisions,
            max_group_txns: opts.max_group_txns.max(1),
            max_group_ops: opts.max_group_ops.max(1),
        };
        let writer = std::thread::Builder::new()
            .name("diego-store-writer".to_string())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::Backend(format!("cannot start writer thread: {e}")))?;
        Ok(Self {
            db,
            requests: Some(requests),
            writer: Some(writer),
            revision_rx,
            path,
            _temp_dir: temp_dir,
        })
    }

    async fn send<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request,
    ) -> Result<T, StoreError> {
        let stopped = || StoreError::Backend("store writer stopped".to_string());
        let (reply, answer) = oneshot::channel();
        let requests = self.requests.as_ref().ok_or_else(stopped)?;
        requests.send(make(reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Creates the tables on first open (so readers never meet a missing table)
/// and reads back where the last run stopped.
fn init_tables(db: &Database) -> Result<(Revision, Revision), EngineError> {
    let wtx = db.begin_write()?;
    let (current, compacted) = {
        wtx.open_table(RECORDS)?;
        wtx.open_table(LOG)?;
        let meta = wtx.open_table(META)?;
        (
            read_meta(&meta, META_REVISION)?,
            read_meta(&meta, META_COMPACTED)?,
        )
    };
    wtx.commit()?;
    Ok((current, compacted))
}

/// Runs a read on the blocking pool when there is a runtime, because large
/// scans take long enough to stall other tasks on the same worker.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // closing the channel ends the writer after its current group
        self.requests.take();
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                tracing::error!("store writer thread panicked");
            }
        }
    }
}

impl Store for EmbeddedStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        // point reads are a few page lookups, cheaper than a thread hop
        Box::pin(async move { read::get(&self.db, key) })
    }

    fn scan_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<(Vec<Record>, Revision), StoreError>> {
        let db = self.db.clone();
        let prefix = prefix.to_string();
        Box::pin(blocking(move || read::scan_prefix(&db, &prefix)))
    }

    fn commit(&self, txn: Txn) -> BoxFuture<'_, Result<Revision, StoreError>> {
        Box::pin(self.send(move |reply| Request::Commit { txn, reply }))
    }

    fn current_revision(&self) -> BoxFuture<'_, Result<Revision, StoreError>> {
        Box::pin(async move { Ok(*self.revision_rx.borrow()) })
    }

    fn log_since(
        &self,
        after: Revision,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<LogEntry>, StoreError>> {
        let db = self.db.clone();
        Box::pin(blocking(move || read::log_since(&db, after, limit)))
    }

    fn compact_log(&self, upto: Revision) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.send(move |reply| Request::Compact { upto, reply }))
    }

    fn subscribe(&self) -> watch::Receiver<Revision> {
        self.revision_rx.clone()
    }
}
