//! The batching loop (spec §8.2), streaming: no fixed tick.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diego_auction::{
    AuctionConfig, CellState, Decision, DiegoScorer, LrpStart, Scorer, TaskStart, WorkId,
};
use diego_model::{ActualLrpKey, CellPresence};
use futures::future::join_all;
use tokio::sync::Notify;

use crate::batch::Batch;
use crate::requests::invalid;
use crate::scorers::{plan_with_fallback, SharedScorer};
use crate::{CellSource, RepClient, ResultSink};

/// The reason given when cells kept handing work back (the rep's own answer
/// for work it cannot reserve is `insufficient resources`).
pub const HANDED_BACK: &str = "cell rejected the work: insufficient resources";

#[derive(Debug, Clone)]
pub struct AuctioneerConfig {
    pub auction: AuctionConfig,
    /// Per-cell state request timeout (Diego: 10 s).
    pub cell_state_timeout_ms: u64,
    /// State fetch attempts when no cell answers (Diego: 4).
    pub state_attempts: u32,
    /// How often work a cell handed back is retried before it is failed.
    pub perform_retries: u32,
    /// Batches up to this size record a verdict per cell for `diego why`;
    /// larger ones keep the compact summary only (per-cell verdicts cost one
    /// entry per candidate cell per placement).
    pub explain_max_batch: usize,
    /// The scorer (`load_scorer`: the default plus weighted plugins); `None` is Diego's.
    pub scorer: Option<SharedScorer>,
}

impl Default for AuctioneerConfig {
    fn default() -> Self {
        AuctioneerConfig {
            auction: AuctionConfig::default(),
            cell_state_timeout_ms: 10_000,
            state_attempts: 4,
            perform_retries: 3,
            explain_max_batch: 256,
            scorer: None,
        }
    }
}

struct Inner {
    batch: Mutex<Batch>,
    wake: Notify,
    cells: Arc<dyn CellSource>,
    reps: Arc<dyn RepClient>,
    sink: Arc<dyn ResultSink>,
    scorer: Arc<dyn Scorer + Send + Sync>,
    config: AuctioneerConfig,
}

/// Cheap to clone: the BBS holds one as its `AuctionRequester`.
#[derive(Clone)]
pub struct Auctioneer {
    inner: Arc<Inner>,
}

impl Auctioneer {
    pub fn new(
        cells: Arc<dyn CellSource>,
        reps: Arc<dyn RepClient>,
        sink: Arc<dyn ResultSink>,
        config: AuctioneerConfig,
    ) -> Self {
        let scorer: Arc<dyn Scorer + Send + Sync> = match &config.scorer {
            Some(shared) => shared.scorer.clone(),
            None => Arc::new(DiegoScorer::from_config(&config.auction)),
        };
        Auctioneer {
            inner: Arc::new(Inner {
                batch: Mutex::new(Batch::default()),
                wake: Notify::new(),
                cells,
                reps,
                sink,
                scorer,
                config,
            }),
        }
    }

    /// Queues work. Invalid requests are not dropped silently (as the
    /// original does): they are failed back to the BBS with the reason.
    pub fn submit(&self, lrps: Vec<LrpStart>, tasks: Vec<TaskStart>) {
        let mut bad = Vec::new();
        {
            let mut batch = self.inner.batch.lock().unwrap_or_else(|p| p.into_inner());
            for l in lrps {
                match invalid(&l.process_guid, l.memory_mb, l.disk_mb, &l.rootfs) {
                    Some(reason) => bad.push((Work::Lrp(l), reason)),
                    None => batch.add_lrp(l, 0),
                }
            }
            for t in tasks {
                match invalid(&t.task_guid, t.memory_mb, t.disk_mb, &t.rootfs) {
                    Some(reason) => bad.push((Work::Task(t), reason)),
                    None => batch.add_task(t, 0),
                }
            }
        }
        self.inner.wake.notify_one();
        if bad.is_empty() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            for (work, reason) in bad {
                tracing::warn!(work = %work.id(), %reason, "invalid auction request");
                // With no guid there is nothing in the BBS to fail; the warning is all.
                if !work.guid().is_empty() {
                    let summary = format!("{}: not placed: {reason}", work.id());
                    me.inner.sink.record(work.log_id(), summary, Vec::new());
                    me.fail(&work, &reason).await;
                }
            }
        });
    }

    /// Runs the loop until the task is aborted.
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                me.inner.wake.notified().await;
                me.run_batch().await;
            }
        })
    }

    /// Queued work not yet taken into a batch: (lrp instances, tasks).
    pub fn pending(&self) -> (usize, usize) {
        let batch = self.inner.batch.lock().unwrap_or_else(|p| p.into_inner());
        (batch.lrps.len(), batch.tasks.len())
    }

    /// One auction: states first, then the batch (so what arrived while
    /// states were fetched is included), schedule, perform, report. Work
    /// arriving after the batch is taken waits for the next one; `submit`'s
    /// wake-up is remembered by `Notify`, so the loop comes straight back.
    #[tracing::instrument(name = "auction batch", skip_all)]
    pub async fn run_batch(&self) {
        let inner = &self.inner;
        if inner.batch.lock().map(|b| b.is_empty()).unwrap_or(true) {
            return;
        }
        let started = std::time::Instant::now();
        let states = self.fetch_states().await;
        let metrics = crate::metrics::instruments();
        metrics.fetched_states(started.elapsed().as_secs_f64() * 1e3);
        let batch = inner.batch.lock().unwrap_or_else(|p| p.into_inner()).take();
        if batch.is_empty() {
            return;
        }
        let mut attempts: HashMap<WorkKey, u32> = HashMap::new();
        let mut lrps = Vec::with_capacity(batch.lrps.len());
        for (key, (l, n)) in batch.lrps {
            attempts.insert(WorkKey::Lrp(key.0, key.1), n);
            lrps.push(l);
        }
        let mut tasks = Vec::with_capacity(batch.tasks.len());
        for (guid, (t, n)) in batch.tasks {
            attempts.insert(WorkKey::Task(guid), n);
            tasks.push(t);
        }
        let (presences, cell_states): (Vec<CellPresence>, Vec<CellState>) =
            states.into_iter().unzip();

        let mut config = inner.config.auction.clone();
        config.explain = lrps.len() + tasks.len() <= inner.config.explain_max_batch;
        let scorer = inner.scorer.clone();
        let plan = tokio::task::spawn_blocking(move || {
            plan_with_fallback(&cell_states, lrps, tasks, &config, &*scorer)
        })
        .await
        .expect("the auction is pure and does not panic");
        for d in &plan.decisions {
            self.record(d);
        }
        metrics.placed(
            plan.assignments.values().map(|a| a.lrps.len()).sum(),
            plan.assignments.values().map(|a| a.tasks.len()).sum(),
        );

        // Failures go to the BBS while the winners are told, not before:
        // neither waits on the other.
        let failures = plan
            .failed_lrps
            .into_iter()
            .map(|(l, e)| (Work::Lrp(l), e.to_string()))
            .chain(
                plan.failed_tasks
                    .into_iter()
                    .map(|(t, e)| (Work::Task(t), e.to_string())),
            )
            .collect::<Vec<_>>();
        let failing = join_all(failures.iter().map(|(w, reason)| self.fail(w, reason)));
        let performs = join_all(plan.assignments.into_iter().filter_map(|(cell_id, work)| {
            let presence = presences.iter().find(|p| p.cell_id == cell_id)?;
            Some(async move {
                let res = inner.reps.perform(presence, work.lrps, work.tasks).await;
                (presence, res)
            })
        }));
        let (_, performed) = futures::join!(failing, performs);

        let mut handed_back = Vec::new();
        for (presence, res) in performed {
            match res {
                Ok((lrps_back, tasks_back)) => handed_back.extend(
                    lrps_back
                        .into_iter()
                        .map(Work::Lrp)
                        .chain(tasks_back.into_iter().map(Work::Task)),
                ),
                // Diego marks nothing failed here (the work may have landed);
                // convergence repairs whatever did not.
                Err(e) => tracing::warn!(cell = %presence.cell_id, error = %e, "perform failed"),
            }
        }
        self.retry_or_fail(handed_back, &attempts).await;
        metrics.batch_done(started.elapsed().as_secs_f64() * 1e3);
    }

    /// Work a cell handed back goes into the next batch, which fetches fresh
    /// states, until it has been handed back `perform_retries` times.
    async fn retry_or_fail(&self, handed_back: Vec<Work>, attempts: &HashMap<WorkKey, u32>) {
        let inner = &self.inner;
        let mut exhausted = Vec::new();
        let mut retry = false;
        {
            let mut batch = inner.batch.lock().unwrap_or_else(|p| p.into_inner());
            for work in handed_back {
                let n = attempts.get(&work.key()).copied().unwrap_or(0) + 1;
                if n > inner.config.perform_retries {
                    exhausted.push((work, n));
                    continue;
                }
                retry = true;
                match work {
                    Work::Lrp(l) => batch.add_lrp(l, n),
                    Work::Task(t) => batch.add_task(t, n),
                }
            }
        }
        if retry {
            inner.wake.notify_one();
        }
        join_all(exhausted.iter().map(|(work, n)| async move {
            let reason = HANDED_BACK;
            let summary = format!("{}: not placed: {reason} ({n} times)", work.id());
            inner.sink.record(work.log_id(), summary, Vec::new());
            self.fail(work, reason).await;
        }))
        .await;
    }

    /// `FailActualLRP` or `RejectTask` with the reason.
    async fn fail(&self, work: &Work, reason: &str) {
        let metrics = crate::metrics::instruments();
        match work {
            Work::Lrp(l) => {
                metrics.failed_lrp();
                let key = ActualLrpKey::new(&l.process_guid, l.index, &l.domain);
                self.inner.sink.fail_lrp(&key, reason).await
            }
            Work::Task(t) => {
                metrics.failed_task();
                self.inner.sink.reject_task(&t.task_guid, reason).await
            }
        }
    }

    fn record(&self, d: &Decision) {
        let lines = d.cells.iter().map(|c| c.to_string()).collect();
        self.inner.sink.record(log_id(&d.work), d.summary(), lines);
    }

    /// States of every live, healthy, non-evacuating cell, fetched concurrently.
    async fn fetch_states(&self) -> Vec<(CellPresence, CellState)> {
        let inner = &self.inner;
        for attempt in 1..=inner.config.state_attempts.max(1) {
            let cells = match inner.cells.cells().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list cells; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let timeout = Duration::from_millis(inner.config.cell_state_timeout_ms);
            let fetches = cells.into_iter().map(|p| async move {
                let res = tokio::time::timeout(timeout, inner.reps.state(&p)).await;
                (p, res)
            });
            let mut out = Vec::new();
            for (p, res) in join_all(fetches).await {
                match res {
                    Ok(Ok(s)) if s.cell_id == p.cell_id && !s.evacuating => out.push((p, s)),
                    Ok(Ok(s)) if s.evacuating => {}
                    Ok(Ok(s)) => {
                        tracing::warn!(cell = %p.cell_id, reported = %s.cell_id, "cell id mismatch")
                    }
                    Ok(Err(e)) => {
                        crate::metrics::instruments().cell_state_failed();
                        tracing::warn!(cell = %p.cell_id, error = %e, "cell state failed")
                    }
                    Err(_) => {
                        crate::metrics::instruments().cell_state_failed();
                        tracing::warn!(cell = %p.cell_id, "cell state timed out")
                    }
                }
            }
            if !out.is_empty() || attempt == inner.config.state_attempts {
                return out;
            }
        }
        Vec::new()
    }
}

/// The work id the decision log is keyed by (`diego why` looks these up).
pub fn log_id(work: &WorkId) -> String {
    match work {
        WorkId::Lrp {
            process_guid,
            index,
        } => format!("lrp/{process_guid}/{index}"),
        WorkId::Task { task_guid } => format!("task/{task_guid}"),
    }
}

#[derive(Hash, PartialEq, Eq)]
enum WorkKey {
    Lrp(String, i32),
    Task(String),
}

enum Work {
    Lrp(LrpStart),
    Task(TaskStart),
}

impl Work {
    fn guid(&self) -> &str {
        match self {
            Work::Lrp(l) => &l.process_guid,
            Work::Task(t) => &t.task_guid,
        }
    }

    fn key(&self) -> WorkKey {
        match self {
            Work::Lrp(l) => WorkKey::Lrp(l.process_guid.clone(), l.index),
            Work::Task(t) => WorkKey::Task(t.task_guid.clone()),
        }
    }

    fn id(&self) -> WorkId {
        match self {
            Work::Lrp(l) => WorkId::Lrp {
                process_guid: l.process_guid.clone(),
                index: l.index,
            },
            Work::Task(t) => WorkId::Task {
                task_guid: t.task_guid.clone(),
            },
        }
    }

    fn log_id(&self) -> String {
        log_id(&self.id())
    }
}
