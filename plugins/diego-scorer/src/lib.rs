//! Diego's default score (diego-auction's `DiegoScorer`) as a `diego:placement@0.2.0` scorer,
//! written with the guest SDK. The arithmetic is the native scorer's, operation for operation
//! on `f64`, so plans are identical.

use diego_plugin_sdk::{
    export_scorer, Cell, CellLoad, Params, Resources, ScoreParts, Scorer, Verdict, Work, WorkKind,
};

/// Diego's `LocalityOffset`.
const LOCALITY_OFFSET: f64 = 1000.0;
/// Diego's defaults, used when the auctioneer passes no weights.
const DEFAULT_STARTING_CONTAINER_WEIGHT: f64 = 0.25;
const DEFAULT_BIN_PACK_FIRST_FIT_WEIGHT: f64 = 0.0;

struct DiegoScorer {
    starting_weight: f64,
    bin_pack_weight: f64,
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

impl Scorer for DiegoScorer {
    fn new(params: &Params, _cells: &[Cell]) -> Self {
        DiegoScorer {
            starting_weight: params.get(
                "starting-container-weight",
                DEFAULT_STARTING_CONTAINER_WEIGHT,
            ),
            bin_pack_weight: params.get(
                "bin-pack-first-fit-weight",
                DEFAULT_BIN_PACK_FIRST_FIT_WEIGHT,
            ),
        }
    }

    fn score(&self, work: &Work, cell: &Cell, load: &CellLoad) -> Verdict {
        let starting = f64::from(load.starting_container_count) * self.starting_weight;
        let mut parts = ScoreParts {
            starting,
            ..ScoreParts::ZERO
        };
        match work.kind {
            WorkKind::Lrp => {
                let memory_mb = i64::from(work.memory_mb) + i64::from(cell.proxy_memory_mb);
                let disk_mb = i64::from(work.disk_mb);
                parts.resource = resource_score(load.available, cell.total, memory_mb, disk_mb);
                parts.same_process = LOCALITY_OFFSET * f64::from(load.same_process_lrps);
                parts.bin_pack = f64::from(load.bin_pack_index) * self.bin_pack_weight;
            }
            WorkKind::Task => {
                let (memory_mb, disk_mb) = (i64::from(work.memory_mb), i64::from(work.disk_mb));
                parts.resource = resource_score(load.available, cell.total, memory_mb, disk_mb);
                parts.tasks = LOCALITY_OFFSET * f64::from(load.tasks);
            }
        }
        Verdict::Score(parts)
    }
}

export_scorer!(DiegoScorer);
