//! Diego's default score (diego-auction's `DiegoScorer`) as a `diego:placement` scorer. The
//! arithmetic is the native scorer's, operation for operation on `f64`, so plans are identical.

wit_bindgen::generate!({
    path: "../../lifecycles-wasm/wit/placement",
    world: "diego:placement/scorer",
});

use diego::placement::types::{
    Cell, Param, Resources, ScoreParts, Scored, Verdict, Work, WorkKind,
};
use exports::diego::placement::score::Guest;

/// Diego's `LocalityOffset`.
const LOCALITY_OFFSET: f64 = 1000.0;
/// Diego's defaults, used when the auctioneer passes no weights.
const DEFAULT_STARTING_CONTAINER_WEIGHT: f64 = 0.25;
const DEFAULT_BIN_PACK_FIRST_FIT_WEIGHT: f64 = 0.0;

struct DiegoScorer;

fn param(params: &[Param], name: &str, default: f64) -> f64 {
    params
        .iter()
        .find(|p| p.name == name)
        .map_or(default, |p| p.value)
}

/// `Resources.ComputeScore` on what remains after placing the work (i64 as the native one).
fn resource_score(available: Resources, total: Resources, memory_mb: i64, disk_mb: i64) -> f64 {
    let remaining_memory_mb = i64::from(available.memory_mb) - memory_mb;
    let remaining_disk_mb = i64::from(available.disk_mb) - disk_mb;
    let remaining_containers = i64::from(available.containers) - 1;
    let used_memory = 1.0 - remaining_memory_mb as f64 / f64::from(total.memory_mb);
    let used_disk = 1.0 - remaining_disk_mb as f64 / f64::from(total.disk_mb);
    let used_containers = 1.0 - remaining_containers as f64 / f64::from(total.containers);
    (used_memory + used_disk + used_containers) / 3.0
}

fn score(work: &Work, cell: &Cell, starting_weight: f64, bin_pack_weight: f64) -> ScoreParts {
    let starting = f64::from(cell.starting_container_count) * starting_weight;
    let mut parts = ScoreParts {
        resource: 0.0,
        starting,
        same_process: 0.0,
        tasks: 0.0,
        bin_pack: 0.0,
        plugin: 0.0,
    };
    match work.kind {
        WorkKind::Lrp => {
            let memory_mb = i64::from(work.memory_mb) + i64::from(cell.proxy_memory_mb);
            let disk_mb = i64::from(work.disk_mb);
            parts.resource = resource_score(cell.available, cell.total, memory_mb, disk_mb);
            parts.same_process = LOCALITY_OFFSET * f64::from(cell.same_process_lrps);
            parts.bin_pack = f64::from(cell.bin_pack_index) * bin_pack_weight;
        }
        WorkKind::Task => {
            let (memory_mb, disk_mb) = (i64::from(work.memory_mb), i64::from(work.disk_mb));
            parts.resource = resource_score(cell.available, cell.total, memory_mb, disk_mb);
            parts.tasks = LOCALITY_OFFSET * f64::from(cell.tasks);
        }
    }
    parts
}

impl Guest for DiegoScorer {
    fn score_batch(params: Vec<Param>, work: Work, cells: Vec<Cell>) -> Vec<Verdict> {
        let starting_weight = param(
            &params,
            "starting-container-weight",
            DEFAULT_STARTING_CONTAINER_WEIGHT,
        );
        let bin_pack_weight = param(
            &params,
            "bin-pack-first-fit-weight",
            DEFAULT_BIN_PACK_FIRST_FIT_WEIGHT,
        );
        cells
            .iter()
            .map(|cell| {
                Verdict::Score(Scored {
                    parts: score(&work, cell, starting_weight, bin_pack_weight),
                    named: Vec::new(),
                })
            })
            .collect()
    }
}

export!(DiegoScorer);
