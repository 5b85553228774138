//! `diego:placement@0.2.0`: one instance per auction round. The cells' fixed facts go in once
//! (the `round` constructor); each placement sends flat loads and gets flat score parts. The
//! round's store lives as long as the round, and every call is re-armed with the full fuel
//! and a fresh epoch deadline, so one call cannot spend another's budget.

use diego_auction::{CellState, CellView, ScoreParts, WorkView};
use wasmtime::component::ResourceAny;
use wasmtime::Store;
use wasmtime_wasi::WasiCtxBuilder;

use super::{checked, BatchVerdict};
use crate::state::CallState;
use crate::{WasmError, WasmHost};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/placement/v0.2",
        world: "diego:placement/scorer",
    });
}

use bindings::diego::placement::types as wit;

pub(super) type Pre = bindings::ScorerPre<CallState>;

pub(super) fn pre(instance: wasmtime::component::InstancePre<CallState>) -> wasmtime::Result<Pre> {
    bindings::ScorerPre::new(instance)
}

/// One open round: its own store, instance and `round` resource.
pub struct Session<'h> {
    host: &'h WasmHost,
    store: Store<CallState>,
    bindings: bindings::Scorer,
    round: ResourceAny,
    cells: u32,
    loads: Vec<wit::CellLoad>,
}

impl<'h> Session<'h> {
    pub(super) fn open(
        host: &'h WasmHost,
        pre: &Pre,
        params: &[(String, f64)],
        cells: &[&CellState],
    ) -> Result<Self, WasmError> {
        let params: Vec<wit::Param> = params
            .iter()
            .map(|(name, value)| wit::Param {
                name: name.clone(),
                value: *value,
            })
            .collect();
        let wit_cells: Vec<wit::Cell> = cells.iter().map(|c| wit_cell(c)).collect();
        let mut store = host.store(WasiCtxBuilder::new(), 0);
        let (bindings, round) = open_round!(host, store, pre, params, wit_cells)?;
        Ok(Session {
            host,
            store,
            bindings,
            round,
            cells: cells.len() as u32,
            loads: Vec::new(),
        })
    }

    /// Full fuel and a fresh deadline for the next call.
    fn rearm(&mut self) {
        let config = self.host.config();
        // set_fuel only fails when fuel metering is off (`consume_fuel`): nothing to arm.
        let _ = self.store.set_fuel(config.fuel);
        self.store.set_epoch_deadline(
            config
                .epoch_deadline_ms
                .div_ceil(config.epoch_tick_ms.max(1))
                .max(1),
        );
    }

    fn fill_loads(&mut self, ids: &[u32], cells: &[CellView<'_>]) -> Result<(), WasmError> {
        self.loads.clear();
        for (&id, view) in ids.iter().zip(cells) {
            if id >= self.cells {
                return Err(WasmError::Host(format!(
                    "cell position {id} outside the round's {} cells",
                    self.cells
                )));
            }
            self.loads.push(wit::CellLoad {
                cell: id,
                available: wit_resources(view.available),
                starting_container_count: view.starting_container_count,
                same_process_lrps: view.same_process_lrps,
                tasks: view.tasks,
                bin_pack_index: view.bin_pack_index,
            });
        }
        Ok(())
    }

    /// Parts per cell (`None` = rejected), checked: one per cell, numbers only, rejections
    /// naming positions of this call.
    pub fn score(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
    ) -> Result<Vec<Option<ScoreParts>>, WasmError> {
        self.fill_loads(ids, cells)?;
        self.rearm();
        let work = wit_work(work);
        let Session {
            host,
            store,
            bindings,
            round,
            loads,
            ..
        } = self;
        let scores = host.run(store, |store| {
            bindings
                .diego_placement_score()
                .round()
                .call_score(&mut *store, *round, &work, loads)
        })?;
        if scores.parts.len() != cells.len() {
            return Err(WasmError::Malformed(format!(
                "{} scores for {} cells",
                scores.parts.len(),
                cells.len()
            )));
        }
        let mut out = Vec::with_capacity(cells.len());
        for parts in scores.parts {
            out.push(Some(checked(from_wit(parts))?));
        }
        for rejection in scores.rejected {
            match out.get_mut(rejection.position as usize) {
                Some(slot) => *slot = None,
                None => {
                    return Err(WasmError::Malformed(format!(
                        "rejection of position {} in a call over {} cells",
                        rejection.position,
                        cells.len()
                    )))
                }
            }
        }
        Ok(out)
    }

    /// One verdict per cell with reasons and named terms, checked like `score`.
    pub fn explain(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
    ) -> Result<Vec<BatchVerdict>, WasmError> {
        self.fill_loads(ids, cells)?;
        self.rearm();
        let work = wit_work(work);
        let Session {
            host,
            store,
            bindings,
            round,
            loads,
            ..
        } = self;
        let verdicts = host.run(store, |store| {
            bindings
                .diego_placement_score()
                .round()
                .call_explain(&mut *store, *round, &work, loads)
        })?;
        if verdicts.len() != cells.len() {
            return Err(WasmError::Malformed(format!(
                "{} verdicts for {} cells",
                verdicts.len(),
                cells.len()
            )));
        }
        verdicts
            .into_iter()
            .map(|verdict| {
                Ok(match verdict {
                    wit::Verdict::Reject(reason) => BatchVerdict::Reject(reason),
                    wit::Verdict::Score(scored) => BatchVerdict::Score {
                        parts: checked(from_wit(scored.parts))?,
                        named: scored.named,
                    },
                })
            })
            .collect()
    }
}

fn from_wit(parts: wit::ScoreParts) -> ScoreParts {
    ScoreParts {
        resource: parts.resource,
        starting: parts.starting,
        same_process: parts.same_process,
        tasks: parts.tasks,
        bin_pack: parts.bin_pack,
        plugin: parts.plugin,
    }
}

fn wit_resources(r: diego_auction::Resources) -> wit::Resources {
    wit::Resources {
        memory_mb: r.memory_mb,
        disk_mb: r.disk_mb,
        containers: r.containers,
    }
}

fn wit_cell(cell: &CellState) -> wit::Cell {
    wit::Cell {
        cell_id: cell.cell_id.clone(),
        zone: cell.zone.clone(),
        total: wit_resources(cell.total),
        proxy_memory_mb: cell.proxy_memory_mb,
        placement_tags: cell.placement_tags.clone(),
        optional_placement_tags: cell.optional_placement_tags.clone(),
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
