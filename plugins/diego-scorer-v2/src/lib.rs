//! Test fixture: Diego's default score as a `diego:placement@0.2.0` component, on the raw 0.2
//! bindings (the SDK now builds 0.4.0). It shows that components built against an older ABI
//! keep loading and keep giving the native scorer's plans (the versioning rule), and it is
//! the "old" side of the benchmark.

wit_bindgen::generate!({
    path: "../../lifecycles-wasm/wit/placement/v0.2",
    world: "diego:placement/scorer",
});

use diego::placement::types::{
    Cell, CellLoad, Param, Resources, ScoreParts, Scored, Scores, Verdict, Work, WorkKind,
};
use exports::diego::placement::score::{Guest, GuestRound};

/// Diego's `LocalityOffset`.
const LOCALITY_OFFSET: f64 = 1000.0;

struct DiegoScorer;

struct Round {
    starting_weight: f64,
    bin_pack_weight: f64,
    cells: Vec<Cell>,
}

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

impl Round {
    fn parts(&self, work: &Work, load: &CellLoad) -> ScoreParts {
        let mut parts = ScoreParts {
            resource: 0.0,
            starting: f64::from(load.starting_container_count) * self.starting_weight,
            same_process: 0.0,
            tasks: 0.0,
            bin_pack: 0.0,
            plugin: 0.0,
        };
        // An unknown position scores +inf: it never wins (the host never sends one).
        let Some(cell) = self.cells.get(load.cell as usize) else {
            parts.plugin = f64::INFINITY;
            return parts;
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
        parts
    }
}

impl GuestRound for Round {
    fn new(params: Vec<Param>, cells: Vec<Cell>) -> Self {
        Round {
            starting_weight: param(&params, "starting-container-weight", 0.25),
            bin_pack_weight: param(&params, "bin-pack-first-fit-weight", 0.0),
            cells,
        }
    }

    fn score(&self, work: Work, loads: Vec<CellLoad>) -> Scores {
        Scores {
            parts: loads.iter().map(|load| self.parts(&work, load)).collect(),
            rejected: Vec::new(),
        }
    }

    fn explain(&self, work: Work, loads: Vec<CellLoad>) -> Vec<Verdict> {
        loads
            .iter()
            .map(|load| {
                Verdict::Score(Scored {
                    parts: self.parts(&work, load),
                    named: Vec::new(),
                })
            })
            .collect()
    }
}

impl Guest for DiegoScorer {
    type Round = Round;
}

export!(DiegoScorer);
