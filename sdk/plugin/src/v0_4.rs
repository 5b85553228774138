//! The 0.4.0 `round` over a [`Scorer`], for [`export_scorer_v0_4!`](crate::export_scorer_v0_4)
//! (ADR 0026): the guest keeps the loads and picks one placement's winner per `place` call,
//! among one group of candidates the host walks to; `score` and `explain` are the 0.5 round's.

use std::cell::RefCell;

use crate::bindings_v0_4::diego::placement::types as wit;
use crate::bindings_v0_4::exports::diego::placement::score::GuestRound;
use crate::kept::{Best, Kept, LoadColumns};
use crate::{
    cells_of, explain_loads, score_columns, Cell, Params, RawWork, ScoreParts, Scorer, Tables,
    Verdict, WorkKind,
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

fn parts_v0_4(parts: ScoreParts) -> wit::ScoreParts {
    wit::ScoreParts {
        resource: parts.resource,
        starting: parts.starting,
        same_process: parts.same_process,
        tasks: parts.tasks,
        bin_pack: parts.bin_pack,
        plugin: parts.plugin,
    }
}

const NO_PARTS: wit::ScoreParts = wit::ScoreParts {
    resource: 0.0,
    starting: 0.0,
    same_process: 0.0,
    tasks: 0.0,
    bin_pack: 0.0,
    plugin: 0.0,
};

/// What the 0.4 round keeps between calls.
struct State {
    tables: Tables,
    kept: Kept,
    /// Candidate groups (cell positions, in the walk's order) by index.
    groups: Vec<Vec<u32>>,
}

/// The 0.4.0 `round` resource over a [`Scorer`].
#[doc(hidden)]
pub struct RoundV04<S> {
    scorer: S,
    cells: Vec<Cell>,
    state: RefCell<State>,
}

impl<S: Scorer> GuestRound for RoundV04<S> {
    fn new(
        params: Vec<wit::Param>,
        strings: Vec<String>,
        lists: Vec<Vec<u32>>,
        cells: wit::Cells,
    ) -> Self {
        let mut tables = Tables::default();
        tables.extend(strings, lists);
        let cell_list = cells_of(
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
        let loads = LoadColumns {
            available_memory_mb: &cells.available_memory_mb,
            available_disk_mb: &cells.available_disk_mb,
            available_containers: &cells.available_containers,
            starting_container_count: &cells.starting_container_count,
            tasks: &cells.tasks,
            bin_pack_index: &cells.bin_pack_index,
        };
        let kept = Kept::new(cell_list.len(), loads, &cells.zone);
        let params = params
            .into_iter()
            .map(|p| crate::wit::Param {
                name: p.name,
                value: p.value,
            })
            .collect();
        let scorer = S::new(&Params(params), &cell_list);
        RoundV04 {
            scorer,
            cells: cell_list,
            state: RefCell::new(State {
                tables,
                kept,
                groups: Vec::new(),
            }),
        }
    }

    fn intern(
        &self,
        strings: Vec<String>,
        lists: Vec<Vec<u32>>,
        groups: Vec<Vec<u32>>,
        processes: Vec<wit::Process>,
    ) {
        let mut state = self.state.borrow_mut();
        state.tables.extend(strings, lists);
        for group in groups {
            let group = state.kept.in_round(group);
            state.groups.push(group);
        }
        for process in processes {
            for (&cell, &count) in process.cells.iter().zip(&process.counts) {
                state.kept.add_instances(process.guid, cell, count);
            }
        }
    }

    fn place(&self, work: wit::Work, group: u32) -> wit::Placed {
        let mut state = self.state.borrow_mut();
        let State {
            tables,
            kept,
            groups,
        } = &mut *state;
        let raw = RawWork::from(&work);
        let work = tables.work(&raw);
        let lrp = matches!(work.kind, WorkKind::Lrp);
        let candidates = groups.get(group as usize).map_or(&[][..], Vec::as_slice);
        let same_process = kept.same_process(lrp, raw.guid);
        let mut best = Best::new();
        kept.walk(
            &self.scorer,
            &self.cells,
            &work,
            same_process,
            candidates,
            &mut best,
        );
        // The winner is scored again for its parts (the scorer is a function of its
        // inputs), as the host's walk does.
        let parts = best.winner.and_then(|(_, c)| {
            let load = kept.load(c, same_process);
            match self.scorer.score(&work, &self.cells[c], &load) {
                Verdict::Score(parts) => Some(parts),
                Verdict::Reject(_) => None,
            }
        });
        let (Some((position, c)), Some(parts)) = (best.winner, parts) else {
            return wit::Placed {
                winner: None,
                parts: NO_PARTS,
                rejected: best.rejected,
            };
        };
        kept.reserve(c, &work, lrp, raw.guid);
        wit::Placed {
            winner: Some(position),
            parts: parts_v0_4(parts),
            rejected: best.rejected,
        }
    }

    fn score(&self, work: wit::Work, loads: Vec<i32>) -> wit::Scores {
        let state = self.state.borrow();
        let work = state.tables.work(&RawWork::from(&work));
        let (parts, rejected) = score_columns(&self.scorer, &self.cells, &work, &loads);
        wit::Scores { parts, rejected }
    }

    fn explain(&self, work: wit::Work, loads: Vec<i32>) -> Vec<wit::Verdict> {
        let state = self.state.borrow();
        let work = state.tables.work(&RawWork::from(&work));
        explain_loads(&self.scorer, &self.cells, &work, &loads)
            .into_iter()
            .map(|answer| match answer {
                Ok((parts, named)) => wit::Verdict::Score(wit::Scored {
                    parts: parts_v0_4(parts),
                    named,
                }),
                Err(reason) => wit::Verdict::Reject(reason),
            })
            .collect()
    }
}
