//! An example custom scorer: spread instances of one process across cells and keep one
//! container slot free on every cell. Everything it adds lands in `plugin`, so the auctioneer
//! can weigh it against Diego's own score.

wit_bindgen::generate!({
    path: "../../lifecycles-wasm/wit/placement",
    world: "diego:placement/scorer",
});

use diego::placement::types::{Cell, Param, ScoreParts, Scored, Verdict, Work};
use exports::diego::placement::score::Guest;

struct SpreadScorer;

/// Penalty per instance of the same process already on the cell ("spread-weight").
const DEFAULT_SPREAD_WEIGHT: f64 = 10.0;

impl Guest for SpreadScorer {
    fn score_batch(params: Vec<Param>, work: Work, cells: Vec<Cell>) -> Vec<Verdict> {
        let spread_weight = params
            .iter()
            .find(|p| p.name == "spread-weight")
            .map_or(DEFAULT_SPREAD_WEIGHT, |p| p.value);
        cells
            .iter()
            .map(|cell| {
                // Keeping a slot free leaves room to evacuate onto this cell later.
                if cell.available.containers < 2 {
                    return Verdict::Reject("would take the last free container slot".into());
                }
                let used_memory_mb = cell.total.memory_mb - cell.available.memory_mb;
                let memory_after = f64::from(used_memory_mb + work.memory_mb)
                    / f64::from(cell.total.memory_mb.max(1));
                let spread = spread_weight * f64::from(cell.same_process_lrps);
                Verdict::Score(Scored {
                    parts: ScoreParts {
                        resource: 0.0,
                        starting: 0.0,
                        same_process: 0.0,
                        tasks: 0.0,
                        bin_pack: 0.0,
                        plugin: memory_after + spread,
                    },
                    named: vec![
                        ("memory-after".into(), memory_after),
                        ("spread".into(), spread),
                    ],
                })
            })
            .collect()
    }
}

export!(SpreadScorer);
