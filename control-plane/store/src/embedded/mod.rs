//! The embedded backend: one redb file with a write-ahead log next to it,
//! one writer thread doing group commit, reads straight from redb snapshots.

mod checkpoint;
mod pipeline;
mod read;
mod recovery;
mod tables;
mod wal;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use redb::Database;
use tokio::sync::{oneshot, watch};

use crate::blocking::blocking;
use crate::{BoxFuture, LogEntry, Record, Revision, Store, StoreError, Txn};
use checkpoint::Checkpoints;
use pipeline::{Pipeline, Published};
use read::backend;
use tables::{read_meta, EngineError, LOG, META, META_COMPACTED, META_REVISION, RECORDS};
use wal::Wal;
use writer::{Request, WalParts, Writer};

/// Extension of the write-ahead log file next to the database file
/// (`store.redb` -> `store.wal`).
pub const WAL_EXTENSION: &str = "wal";

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
    /// A checkpoint (durable redb commit, then the write-ahead log is
    /// emptied) starts at least this often while there are writes.
    pub checkpoint_interval_ms: u64,
    /// ...or as soon as the write-ahead log is this large.
    pub checkpoint_wal_bytes: u64,
    /// fdatasyncs of the write-ahead log kept in flight at once (ADR 0033):
    /// the writer applies the next group while earlier ones sync.
    pub wal_sync_threads: usize,
    /// `false`: no write-ahead log, every group commit is a durable redb
    /// commit (the design before ADR 0010; kept to compare the two).
    pub write_ahead_log: bool,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            // holds the whole B-tree of 250,000 ActualLRPs (about 150 MiB of
            // pages), so listing them all does not re-read the file
            cache_size_bytes: 512 * 1024 * 1024,
            log_retention_revisions: 100_000,
            max_group_txns: 4096,
            max_group_ops: 100_000,
            // redb cannot reuse freed pages before a durable commit, so
            // rare checkpoints grow the file; one per second keeps it small
            checkpoint_interval_ms: 1000,
            checkpoint_wal_bytes: 64 * 1024 * 1024,
            // on the 2-core VM of BENCHMARKS.md three in flight cut a
            // sync from ~4 ms to ~0.4 ms; more gained nothing
            wal_sync_threads: 3,
            write_ahead_log: true,
        }
    }
}

/// A `Store` on a local redb file.
pub struct EmbeddedStore {
    /// What readers see: the newest durable group.
    published: Arc<Published>,
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    revision_rx: watch::Receiver<Revision>,
    path: Option<PathBuf>,
    // declared last: dropped after the database closed its file
    _temp_dir: Option<tempfile::TempDir>,
}

impl EmbeddedStore {
    /// Opens (or creates) the database file at `path` and its write-ahead
    /// log (`path` with the extension `wal`), creating parent directories.
    /// After a crash redb repairs the file on open and the log replays the
    /// commits acknowledged since the last checkpoint.
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
        let wal_path = Self::wal_path(path);
        // a log left by a run with it on is replayed (and kept on) even if
        // it is off now: it may hold acknowledged commits
        let use_wal = opts.write_ahead_log || wal_path.exists();
        let opened = use_wal.then(|| open_wal(&db, path, &opts));
        let opened = opened
            .transpose()
            .map_err(|e| StoreError::Backend(format!("cannot recover {}: {e}", path.display())))?;
        Self::start(db, &opts, Some(path.to_path_buf()), opened)
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

    /// The write-ahead log file of a database file.
    pub fn wal_path(db_path: &Path) -> PathBuf {
        db_path.with_extension(WAL_EXTENSION)
    }

    /// The database file, `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn start(
        db: Database,
        opts: &EmbeddedOptions,
        path: Option<PathBuf>,
        wal: Option<(Wal, Checkpoints)>,
    ) -> Result<Self, StoreError> {
        let (current, compacted) =
            init_tables(&db).map_err(|e| StoreError::Backend(e.to_string()))?;
        let db = Arc::new(db);
        let (revision_tx, revision_rx) = watch::channel(current);
        let revision_tx = Arc::new(revision_tx);
        let published = Arc::new(Published::new(db.begin_read().map_err(backend)?));
        let wal = match wal {
            Some((wal, checkpoints)) => {
                let pipeline = Pipeline::start(
                    wal.file(),
                    wal.len_bytes(),
                    opts.wal_sync_threads,
                    published.clone(),
                    revision_tx.clone(),
                )
                .map_err(|e| StoreError::Backend(e.to_string()))?;
                Some(WalParts {
                    wal,
                    checkpoints,
                    pipeline,
                })
            }
            None => None,
        };
        let (requests, requests_rx) = mpsc::channel();
        let writer = Writer {
            db,
            requests: requests_rx,
            revision_tx,
            published: published.clone(),
            current,
            compacted,
            retention_revisions: opts.log_retention_revisions,
            max_group_txns: opts.max_group_txns.max(1),
            max_group_ops: opts.max_group_ops.max(1),
            wal,
            stopped: None,
        };
        let writer = std::thread::Builder::new()
            .name("diego-store-writer".to_string())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::Backend(format!("cannot start writer thread: {e}")))?;
        Ok(Self {
            published,
            requests: Some(requests),
            writer: Some(writer),
            revision_rx,
            path,
            _temp_dir: None,
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

/// Opens the write-ahead log of the file at `path`, replays what redb
/// lacks, and empties it (the replay commit was durable).
fn open_wal(
    db: &Database,
    path: &Path,
    opts: &EmbeddedOptions,
) -> Result<(Wal, Checkpoints), EngineError> {
    let (current, compacted) = init_tables(db)?;
    let (mut wal, frames) = Wal::open(&EmbeddedStore::wal_path(path))?;
    recovery::replay(db, &frames, current, compacted)?;
    if wal.len_bytes() > 0 {
        wal.truncate(0)?;
    }
    let checkpoints = Checkpoints::start(
        path,
        Duration::from_millis(opts.checkpoint_interval_ms),
        opts.checkpoint_wal_bytes,
    )?;
    Ok((wal, checkpoints))
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
        Box::pin(async move { read::get(&self.published.get(), key) })
    }

    fn scan_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<(Vec<Record>, Revision), StoreError>> {
        let snapshot = self.published.get();
        let prefix = prefix.to_string();
        Box::pin(blocking(move || read::scan_prefix(&snapshot, &prefix)))
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
        let snapshot = self.published.get();
        Box::pin(blocking(move || read::log_since(&snapshot, after, limit)))
    }

    fn compact_log(&self, upto: Revision) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.send(move |reply| Request::Compact { upto, reply }))
    }

    fn subscribe(&self) -> watch::Receiver<Revision> {
        self.revision_rx.clone()
    }
}
