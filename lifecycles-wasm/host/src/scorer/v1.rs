//! `diego:placement@0.1.0`: one `score-batch(params, work, cells)` call per placement, each in
//! a fresh store. Kept bound so components built against 0.1 keep loading (versioning rule).

use diego_auction::{CellView, ScoreParts, WorkView};
use wasmtime_wasi::WasiCtxBuilder;

use super::BatchVerdict;
use crate::state::CallState;
use crate::{WasmError, WasmHost};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/placement",
        world: "diego:placement/scorer",
    });
}

use bindings::diego::placement::types as wit;

pub(super) type Pre = bindings::ScorerPre<CallState>;

pub(super) fn pre(instance: wasmtime::component::InstancePre<CallState>) -> wasmtime::Result<Pre> {
    bindings::ScorerPre::new(instance)
}

pub(super) fn score_batch(
    host: &WasmHost,
    pre: &Pre,
    params: &[(String, f64)],
    work: &WorkView<'_>,
    cells: &[CellView<'_>],
) -> Result<Vec<BatchVerdict>, WasmError> {
    let params: Vec<wit::Param> = params
        .iter()
        .map(|(name, value)| wit::Param {
            name: name.clone(),
            value: *value,
        })
        .collect();
    let work = wit_work(work);
    let wit_cells: Vec<wit::Cell> = cells.iter().map(wit_cell).collect();
    let mut store = host.store(WasiCtxBuilder::new(), 0);
    let verdicts = host.run(&mut store, |store| {
        let instance = pre.instantiate(&mut *store)?;
        instance
            .diego_placement_score()
            .call_score_batch(&mut *store, &params, &work, &wit_cells)
    })?;
    if verdicts.len() != cells.len() {
        return Err(WasmError::Malformed(format!(
            "{} verdicts for {} cells",
            verdicts.len(),
            cells.len()
        )));
    }
    verdicts.into_iter().map(from_wit).collect()
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

fn from_wit(verdict: wit::Verdict) -> Result<BatchVerdict, WasmError> {
    Ok(match verdict {
        wit::Verdict::Reject(reason) => BatchVerdict::Reject(reason),
        wit::Verdict::Score(scored) => BatchVerdict::Score {
            parts: super::checked(ScoreParts {
                resource: scored.parts.resource,
                starting: scored.parts.starting,
                same_process: scored.parts.same_process,
                tasks: scored.parts.tasks,
                bin_pack: scored.parts.bin_pack,
                plugin: scored.parts.plugin,
            })?,
            named: scored.named,
        },
    })
}
