//! The batching loop (spec §8.2), streaming: no fixed tick.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diego_auction::{
    schedule, AuctionConfig, CellState, Decision, DiegoScorer, LrpStart, Outcome, Scorer, TaskStart,
};
use diego_bbs::{AuctionRequester, LrpAuction};
use diego_model::{ActualLrpKey, CellPresence, Task};
use futures::future::join_all;
use tokio::sync::Notify;

use crate::batch::Batch;
use crate::{BoxFut, CellSource, RepClient, ResultSink};

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
}

impl Default for AuctioneerConfig {
    fn default() -> Self {
        AuctioneerConfig {
            auction: AuctionConfig::default(),
            cell_state_timeout_ms: 10_000,
            state_attempts: 4,
            perform_retries: 3,
            explain_max_batch: 256,
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
        let scorer = Arc::new(DiegoScorer::from_config(&config.auction));
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
        let mut bad_lrps = Vec::new();
        let mut bad_tasks = Vec::new();
        {
            let mut batch = self.inner.batch.lock().unwrap_or_else(|p| p.into_inner());
            for l in lrps {
                match invalid(&l.process_guid, l.memory_mb, l.disk_mb, &l.rootfs) {
                    Some(reason) => bad_lrps.push((l, reason)),
                    None => batch.add_lrp(l, 0),
                }
            }
            for t in tasks {
                match invalid(&t.task_guid, t.memory_mb, t.disk_mb, &t.rootfs) {
                    Some(reason) => bad_tasks.push((t, reason)),
                    None => batch.add_task(t, 0),
                }
            }
        }
        self.inner.wake.notify_one();
        if bad_lrps.is_empty() && bad_tasks.is_empty() {
            return;
        }
        let sink = self.inner.sink.clone();
        tokio::spawn(async move {
            for (l, reason) in bad_lrps {
                tracing::warn!(process_guid = %l.process_guid, %reason, "invalid lrp start request");
                if !l.process_guid.is_empty() {
                    let key = ActualLrpKey::new(&l.process_guid, l.index, &l.domain);
                    sink.fail_lrp(&key, &reason).await;
                }
            }
            for (t, reason) in bad_tasks {
                tracing::warn!(task_guid = %t.task_guid, %reason, "invalid task start request");
                if !t.task_guid.is_empty() {
                    sink.reject_task(&t.task_guid, &reason).await;
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

    /// One auction: states first, then the batch (so what arrived while
    /// states were fetched is included), schedule, perform, report.
    pub async fn run_batch(&self) {
        let inner = &self.inner;
        if inner.batch.lock().map(|b| b.is_empty()).unwrap_or(true) {
            return;
        }
        let states = self.fetch_states().await;
        let batch = inner.batch.lock().unwrap_or_else(|p| p.into_inner()).take();
        if batch.is_empty() {
            return;
        }
        let attempts_lrp: std::collections::HashMap<(String, i32), u32> = batch
            .lrps
            .iter()
            .map(|(k, (_, a))| (k.clone(), *a))
            .collect();
        let attempts_task: std::collections::HashMap<String, u32> = batch
            .tasks
            .iter()
            .map(|(k, (_, a))| (k.clone(), *a))
            .collect();
        let lrps: Vec<LrpStart> = batch.lrps.into_values().map(|(l, _)| l).collect();
        let tasks: Vec<TaskStart> = batch.tasks.into_values().map(|(t, _)| t).collect();
        let presences: Vec<CellPresence> = states.iter().map(|(p, _)| p.clone()).collect();
        let cell_states: Vec<CellState> = states.into_iter().map(|(_, s)| s).collect();

        let mut config = inner.config.auction.clone();
        config.explain = lrps.len() + tasks.len() <= inner.config.explain_max_batch;
        let scorer = inner.scorer.clone();
        let plan = tokio::task::spawn_blocking(move || {
            schedule(&cell_states, lrps, tasks, &config, &*scorer)
        })
        .await
        .expect("the auction is pure and does not panic");

        for d in &plan.decisions {
            self.record(d);
        }
        for (l, e) in &plan.failed_lrps {
            let key = ActualLrpKey::new(&l.process_guid, l.index, &l.domain);
            inner.sink.fail_lrp(&key, &e.to_string()).await;
        }
        for (t, e) in &plan.failed_tasks {
            inner.sink.reject_task(&t.task_guid, &e.to_string()).await;
        }

        // One Perform per winning cell, concurrently.
        let performs = plan.assignments.into_iter().filter_map(|(cell_id, work)| {
            let presence = presences.iter().find(|p| p.cell_id == cell_id)?.clone();
            Some(async move {
                let res = inner
                    .reps
                    .perform(&presence, work.lrps.clone(), work.tasks.clone())
                    .await;
                (presence, work, res)
            })
        });
        let mut retry = false;
        for (presence, work, res) in join_all(performs).await {
            let (lrps_back, tasks_back) = match res {
                Ok(back) => back,
                Err(e) => {
                    // Diego marks nothing failed here (the work may have
                    // landed); convergence repairs whatever did not.
                    tracing::warn!(cell = %presence.cell_id, error = %e, "perform failed");
                    continue;
                }
            };
            let _ = work;
            let mut batch = inner.batch.lock().unwrap_or_else(|p| p.into_inner());
            for l in lrps_back {
                let n = attempts_lrp
                    .get(&(l.process_guid.clone(), l.index))
                    .copied()
                    .unwrap_or(0)
                    + 1;
                if n <= inner.config.perform_retries {
                    batch.add_lrp(l, n);
                    retry = true;
                } else {
                    let key = ActualLrpKey::new(&l.process_guid, l.index, &l.domain);
                    let sink = inner.sink.clone();
                    tokio::spawn(async move {
                        sink.fail_lrp(&key, "cell rejected the work: insufficient resources")
                            .await
                    });
                }
            }
            for t in tasks_back {
                let n = attempts_task.get(&t.task_guid).copied().unwrap_or(0) + 1;
                if n <= inner.config.perform_retries {
                    batch.add_task(t, n);
                    retry = true;
                } else {
                    let sink = inner.sink.clone();
                    tokio::spawn(async move {
                        sink.reject_task(
                            &t.task_guid,
                            "cell rejected the work: insufficient resources",
                        )
                        .await
                    });
                }
            }
        }
        if retry {
            inner.wake.notify_one();
        }
    }

    fn record(&self, d: &Decision) {
        let work_id = match &d.work {
            diego_auction::WorkId::Lrp {
                process_guid,
                index,
            } => format!("lrp/{process_guid}/{index}"),
            diego_auction::WorkId::Task { task_guid } => format!("task/{task_guid}"),
        };
        let lines = d
            .cells
            .iter()
            .map(|c| format!("{}: {:?}", c.cell_id, c.verdict))
            .collect();
        let summary = match &d.outcome {
            Outcome::Placed { .. } | Outcome::Failed(_) => d.summary(),
        };
        self.inner.sink.record(work_id, summary, lines);
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
                        tracing::warn!(cell = %p.cell_id, error = %e, "cell state failed")
                    }
                    Err(_) => tracing::warn!(cell = %p.cell_id, "cell state timed out"),
                }
            }
            if !out.is_empty() || attempt == inner.config.state_attempts {
                return out;
            }
        }
        Vec::new()
    }
}

/// Why an auction request cannot be placed at all, if it cannot.
fn invalid(guid: &str, memory_mb: i32, disk_mb: i32, rootfs: &str) -> Option<String> {
    if guid.is_empty() {
        return Some("invalid auction request: empty guid".into());
    }
    if memory_mb < 0 || disk_mb < 0 {
        return Some("invalid auction request: negative resources".into());
    }
    if diego_auction::parse_rootfs(rootfs).is_none() {
        return Some(format!(
            "invalid auction request: unparsable rootfs {rootfs:?}"
        ));
    }
    None
}

/// Maps the BBS's requests onto auction inputs.
impl AuctionRequester for Auctioneer {
    fn request_lrp_auctions(&self, starts: Vec<LrpAuction>) -> BoxFut<'_, Result<(), String>> {
        let mut lrps = Vec::new();
        for s in starts {
            for index in s.indices {
                lrps.push(LrpStart {
                    process_guid: s.info.process_guid.clone(),
                    domain: s.info.domain.clone(),
                    index,
                    memory_mb: s.info.memory_mb,
                    disk_mb: s.info.disk_mb,
                    max_pids: s.info.max_pids,
                    rootfs: s.info.root_fs.clone(),
                    placement_tags: s.info.placement_tags.clone(),
                    volume_drivers: s.info.volume_drivers.clone(),
                });
            }
        }
        self.submit(lrps, vec![]);
        Box::pin(async { Ok(()) })
    }

    fn request_task_auctions(&self, tasks: Vec<Task>) -> BoxFut<'_, Result<(), String>> {
        let tasks = tasks
            .into_iter()
            .map(|t| TaskStart {
                task_guid: t.task_guid,
                domain: t.domain,
                memory_mb: t.definition.memory_mb,
                disk_mb: t.definition.disk_mb,
                max_pids: t.definition.max_pids,
                rootfs: t.definition.root_fs,
                placement_tags: t.definition.placement_tags,
                volume_drivers: t
                    .definition
                    .volume_mounts
                    .into_iter()
                    .map(|v| v.driver)
                    .collect(),
            })
            .collect();
        self.submit(vec![], tasks);
        Box::pin(async { Ok(()) })
    }
}
