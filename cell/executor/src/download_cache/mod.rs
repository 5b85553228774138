//! The cell's download cache (Diego's cachedDownloader, ADR 0031).
//!
//! A Download with a `cache_key` goes through here: the artifact is kept on
//! disk under a size cap, revalidated with `If-None-Match` /
//! `If-Modified-Since` on every use (a 304 serves the entry, a 200 replaces
//! it), and entries nobody reads are evicted least recently used first.
//! Concurrent downloads of one key fetch once: the others wait and take the
//! entry the first one stored. A server error fails the step, as in Diego:
//! there is no stale fallback.

mod http;
mod index;
mod store;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use sha2::Digest;

use crate::ExecutorError;
use http::{Answer, Body, Validators};
use index::{Index, Room, Version};
use store::Meta;

/// Diego's executor default (`max_cache_size_in_bytes`: 10 GiB).
pub const DEFAULT_MAX_BYTES: u64 = 10 << 30;

pub struct DownloadCache {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
    /// One lock per key being fetched: the single flight.
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    removed_at_start: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: usize,
    /// Bytes of artifacts on disk, replaced versions still being read included.
    pub used_bytes: u64,
    pub max_bytes: u64,
    /// Temp files and torn entries the start-up scan removed.
    pub removed_at_start: usize,
}

/// A downloaded artifact. While it lives, the cache entry it came from is in
/// use and is not evicted.
pub struct Fetched {
    pub bytes: Vec<u8>,
    /// Body bytes that came over the network: 0 when the cache served it.
    pub transferred_bytes: u64,
    _lease: Option<Lease>,
}

impl Fetched {
    /// A download that did not go through the cache.
    pub fn uncached(bytes: Vec<u8>) -> Self {
        let transferred_bytes = bytes.len() as u64;
        Fetched {
            bytes,
            transferred_bytes,
            _lease: None,
        }
    }
}

/// Holds one version of an entry in use.
pub struct Lease {
    cache: Arc<DownloadCache>,
    version: Version,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.cache.lock().release(&self.version) {
            store::delete_version(&self.cache.dir, &self.version.0, self.version.1);
        }
    }
}

impl std::fmt::Debug for DownloadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadCache")
            .field("dir", &self.dir)
            .field("max_bytes", &self.max_bytes)
            .finish()
    }
}

impl DownloadCache {
    /// Opens (creating) the cache in `dir`: removes temp files and torn
    /// entries a crash left, loads the rest, and evicts down to `max_bytes`.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Arc<Self>, ExecutorError> {
        let dir = dir.into();
        let fail = |e: std::io::Error| ExecutorError::DownloadCache {
            path: dir.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(&dir).map_err(fail)?;
        let scan = store::scan(&dir).map_err(fail)?;
        let mut index = Index::default();
        index.load(scan.metas);
        for (key, gen) in index.shrink_to(max_bytes) {
            store::delete_version(&dir, &key, gen);
        }
        let removed_at_start = scan.removed_temp_files + scan.removed_orphans;
        if removed_at_start > 0 {
            tracing::info!(dir = %dir.display(), removed = removed_at_start, "download cache: removed what an earlier run left half-written");
        }
        Ok(Arc::new(Self {
            dir,
            max_bytes,
            index: Mutex::new(index),
            flights: Mutex::new(HashMap::new()),
            removed_at_start,
        }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn stats(&self) -> CacheStats {
        let ix = self.lock();
        CacheStats {
            entries: ix.entries.len(),
            used_bytes: ix.used_bytes(),
            max_bytes: self.max_bytes,
            removed_at_start: self.removed_at_start,
        }
    }

    pub fn contains(&self, cache_key: &str) -> bool {
        self.lock().entries.contains_key(&key_of(cache_key))
    }

    /// Marks `cache_key`'s entry in use until the lease drops (what a running
    /// download does; public so callers and tests can pin an entry).
    pub fn hold(self: &Arc<Self>, cache_key: &str) -> Option<Lease> {
        self.acquire(&key_of(cache_key)).map(|(lease, _)| lease)
    }

    /// GET `url` through the cache under `cache_key`; `checksum` is
    /// (algorithm, hex), empty algorithm for none. Errors are the text after
    /// Diego's `failed to download <url>: `.
    pub async fn fetch(
        self: &Arc<Self>,
        http_client: &reqwest::Client,
        url: &str,
        cache_key: &str,
        checksum: (&str, &str),
    ) -> Result<Fetched, String> {
        let key = key_of(cache_key);
        let seen = self.validated(&key);
        let _flight = self.fly(&key).await;
        if seen != self.validated(&key) {
            // a fetch we waited for just stored or confirmed the entry
            if let Some((lease, meta)) = self.acquire(&key) {
                return self.serve(lease, &meta, checksum).await;
            }
        }
        let current = self.acquire(&key);
        let validators = current
            .as_ref()
            .map(|(_, m)| Validators {
                etag: &m.etag,
                last_modified: &m.last_modified,
            })
            .unwrap_or_default();
        match http::get(http_client, url, validators, checksum, &self.dir).await? {
            Answer::NotModified => {
                let (lease, meta) = current.expect("a 304 only answers a conditional request");
                self.confirm(&key);
                self.serve(lease, &meta, checksum).await
            }
            Answer::Body(body) => {
                drop(current);
                self.store(key, body, checksum).await
            }
        }
    }

    /// A 200: commit it (evicting what it takes) or, when it cannot be cached,
    /// serve it from its temp file.
    async fn store(
        self: &Arc<Self>,
        key: String,
        body: Body,
        checksum: (&str, &str),
    ) -> Result<Fetched, String> {
        let transferred_bytes = body.size;
        if body.etag.is_empty() && body.last_modified.is_empty() {
            // Diego: a response without validators cannot be revalidated, so
            // the key's entry goes and this download is served uncached.
            let freed = self.lock().remove(&key);
            if let Some((key, gen)) = freed {
                store::delete_version(&self.dir, &key, gen);
            }
            return read_uncached(body, transferred_bytes).await;
        }
        let meta = Meta {
            key: key.clone(),
            gen: 0,
            size: body.size,
            etag: body.etag.clone(),
            last_modified: body.last_modified.clone(),
            sha256: body.sha256.clone(),
            checksum_algorithm: checksum.0.to_ascii_lowercase(),
            checksum_value: checksum.1.trim().to_string(),
            committed_unix_ms: store::now_unix_ms(),
        };
        let cache = self.clone();
        // file renames and fsyncs under the index lock: off the async workers
        let committed = tokio::task::spawn_blocking(move || cache.commit(body, meta))
            .await
            .map_err(|e| format!("download cache: {e}"))??;
        match committed {
            Ok(lease) => {
                let path = store::data_path(&self.dir, &lease.version.0, lease.version.1);
                let bytes = tokio::fs::read(&path)
                    .await
                    .map_err(|e| format!("download cache: {e}"))?;
                Ok(Fetched {
                    bytes,
                    transferred_bytes,
                    _lease: Some(lease),
                })
            }
            Err(body) => {
                tracing::info!(size = transferred_bytes, max_bytes = self.max_bytes, "download cache: no room (entries in use or artifact over the cap): served uncached");
                read_uncached(body, transferred_bytes).await
            }
        }
    }

    /// Inner `Err(body)`: no room, the body is handed back to serve uncached.
    #[allow(clippy::result_large_err)]
    fn commit(self: &Arc<Self>, body: Body, mut meta: Meta) -> Result<Result<Lease, Body>, String> {
        let mut ix = self.lock();
        let evict = match ix.plan_room(meta.size, self.max_bytes, &meta.key) {
            Room::Fits { evict } => evict,
            Room::NoRoom => return Ok(Err(body)),
        };
        for (key, gen) in &evict {
            store::delete_version(&self.dir, key, *gen);
        }
        ix.evict(&evict);
        meta.gen = ix.next_gen();
        let key = meta.key.clone();
        let temp = body.temp.take();
        if let Err(e) = store::commit(&self.dir, &temp, &meta) {
            store::remove_quietly(&temp);
            return Err(format!("download cache: {e}"));
        }
        let validated = ix.tick();
        if let Some((old_key, old_gen)) = ix.insert(meta, validated) {
            store::delete_version(&self.dir, &old_key, old_gen);
        }
        drop(ix);
        Ok(Ok(self.acquire(&key).expect("just inserted").0))
    }

    async fn serve(
        &self,
        lease: Lease,
        meta: &Meta,
        checksum: (&str, &str),
    ) -> Result<Fetched, String> {
        let path = store::data_path(&self.dir, &meta.key, meta.gen);
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| format!("download cache: {e}"))?;
        verify_cached(meta, &bytes, checksum)?;
        Ok(Fetched {
            bytes,
            transferred_bytes: 0,
            _lease: Some(lease),
        })
    }

    fn acquire(self: &Arc<Self>, key: &str) -> Option<(Lease, Meta)> {
        let (version, meta) = self.lock().acquire(key)?;
        Some((
            Lease {
                cache: self.clone(),
                version,
            },
            meta,
        ))
    }

    fn validated(&self, key: &str) -> Option<u64> {
        self.lock().entries.get(key).map(|e| e.validated)
    }

    fn confirm(&self, key: &str) {
        let mut ix = self.lock();
        let now = ix.tick();
        if let Some(e) = ix.entries.get_mut(key) {
            e.validated = now;
        }
    }

    /// Waits for the key's flight lock; the map entry goes with its last user.
    async fn fly(self: &Arc<Self>, key: &str) -> Flight {
        let lock = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            flights.entry(key.to_string()).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        Flight {
            cache: self.clone(),
            key: key.to_string(),
            guard: Some(guard),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // the index stays consistent between statements, so a poisoned lock is still usable
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Flight {
    cache: Arc<DownloadCache>,
    key: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Flight {
    fn drop(&mut self) {
        self.guard.take();
        let mut flights = self.cache.flights.lock().unwrap_or_else(|p| p.into_inner());
        // clones are only made under this lock: 1 means nobody else waits
        if flights
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            flights.remove(&self.key);
        }
    }
}

/// Entry names are the sha256 of the key: any key is a safe file name.
fn key_of(cache_key: &str) -> String {
    hex::encode(sha2::Sha256::digest(cache_key.as_bytes()))
}

async fn read_uncached(body: Body, transferred_bytes: u64) -> Result<Fetched, String> {
    let bytes = tokio::fs::read(body.temp.path())
        .await
        .map_err(|e| format!("download cache: {e}"))?;
    Ok(Fetched {
        bytes,
        transferred_bytes,
        _lease: None,
    })
}

/// A cached entry against the checksum this action asks for: sha256 and the
/// storing action's checksum are known; anything else is hashed now.
fn verify_cached(
    meta: &Meta,
    bytes: &[u8],
    (algorithm, value): (&str, &str),
) -> Result<(), String> {
    let alg = algorithm.to_ascii_lowercase();
    if alg.is_empty() {
        return Ok(());
    }
    if alg == "sha256" {
        return http::check((algorithm, value), &meta.sha256);
    }
    if alg == meta.checksum_algorithm && value.trim().eq_ignore_ascii_case(&meta.checksum_value) {
        return Ok(());
    }
    crate::archive::verify_checksum(bytes, algorithm, value)
}
