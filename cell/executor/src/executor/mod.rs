//! The executor: resource accounting and the container state machine (spec §6.1).

mod background;
mod runner;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{broadcast, watch, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::config::{ExecutorConfig, Resources};
use crate::container::{
    AllocationRequest, Container, ContainerEvent, ContainerEventKind, ContainerNet, ContainerState,
    RunResult, MAX_FAILURE_REASON_BYTES,
};
use crate::download_cache::DownloadCache;
use crate::health::{HealthChecker, NativeHealthChecker};
use crate::logs::{LogLine, LogStore};
use crate::ExecutorError;

const EVENT_CAPACITY: usize = 4096;

struct Record {
    container: Container,
    /// Cancels the step tree once it runs.
    cancel: Option<CancellationToken>,
    stop_requested: bool,
    state_tx: watch::Sender<ContainerState>,
    /// What the readiness checks last said, kept until the container is running.
    pending_routable: bool,
    has_readiness: bool,
}

pub(crate) struct Inner {
    cfg: ExecutorConfig,
    backend: Arc<dyn Backend>,
    health: Arc<dyn HealthChecker>,
    logs: Arc<LogStore>,
    records: Mutex<HashMap<String, Record>>,
    events: broadcast::Sender<ContainerEvent>,
    http: reqwest::Client,
    downloads: Arc<Semaphore>,
    download_cache: Option<Arc<DownloadCache>>,
}

/// Cheap to clone; every clone drives the same containers.
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

impl Executor {
    /// Must be called inside a tokio runtime (the reaper runs on it).
    pub fn new(backend: Arc<dyn Backend>, cfg: ExecutorConfig) -> Self {
        let health = backend
            .health_checker()
            .unwrap_or_else(|| Arc::new(NativeHealthChecker));
        Self::with_health_checker(backend, cfg, health)
    }

    pub fn with_health_checker(
        backend: Arc<dyn Backend>,
        cfg: ExecutorConfig,
        health: Arc<dyn HealthChecker>,
    ) -> Self {
        let download_cache = cfg.download_cache_dir.as_ref().and_then(|dir| {
            // The cell checks the directory before it starts; a cache that still
            // cannot open costs speed, not correctness: downloads run uncached.
            DownloadCache::open(dir, cfg.download_cache_max_bytes)
                .map_err(|e| tracing::error!(error = %e, "downloads run uncached"))
                .ok()
        });
        let inner = Arc::new(Inner {
            download_cache,
            logs: Arc::new(LogStore::new(
                cfg.log_buffer_lines,
                cfg.max_log_lines_per_second,
            )),
            downloads: Arc::new(Semaphore::new(cfg.max_concurrent_downloads.max(1))),
            cfg,
            backend,
            health,
            records: Mutex::new(HashMap::new()),
            events: broadcast::channel(EVENT_CAPACITY).0,
            http: reqwest::Client::new(),
        });
        background::start_reaper(&inner);
        Self { inner }
    }

    pub fn config(&self) -> &ExecutorConfig {
        &self.inner.cfg
    }

    /// The download cache, when configured and open.
    pub fn download_cache(&self) -> Option<&Arc<DownloadCache>> {
        self.inner.download_cache.as_ref()
    }

    pub fn total(&self) -> Resources {
        self.inner.cfg.total
    }

    /// Every record holds its resources from allocation until delete.
    pub fn remaining(&self) -> Resources {
        self.inner.remaining(&self.inner.lock())
    }

    /// Reserves each request; returns the (guid, reason) of those that did not fit.
    pub fn allocate(&self, reqs: Vec<AllocationRequest>) -> Vec<(String, String)> {
        let mut failures = Vec::new();
        for req in reqs {
            let mut records = self.inner.lock();
            if records.contains_key(&req.guid) {
                failures.push((req.guid, "container already exists".to_string()));
                continue;
            }
            let left = self.inner.remaining(&records);
            let reason = if left.containers < 1 {
                Some("insufficient resources: containers")
            } else if left.memory_mb < req.memory_mb {
                Some("insufficient resources: memory")
            } else if left.disk_mb < req.disk_mb {
                Some("insufficient resources: disk")
            } else {
                None
            };
            if let Some(reason) = reason {
                failures.push((req.guid, reason.to_string()));
                continue;
            }
            let container = Container {
                guid: req.guid.clone(),
                state: ContainerState::Reserved,
                tags: req.tags,
                memory_mb: req.memory_mb,
                disk_mb: req.disk_mb,
                run_result: None,
                routable: false,
                net: ContainerNet::default(),
                result: None,
            };
            let record = Record {
                container: container.clone(),
                cancel: None,
                stop_requested: false,
                state_tx: watch::channel(ContainerState::Reserved).0,
                pending_routable: false,
                has_readiness: false,
            };
            records.insert(req.guid.clone(), record);
            drop(records);
            self.inner.emit(ContainerEventKind::Reserved, container);
            background::expire_later(&self.inner, req.guid);
        }
        failures
    }

    pub fn list(&self) -> Vec<Container> {
        let mut all: Vec<Container> = self
            .inner
            .lock()
            .values()
            .map(|r| r.container.clone())
            .collect();
        all.sort_by(|a, b| a.guid.cmp(&b.guid));
        all
    }

    pub fn get(&self, guid: &str) -> Option<Container> {
        self.inner.lock().get(guid).map(|r| r.container.clone())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ContainerEvent> {
        self.inner.events.subscribe()
    }

    /// Merges `tags` into the container's tags (Diego's container update:
    /// new internal routes, metric tags). A running container emits a
    /// Running event so its owner reports the new values.
    pub fn update_tags(
        &self,
        guid: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<Container, ExecutorError> {
        let (snapshot, running) = {
            let mut records = self.inner.lock();
            let record = records
                .get_mut(guid)
                .ok_or_else(|| ExecutorError::NotFound(guid.into()))?;
            record.container.tags.extend(tags);
            let running = record.container.state == ContainerState::Running;
            (record.container.clone(), running)
        };
        if running {
            self.inner
                .emit(ContainerEventKind::Running, snapshot.clone());
        }
        Ok(snapshot)
    }

    /// Stops gracefully and waits until the container is completed with `stopped=true`.
    pub async fn stop(&self, guid: &str) -> Result<(), ExecutorError> {
        let mut state_rx = {
            let mut records = self.inner.lock();
            let record = records
                .get_mut(guid)
                .ok_or_else(|| ExecutorError::NotFound(guid.into()))?;
            record.stop_requested = true;
            if let Some(cancel) = &record.cancel {
                cancel.cancel();
            }
            record.state_tx.subscribe()
        };
        let state = *state_rx.borrow();
        if matches!(
            state,
            ContainerState::Reserved | ContainerState::Initializing
        ) {
            // Nothing runs yet: complete now; a create in flight sees this and stops.
            self.inner.complete(guid, false, String::new(), false);
        }
        // A dropped sender means the record was deleted meanwhile: stopped enough.
        let _ = state_rx.wait_for(|s| *s == ContainerState::Completed).await;
        Ok(())
    }

    /// Stops, destroys the backend container, frees the resources and forgets the record.
    pub async fn delete(&self, guid: &str) -> Result<(), ExecutorError> {
        self.stop(guid).await?;
        let destroyed = self.inner.backend.destroy(guid).await;
        self.inner.lock().remove(guid);
        self.inner.logs.remove(guid);
        destroyed
    }

    pub async fn read_file(
        &self,
        guid: &str,
        path: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ExecutorError> {
        if !self.inner.lock().contains_key(guid) {
            return Err(ExecutorError::NotFound(guid.to_string()));
        }
        self.inner.backend.read_file(guid, path, max_bytes).await
    }

    pub fn logs(&self, guid: &str) -> Vec<LogLine> {
        self.inner.logs.lines(guid)
    }

    /// Lines dropped by the rate limit.
    pub fn dropped_log_lines(&self, guid: &str) -> u64 {
        self.inner.logs.dropped(guid)
    }

    pub fn tail(&self, guid: &str) -> broadcast::Receiver<LogLine> {
        self.inner.logs.tail(guid)
    }

    /// One reaper pass: completes containers whose backend container vanished and
    /// destroys backend containers the executor does not know.
    pub async fn reap(&self) -> Result<(), ExecutorError> {
        background::reap_once(&self.inner).await
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        self.records.lock().expect("executor records poisoned")
    }

    fn remaining(&self, records: &HashMap<String, Record>) -> Resources {
        let total = self.cfg.total;
        let (memory_mb, disk_mb) = records.values().fold((0, 0), |(m, d), r| {
            (m + r.container.memory_mb, d + r.container.disk_mb)
        });
        Resources {
            memory_mb: total.memory_mb.saturating_sub(memory_mb),
            disk_mb: total.disk_mb.saturating_sub(disk_mb),
            containers: total.containers.saturating_sub(records.len() as u64),
        }
    }

    fn emit(&self, kind: ContainerEventKind, container: Container) {
        // No subscriber is fine: events are a notification, the records are the truth.
        let _ = self.events.send(ContainerEvent {
            guid: container.guid.clone(),
            kind,
            container,
        });
    }

    /// Moves a container forward one state; returns its new snapshot.
    fn transition(&self, guid: &str, to: ContainerState) -> Result<Container, ExecutorError> {
        let mut records = self.lock();
        let record = records
            .get_mut(guid)
            .ok_or_else(|| ExecutorError::NotFound(guid.into()))?;
        let from = record.container.state;
        if !from.can_transition_to(to) {
            return Err(ExecutorError::InvalidTransition {
                guid: guid.to_string(),
                from: from.as_str().to_string(),
                to: to.as_str().to_string(),
            });
        }
        record.container.state = to;
        if to == ContainerState::Running {
            record.container.routable = !record.has_readiness || record.pending_routable;
        }
        record.state_tx.send_replace(to);
        Ok(record.container.clone())
    }

    /// Completes once; later calls are ignored so the first outcome wins.
    fn complete(&self, guid: &str, failed: bool, reason: String, retryable: bool) {
        let snapshot = {
            let mut records = self.lock();
            let Some(record) = records.get_mut(guid) else {
                return;
            };
            if record.container.state == ContainerState::Completed {
                return;
            }
            record.container.state = ContainerState::Completed;
            record.container.routable = false;
            record.container.run_result = Some(RunResult {
                failed,
                failure_reason: diego_model::truncate_reason(&reason, MAX_FAILURE_REASON_BYTES),
                retryable,
                stopped: record.stop_requested,
            });
            record.state_tx.send_replace(ContainerState::Completed);
            record.container.clone()
        };
        self.emit(ContainerEventKind::Completed, snapshot);
    }

    fn set_routable(&self, guid: &str, routable: bool) {
        let snapshot = {
            let mut records = self.lock();
            let Some(record) = records.get_mut(guid) else {
                return;
            };
            record.pending_routable = routable;
            if record.container.state != ContainerState::Running
                || record.container.routable == routable
            {
                return;
            }
            record.container.routable = routable;
            record.container.clone()
        };
        self.emit(ContainerEventKind::Running, snapshot);
    }
}
