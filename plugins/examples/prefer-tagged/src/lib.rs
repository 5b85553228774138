//! An example placement plugin written with `diego-plugin-sdk`: it prefers zone "z1" (param
//! "prefer-zone-1", default 1) and cells with optional placement tags, and refuses a cell whose
//! memory would be more than "max-memory-used" (0..1, default 0.9) used after placing the work.

use diego_plugin_sdk::{export_scorer, Cell, CellLoad, Params, Scorer, Verdict, Work};

struct PreferTagged {
    prefer_zone_1: bool,
    max_memory_used: f64,
}

impl PreferTagged {
    fn memory_used_after(work: &Work, cell: &Cell, load: &CellLoad) -> f64 {
        let used_mb = cell.total.memory_mb - load.available.memory_mb + work.memory_mb;
        f64::from(used_mb) / f64::from(cell.total.memory_mb.max(1))
    }
}

impl Scorer for PreferTagged {
    fn new(params: &Params, _cells: &[Cell]) -> Self {
        PreferTagged {
            prefer_zone_1: params.get("prefer-zone-1", 1.0) != 0.0,
            max_memory_used: params.get("max-memory-used", 0.9),
        }
    }

    fn score(&self, work: &Work, cell: &Cell, load: &CellLoad) -> Verdict {
        let used = Self::memory_used_after(work, cell, load);
        if used > self.max_memory_used {
            return Verdict::Reject(format!(
                "memory would be {:.0}% used (limit {:.0}%)",
                used * 100.0,
                self.max_memory_used * 100.0
            ));
        }
        let zone_penalty = if self.prefer_zone_1 && cell.zone != "z1" {
            1.0
        } else {
            0.0
        };
        let tag_bonus = if cell.optional_placement_tags.is_empty() {
            0.0
        } else {
            -0.5
        };
        Verdict::plugin(zone_penalty + tag_bonus + used)
    }

    fn describe(&self, work: &Work, cell: &Cell, load: &CellLoad) -> Vec<(String, f64)> {
        vec![
            (
                "memory-used-after".into(),
                Self::memory_used_after(work, cell, load),
            ),
            ("zone-1".into(), f64::from(u8::from(cell.zone == "z1"))),
        ]
    }
}

export_scorer!(PreferTagged);
