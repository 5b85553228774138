//! An example custom scorer: spread instances of one process across cells and keep one
//! container slot free on every cell. Everything it adds lands in `plugin`, so the auctioneer
//! can weigh it against Diego's own score.

use diego_plugin_sdk::{export_scorer, Cell, CellLoad, Params, Scorer, Verdict, Work};

/// Penalty per instance of the same process already on the cell ("spread-weight").
const DEFAULT_SPREAD_WEIGHT: f64 = 10.0;

struct SpreadScorer {
    spread_weight: f64,
}

impl SpreadScorer {
    fn terms(&self, work: &Work, cell: &Cell, load: &CellLoad) -> (f64, f64) {
        let used_memory_mb = cell.total.memory_mb - load.available.memory_mb;
        let memory_after =
            f64::from(used_memory_mb + work.memory_mb) / f64::from(cell.total.memory_mb.max(1));
        let spread = self.spread_weight * f64::from(load.same_process_lrps);
        (memory_after, spread)
    }
}

impl Scorer for SpreadScorer {
    fn new(params: &Params, _cells: &[Cell]) -> Self {
        SpreadScorer {
            spread_weight: params.get("spread-weight", DEFAULT_SPREAD_WEIGHT),
        }
    }

    fn score(&self, work: &Work, cell: &Cell, load: &CellLoad) -> Verdict {
        // Keeping a slot free leaves room to evacuate onto this cell later.
        if load.available.containers < 2 {
            return Verdict::Reject("would take the last free container slot".into());
        }
        let (memory_after, spread) = self.terms(work, cell, load);
        Verdict::plugin(memory_after + spread)
    }

    fn describe(&self, work: &Work, cell: &Cell, load: &CellLoad) -> Vec<(String, f64)> {
        let (memory_after, spread) = self.terms(work, cell, load);
        vec![
            ("memory-after".into(), memory_after),
            ("spread".into(), spread),
        ]
    }
}

export_scorer!(SpreadScorer);
