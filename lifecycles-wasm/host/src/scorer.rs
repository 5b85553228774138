//! The `diego:placement/scorer` world, typed, and its adapter to `diego_auction::Scorer`.
//!
//! The guest ABI is a batch (`score-batch(params, work, cells)`), but the auction crate's
//! seam is per cell. The adapter calls the guest with a batch of one cell per `score`, each in
//! a fresh store; [`WasmScorer::score_batch`] is the amortised entry point for callers that
//! hold all candidates at once. A rejected cell scores `+inf`, which never wins. A failed call
//! (trap, fuel, deadline, memory, malformed output) falls back to the native `DiegoScorer` for
//! that cell and is counted and kept, so the auctioneer can record it in the explanation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use diego_auction::{CellView, DiegoScorer, ScoreParts, Scorer, WorkView};
use wasmtime_wasi::WasiCtxBuilder;

use crate::state::CallState;
use crate::{Digest, WasmError, WasmHost};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/placement",
        world: "diego:placement/scorer",
    });
}

use bindings::diego::placement::types as wit;

/// One cell's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchVerdict {
    Reject(String),
    Score {
        parts: ScoreParts,
        named: Vec<(String, f64)>,
    },
}

/// Named `diego:placement` params carrying `AuctionConfig`'s weights to a Diego-compatible guest.
pub fn diego_params(fallback: &DiegoScorer) -> Vec<(String, f64)> {
    vec![
        (
            "starting-container-weight".into(),
            fallback.starting_container_weight,
        ),
        (
            "bin-pack-first-fit-weight".into(),
            fallback.bin_pack_first_fit_weight,
        ),
    ]
}

pub struct WasmScorer {
    host: Arc<WasmHost>,
    pre: bindings::ScorerPre<CallState>,
    digest: Digest,
    name: String,
    params: Vec<wit::Param>,
    fallback: DiegoScorer,
    fallbacks: AtomicU64,
    last_error: Mutex<Option<WasmError>>,
}

impl WasmScorer {
    /// A scorer from a loaded component; `params` go to every call, `fallback` scores any
    /// cell whose call failed.
    pub fn new(
        host: &Arc<WasmHost>,
        digest: Digest,
        name: impl Into<String>,
        params: Vec<(String, f64)>,
        fallback: DiegoScorer,
    ) -> Result<Self, WasmError> {
        let pre = bindings::ScorerPre::new(host.instance_pre(&digest)?)
            .map_err(|e| WasmError::Invalid(format!("not a scorer component: {e:#}")))?;
        Ok(Self {
            host: host.clone(),
            pre,
            digest,
            name: name.into(),
            params: params
                .into_iter()
                .map(|(name, value)| wit::Param { name, value })
                .collect(),
            fallback,
            fallbacks: AtomicU64::new(0),
            last_error: Mutex::new(None),
        })
    }

    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// Calls that failed and were scored by the native fallback instead.
    pub fn fallback_count(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<WasmError> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Scores `cells` for `work` in one guest call: one verdict per cell, in order.
    pub fn score_batch(
        &self,
        work: &WorkView<'_>,
        cells: &[CellView<'_>],
    ) -> Result<Vec<BatchVerdict>, WasmError> {
        let work = wit_work(work);
        let wit_cells: Vec<wit::Cell> = cells.iter().map(wit_cell).collect();
        let mut store = self.host.store(WasiCtxBuilder::new(), 0);
        let verdicts = self.host.run(&mut store, |store| {
            let instance = self.pre.instantiate(&mut *store)?;
            instance.diego_placement_score().call_score_batch(
                &mut *store,
                &self.params,
                &work,
                &wit_cells,
            )
        })?;
        if verdicts.len() != cells.len() {
            return Err(WasmError::Malformed(format!(
                "{} verdicts for {} cells",
                verdicts.len(),
                cells.len()
            )));
        }
        Ok(verdicts.into_iter().map(from_wit).collect())
    }

    fn record_failure(&self, error: WasmError) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
    }
}

impl Scorer for WasmScorer {
    fn name(&self) -> &str {
        &self.name
    }

    fn score(&self, cell: &CellView<'_>, work: &WorkView<'_>) -> ScoreParts {
        match self.score_batch(work, std::slice::from_ref(cell)) {
            Ok(mut verdicts) => match verdicts.pop() {
                Some(BatchVerdict::Score { parts, .. }) => parts,
                // Filtering through a per-cell seam: a score that never wins.
                Some(BatchVerdict::Reject(_)) | None => ScoreParts {
                    plugin: f64::INFINITY,
                    ..ScoreParts::default()
                },
            },
            Err(error) => {
                self.record_failure(error);
                self.fallback.score(cell, work)
            }
        }
    }

    fn describe(&self, cell: &CellView<'_>, work: &WorkView<'_>) -> Vec<(String, f64)> {
        match self.score_batch(work, std::slice::from_ref(cell)) {
            Ok(mut verdicts) => match verdicts.pop() {
                Some(BatchVerdict::Score { named, .. }) => named,
                Some(BatchVerdict::Reject(reason)) => vec![(format!("rejected: {reason}"), 0.0)],
                None => Vec::new(),
            },
            Err(error) => vec![(format!("fell back to diego: {error}"), 0.0)],
        }
    }
}

fn wit_resources(r: diego_auction::Resources) -> wit::Resources {
    wit::Resources {
        memory_mb: r.memory_mb,
        disk_mb: r.disk_mb,
        containers: r.containers,
    }
}

fn wit_work(work: &WorkView<'_>) -> wit::Work {
    match work {
        WorkView::Lrp(lrp) => wit::Work {
            kind: wit::WorkKind::Lrp,
            guid: lrp.process_guid.clone(),
            index: lrp.index,
            domain: lrp.domain.clone(),
            memory_mb: lrp.memory_mb,
            disk_mb: lrp.disk_mb,
            rootfs: lrp.rootfs.clone(),
            placement_tags: lrp.placement_tags.clone(),
            volume_drivers: lrp.volume_drivers.clone(),
        },
        WorkView::Task(task) => wit::Work {
            kind: wit::WorkKind::Task,
            guid: task.task_guid.clone(),
            index: 0,
            domain: task.domain.clone(),
            memory_mb: task.memory_mb,
            disk_mb: task.disk_mb,
            rootfs: task.rootfs.clone(),
            placement_tags: task.placement_tags.clone(),
            volume_drivers: task.volume_drivers.clone(),
        },
    }
}

fn wit_cell(view: &CellView<'_>) -> wit::Cell {
    wit::Cell {
        cell_id: view.cell.cell_id.clone(),
        zone: view.cell.zone.clone(),
        available: wit_resources(view.available),
        total: wit_resources(view.total),
        starting_container_count: view.starting_container_count,
        same_process_lrps: view.same_process_lrps,
        tasks: view.tasks,
        bin_pack_index: view.bin_pack_index,
        proxy_memory_mb: view.proxy_memory_mb,
        placement_tags: view.cell.placement_tags.clone(),
        optional_placement_tags: view.cell.optional_placement_tags.clone(),
    }
}

fn from_wit(verdict: wit::Verdict) -> BatchVerdict {
    match verdict {
        wit::Verdict::Reject(reason) => BatchVerdict::Reject(reason),
        wit::Verdict::Score(scored) => BatchVerdict::Score {
            parts: ScoreParts {
                resource: scored.parts.resource,
                starting: scored.parts.starting,
                same_process: scored.parts.same_process,
                tasks: scored.parts.tasks,
                bin_pack: scored.parts.bin_pack,
                plugin: scored.parts.plugin,
            },
            named: scored.named,
        },
    }
}
