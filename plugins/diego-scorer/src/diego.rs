//! Diego's default score (diego-auction's `DiegoScorer`) as a plugin `Scorer`. The arithmetic
//! is the native scorer's, operation for operation on `f64`, so plans are identical. Shared by
//! `diego-scorer` (0.5.0), `diego-scorer-v4` and `diego-scorer-v3` (the same source exported on
//! 0.4.0 and 0.3.0).

use diego_plugin_sdk::{
    Cell, CellLoad, Params, Resources, ScoreParts, Scorer, Verdict, Work, WorkKind,
};

/// Diego's `LocalityOffset`.
const LOCALITY_OFFSET: f64 = 1000.0;
/// Diego's defaults, used when the auctioneer passes no weights.
const DEFAULT_STARTING_CONTAINER_WEIGHT: f64 = 0.25;
const DEFAULT_BIN_PACK_FIRST_FIT_WEIGHT: f64 = 0.0;

pub(crate) struct DiegoScorer {
    starting_weight: f64,
    bin_pack_weight: f64,
    /// Per cell (by position in the round), what the formula reads of its fixed facts, as
    /// it reads them: the walk scores every candidate of a placement, so this is read many
    /// times per cell and is kept small (not the whole `Cell` with its strings).
    facts: Vec<Facts>,
}

/// A cell's fixed facts as the formula uses them (the same values, converted once).
#[derive(Clone, Copy)]
struct Facts {
    total_memory_mb: f64,
    total_disk_mb: f64,
    total_containers: f64,
    proxy_memory_mb: i64,
}

impl Facts {
    fn of(cell: &Cell) -> Self {
        Facts {
            total_memory_mb: f64::from(cell.total.memory_mb),
            total_disk_mb: f64::from(cell.total.disk_mb),
            total_containers: f64::from(cell.total.containers),
            proxy_memory_mb: i64::from(cell.proxy_memory_mb),
        }
    }
}

/// `Resources.ComputeScore` on what remains after placing the work (i64 as the native one).
#[inline(always)]
fn resource_score(available: Resources, total: &Facts, memory_mb: i64, disk_mb: i64) -> f64 {
    let remaining_memory_mb = i64::from(available.memory_mb) - memory_mb;
    let remaining_disk_mb = i64::from(available.disk_mb) - disk_mb;
    let remaining_containers = i64::from(available.containers) - 1;
    let used_memory = 1.0 - remaining_memory_mb as f64 / total.total_memory_mb;
    let used_disk = 1.0 - remaining_disk_mb as f64 / total.total_disk_mb;
    let used_containers = 1.0 - remaining_containers as f64 / total.total_containers;
    (used_memory + used_disk + used_containers) / 3.0
}

impl DiegoScorer {
    /// The cell's facts: kept from `new` (the round's cells), or from `cell` itself.
    #[inline(always)]
    fn facts(&self, cell: &Cell, load: &CellLoad) -> Facts {
        match self.facts.get(load.cell as usize) {
            Some(facts) => *facts,
            None => Facts::of(cell),
        }
    }
}

impl Scorer for DiegoScorer {
    fn new(params: &Params, cells: &[Cell]) -> Self {
        DiegoScorer {
            starting_weight: params.get(
                "starting-container-weight",
                DEFAULT_STARTING_CONTAINER_WEIGHT,
            ),
            bin_pack_weight: params.get(
                "bin-pack-first-fit-weight",
                DEFAULT_BIN_PACK_FIRST_FIT_WEIGHT,
            ),
            facts: cells.iter().map(Facts::of).collect(),
        }
    }

    fn score(&self, work: &Work, cell: &Cell, load: &CellLoad) -> Verdict {
        let facts = self.facts(cell, load);
        let starting = f64::from(load.starting_container_count) * self.starting_weight;
        let mut parts = ScoreParts {
            starting,
            ..ScoreParts::ZERO
        };
        match work.kind {
            WorkKind::Lrp => {
                let memory_mb = i64::from(work.memory_mb) + facts.proxy_memory_mb;
                let disk_mb = i64::from(work.disk_mb);
                parts.resource = resource_score(load.available, &facts, memory_mb, disk_mb);
                parts.same_process = LOCALITY_OFFSET * f64::from(load.same_process_lrps);
                parts.bin_pack = f64::from(load.bin_pack_index) * self.bin_pack_weight;
            }
            WorkKind::Task => {
                let (memory_mb, disk_mb) = (i64::from(work.memory_mb), i64::from(work.disk_mb));
                parts.resource = resource_score(load.available, &facts, memory_mb, disk_mb);
                parts.tasks = LOCALITY_OFFSET * f64::from(load.tasks);
            }
        }
        Verdict::Score(parts)
    }

    /// The same sums as `score(..).total()` minus the zero terms, without building the parts
    /// (the native `DiegoScorer::score_total`): the SDK's pick loop calls this per candidate.
    fn total(&self, work: &Work, cell: &Cell, load: &CellLoad) -> Option<f64> {
        let facts = self.facts(cell, load);
        let starting = f64::from(load.starting_container_count) * self.starting_weight;
        Some(match work.kind {
            WorkKind::Lrp => {
                let memory_mb = i64::from(work.memory_mb) + facts.proxy_memory_mb;
                let disk_mb = i64::from(work.disk_mb);
                resource_score(load.available, &facts, memory_mb, disk_mb)
                    + starting
                    + LOCALITY_OFFSET * f64::from(load.same_process_lrps)
                    + f64::from(load.bin_pack_index) * self.bin_pack_weight
            }
            WorkKind::Task => {
                let (memory_mb, disk_mb) = (i64::from(work.memory_mb), i64::from(work.disk_mb));
                resource_score(load.available, &facts, memory_mb, disk_mb)
                    + starting
                    + LOCALITY_OFFSET * f64::from(load.tasks)
            }
        })
    }
}
