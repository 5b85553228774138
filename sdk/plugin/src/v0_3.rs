//! The 0.3.0 `round` over a [`Scorer`], for [`export_scorer_v0_3!`](crate::export_scorer_v0_3):
//! the host sends the loads with every call; the scoring is the 0.4.0 round's `score` and
//! `explain`.

use crate::bindings_v0_3::diego::placement::types as wit;
use crate::bindings_v0_3::exports::diego::placement::score::GuestRound;
use crate::{
    cells_of, explain_loads, score_columns, Cell, Params, RawWork, ScoreParts, Scorer, Tables,
    WorkKind,
};

impl From<&wit::Work> for RawWork {
    fn from(work: &wit::Work) -> Self {
        RawWork {
            kind: match work.kind {
                wit::WorkKind::Lrp => WorkKind::Lrp,
                wit::WorkKind::Task => WorkKind::Task,
            },
            guid: work.guid,
            index: work.index,
            domain: work.domain,
            memory_mb: work.memory_mb,
            disk_mb: work.disk_mb,
            rootfs: work.rootfs,
            placement_tags: work.placement_tags,
            volume_drivers: work.volume_drivers,
        }
    }
}

fn parts_v0_3(parts: ScoreParts) -> wit::ScoreParts {
    wit::ScoreParts {
        resource: parts.resource,
        starting: parts.starting,
        same_process: parts.same_process,
        tasks: parts.tasks,
        bin_pack: parts.bin_pack,
        plugin: parts.plugin,
    }
}

/// The 0.3.0 `round` resource over a [`Scorer`].
#[doc(hidden)]
pub struct RoundV03<S> {
    scorer: S,
    cells: Vec<Cell>,
    tables: std::cell::RefCell<Tables>,
}

impl<S: Scorer> GuestRound for RoundV03<S> {
    fn new(
        params: Vec<wit::Param>,
        strings: Vec<String>,
        lists: Vec<Vec<u32>>,
        cells: wit::Cells,
    ) -> Self {
        let mut tables = Tables::default();
        tables.extend(strings, lists);
        let cells = cells_of(
            &tables,
            &cells.cell_id,
            &cells.zone,
            &cells.total_memory_mb,
            &cells.total_disk_mb,
            &cells.total_containers,
            &cells.proxy_memory_mb,
            &cells.placement_tags,
            &cells.optional_placement_tags,
        );
        let params = params
            .into_iter()
            .map(|p| crate::wit::Param {
                name: p.name,
                value: p.value,
            })
            .collect();
        let scorer = S::new(&Params(params), &cells);
        RoundV03 {
            scorer,
            cells,
            tables: std::cell::RefCell::new(tables),
        }
    }

    fn intern(&self, strings: Vec<String>, lists: Vec<Vec<u32>>) {
        self.tables.borrow_mut().extend(strings, lists);
    }

    fn score(&self, work: wit::Work, loads: Vec<i32>) -> wit::Scores {
        let tables = self.tables.borrow();
        let work = tables.work(&RawWork::from(&work));
        let (parts, rejected) = score_columns(&self.scorer, &self.cells, &work, &loads);
        wit::Scores { parts, rejected }
    }

    fn explain(&self, work: wit::Work, loads: Vec<i32>) -> Vec<wit::Verdict> {
        let tables = self.tables.borrow();
        let work = tables.work(&RawWork::from(&work));
        explain_loads(&self.scorer, &self.cells, &work, &loads)
            .into_iter()
            .map(|answer| match answer {
                Ok((parts, named)) => wit::Verdict::Score(wit::Scored {
                    parts: parts_v0_3(parts),
                    named,
                }),
                Err(reason) => wit::Verdict::Reject(reason),
            })
            .collect()
    }
}
