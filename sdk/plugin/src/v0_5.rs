//! The 0.5.0 `round` over a [`Scorer`] (ADR 0029), what [`export_scorer!`](crate::export_scorer)
//! exports: the guest keeps the loads and places a whole batch of works per `place-batch`
//! call, walking the auction as the host does (zones ordered by the process's instances,
//! groups of tied zones, the in-flight budget); `score` and `explain` read the loads the host
//! sends (composite rounds, explanations).

use std::cell::RefCell;

use crate::bindings::exports::diego::placement::score::GuestRound;
use crate::kept::{Best, Kept, LoadColumns};
use crate::{
    cells_of, explain_loads, score_columns, wit, Cell, Params, RawWork, ScoreParts, Scorer, Tables,
    Verdict, WorkKind, PART_COLUMNS,
};

/// `picks.winner` of a work without a winner.
const NO_WINNER: u32 = u32::MAX;

/// A candidate set, as the walk reads it.
struct Set {
    /// (zone number, the zone's cells in ascending position), in the auction's zone order.
    zones: Vec<(u32, Vec<u32>)>,
    /// Every cell of the set, by ascending position (a task's candidates).
    all: Vec<u32>,
}

/// What the 0.5 round keeps between calls.
struct State {
    tables: Tables,
    kept: Kept,
    sets: Vec<Set>,
    /// An lrp's zones in walk order: (instances, index into the set's zones).
    order: Vec<(u32, u32)>,
}

/// The 0.5.0 `round` resource over a [`Scorer`]; [`export_scorer!`](crate::export_scorer)
/// exports it.
#[doc(hidden)]
pub struct Round<S> {
    scorer: S,
    cells: Vec<Cell>,
    state: RefCell<State>,
}

impl<S: Scorer> Round<S> {
    /// One work's walk on the kept loads: the winner (cell position) and the rejections.
    fn walk(
        &self,
        (kept, sets, order): (&Kept, &[Set], &mut Vec<(u32, u32)>),
        work: &crate::Work<'_>,
        raw: &RawWork,
        set: u32,
    ) -> Best {
        let mut best = Best::new();
        let Some(set) = sets.get(set as usize) else {
            return best;
        };
        let lrp = matches!(work.kind, WorkKind::Lrp);
        let same_process = kept.same_process(lrp, raw.guid);
        if !lrp {
            kept.walk(
                &self.scorer,
                &self.cells,
                work,
                same_process,
                &set.all,
                &mut best,
            );
            return best;
        }
        // Zones by the process's instances, ascending; a stable sort keeps tied zones in the
        // auction's zone order.
        let zone_counts = kept.zone_counts(raw.guid);
        order.clear();
        order.extend(set.zones.iter().enumerate().map(|(i, (zone, _))| {
            let count = zone_counts.get(*zone as usize).copied().unwrap_or(0);
            (count, i as u32)
        }));
        order.sort_by_key(|&(count, _)| count);
        let mut position = 0;
        while position < order.len() {
            let tied = order[position].0;
            while position < order.len() && order[position].0 == tied {
                let zone = &set.zones[order[position].1 as usize].1;
                kept.walk(
                    &self.scorer,
                    &self.cells,
                    work,
                    same_process,
                    zone,
                    &mut best,
                );
                position += 1;
            }
            // The first group of tied zones with a winner ends the walk.
            if best.winner.is_some() {
                break;
            }
        }
        best
    }
}

impl<S: Scorer> GuestRound for Round<S> {
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
        let scorer = S::new(&Params(params), &cell_list);
        Round {
            scorer,
            cells: cell_list,
            state: RefCell::new(State {
                tables,
                kept,
                sets: Vec::new(),
                order: Vec::new(),
            }),
        }
    }

    fn intern(
        &self,
        strings: Vec<String>,
        lists: Vec<Vec<u32>>,
        sets: Vec<Vec<Vec<u32>>>,
        processes: Vec<wit::Process>,
    ) {
        let mut state = self.state.borrow_mut();
        state.tables.extend(strings, lists);
        for zones in sets {
            let zones: Vec<Vec<u32>> = zones.into_iter().map(|z| state.kept.in_round(z)).collect();
            let mut all: Vec<u32> = zones.iter().flatten().copied().collect();
            all.sort_unstable();
            // A zone's number is its first cell's (an empty zone, which the host never
            // sends, counts no instances).
            let zones = zones
                .into_iter()
                .map(|cells| {
                    let zone = cells
                        .first()
                        .and_then(|&c| state.kept.zone_of.get(c as usize));
                    (zone.copied().unwrap_or(u32::MAX), cells)
                })
                .collect();
            state.sets.push(Set { zones, all });
        }
        for process in processes {
            for (&cell, &count) in process.cells.iter().zip(&process.counts) {
                state.kept.add_instances(process.guid, cell, count);
            }
        }
    }

    fn place_batch(&self, works: wit::Works, budget: u32) -> wit::Picks {
        let mut state = self.state.borrow_mut();
        let n = works.kind.len();
        let mut winners = vec![NO_WINNER; n];
        let mut parts = vec![0.0; PART_COLUMNS * n];
        let mut rejected = vec![0; n];
        let mut placed = 0;
        for i in 0..n {
            if placed >= budget {
                break;
            }
            let column = |c: &[u32]| c.get(i).copied().unwrap_or(u32::MAX);
            let number = |c: &[i32]| c.get(i).copied().unwrap_or(0);
            let raw = RawWork {
                kind: match works.kind[i] {
                    0 => WorkKind::Lrp,
                    _ => WorkKind::Task,
                },
                guid: column(&works.guid),
                index: number(&works.index),
                domain: column(&works.domain),
                memory_mb: number(&works.memory_mb),
                disk_mb: number(&works.disk_mb),
                rootfs: column(&works.rootfs),
                placement_tags: column(&works.placement_tags),
                volume_drivers: column(&works.volume_drivers),
            };
            let State {
                tables,
                kept,
                sets,
                order,
            } = &mut *state;
            let work = tables.work(&raw);
            let set = column(&works.candidates);
            let best = self.walk((kept, sets, order), &work, &raw, set);
            rejected[i] = best.rejected;
            if let Some((_, c)) = best.winner {
                let lrp = matches!(work.kind, WorkKind::Lrp);
                let load = kept.load(c, kept.same_process(lrp, raw.guid));
                // The winner is scored again for its parts (the scorer is a function of
                // its inputs), as the host's walk does; a rejection now means no winner.
                if let Verdict::Score(score) = self.scorer.score(&work, &self.cells[c], &load) {
                    put_parts(&mut parts, n, i, score);
                    winners[i] = c as u32;
                    kept.reserve(c, &work, lrp, raw.guid);
                    placed += 1;
                }
            }
        }
        wit::Picks {
            winner: winners,
            parts,
            rejected,
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
                Ok((parts, named)) => wit::Verdict::Score(wit::Scored { parts, named }),
                Err(reason) => wit::Verdict::Reject(reason),
            })
            .collect()
    }
}

/// Work `i`'s terms into the `part-column`s of `n` works.
fn put_parts(parts: &mut [f64], n: usize, i: usize, score: ScoreParts) {
    let terms = [
        score.resource,
        score.starting,
        score.same_process,
        score.tasks,
        score.bin_pack,
        score.plugin,
    ];
    for (c, term) in terms.into_iter().enumerate() {
        parts[c * n + i] = term;
    }
}
