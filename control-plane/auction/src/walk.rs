//! The scoring walk over candidate cells: the scheduler's hot loop.

use crate::auction::{Auction, Queued};
use crate::error::{PlacementError, ResourceProblems};
use crate::explain::{CellVerdict, Tally, Verdict};
use crate::round::{BatchWork, CandidateSet, CellScore, Pick};
use crate::score::{CellView, ScoreParts, Scorer, WorkView};
use crate::types::Resources;

/// Diego's initial "best" score: a cell must score below this to win.
const NO_WINNER_SCORE: f64 = 1e20;

/// Works per `place_batch` call (ADR 0029): each call runs under one fuel and deadline
/// allowance, so a batch must stay well inside it (2,000 works on 100 cells are about
/// 130,000 candidates scored); a handful of calls per auction costs nothing next to that.
const BATCH_WORKS: usize = 256;

/// The candidates a batch pick is checked over: an LRP's zones in the walk's order
/// (`(instances, index into the entry's zones)`), or a task's every compatible cell.
#[derive(Clone, Copy)]
pub(crate) enum Candidates<'z> {
    Zones(&'z [(u32, usize)]),
    All,
}

/// What the auction's walk found behind a batch pick it accepts.
struct CheckedPick {
    winner: Option<(u32, f64)>,
    /// Candidates with room over the groups walked (all of a task's).
    fitting: u32,
    insufficient: u32,
    problems: ResourceProblems,
    /// Zones walked (an LRP's), for the zone skips.
    zones_walked: usize,
}

/// The constraint strings of a work.
fn constraints<'w>(work: &WorkView<'w>) -> (&'w str, &'w [String], &'w [String]) {
    match *work {
        WorkView::Lrp(lrp) => (&lrp.rootfs, &lrp.volume_drivers, &lrp.placement_tags),
        WorkView::Task(task) => (&task.rootfs, &task.volume_drivers, &task.placement_tags),
    }
}

/// The running minimum of a placement's scoring walk.
pub(crate) struct Best {
    total: f64,
    pub(crate) id: Option<u32>,
    /// Intersection of the shortfalls of every compatible cell that did not fit.
    problems: ResourceProblems,
}

impl Best {
    pub(crate) fn new() -> Self {
        Self {
            total: NO_WINNER_SCORE,
            id: None,
            problems: ResourceProblems::ALL,
        }
    }
}

/// What a cell lacks for `memory_mb`/`disk_mb` plus one container (`ResourceMatch`).
#[inline]
pub(crate) fn shortfall(available: Resources, memory_mb: i32, disk_mb: i32) -> ResourceProblems {
    let mut problems = ResourceProblems::NONE;
    if available.disk_mb < disk_mb {
        problems = problems.union(ResourceProblems::DISK);
    }
    if available.memory_mb < memory_mb {
        problems = problems.union(ResourceProblems::MEMORY);
    }
    if available.containers < 1 {
        problems = problems.union(ResourceProblems::CONTAINERS);
    }
    problems
}

impl<'a, S: Scorer + ?Sized> Auction<'a, '_, '_, S> {
    #[inline]
    fn view(&self, id: u32) -> CellView<'a> {
        let cell = &self.cells[id as usize];
        CellView {
            cell: self.layout.cells[id as usize],
            available: cell.available,
            total: cell.total,
            starting_container_count: cell.starting_container_count,
            same_process_lrps: self.same_process[id as usize],
            tasks: cell.tasks,
            bin_pack_index: cell.bin_pack_index,
            proxy_memory_mb: cell.proxy_memory_mb,
        }
    }

    /// Scores `candidates` (cell ids) and keeps the strict minimum, as upstream's loop does.
    /// Only totals are kept in the loop; the winner's parts are recomputed once afterwards
    /// (scorers are pure functions of their views).
    pub(crate) fn score_cells(
        &self,
        candidates: &[u32],
        work: &WorkView<'_>,
        best: &mut Best,
        tally: &mut Tally,
        verdicts: &mut Vec<CellVerdict>,
    ) {
        if self.config.explain {
            self.score_cells_explained(candidates, work, best, tally, verdicts);
            return;
        }
        let (memory_mb, disk_mb) = (work.memory_mb(), work.disk_mb());
        let (mut best_total, mut best_id) = (best.total, best.id);
        let mut problems = best.problems;
        let (mut scored, mut insufficient) = (0u32, 0u32);
        for &id in candidates {
            let short = shortfall(self.cells[id as usize].available, memory_mb, disk_mb);
            if !short.is_empty() {
                problems = problems.intersection(short);
                insufficient += 1;
                continue;
            }
            let total = match self.round {
                Some(_) => self.batch.total[id as usize],
                None => self.scorer.score_total(&self.view(id), work),
            };
            if total == f64::INFINITY && self.round.is_some() {
                tally.rejected += 1;
                continue;
            }
            scored += 1;
            if total < best_total {
                best_total = total;
                best_id = Some(id);
            }
        }
        *best = Best {
            total: best_total,
            id: best_id,
            problems,
        };
        tally.scored += scored;
        tally.insufficient += insufficient;
    }

    fn score_cells_explained(
        &self,
        candidates: &[u32],
        work: &WorkView<'_>,
        best: &mut Best,
        tally: &mut Tally,
        verdicts: &mut Vec<CellVerdict>,
    ) {
        let (memory_mb, disk_mb) = (work.memory_mb(), work.disk_mb());
        for &id in candidates {
            let cell_id = self.layout.cells[id as usize].cell_id.clone();
            let short = shortfall(self.cells[id as usize].available, memory_mb, disk_mb);
            if !short.is_empty() {
                best.problems = best.problems.intersection(short);
                tally.insufficient += 1;
                verdicts.push(CellVerdict {
                    cell_id,
                    verdict: Verdict::Insufficient(short),
                });
                continue;
            }
            let (parts, total, named) = if self.round.is_some() {
                match self.batch.explained[id as usize].clone() {
                    Some(CellScore::Scored { parts, named }) => (parts, parts.total(), named),
                    Some(CellScore::Rejected(reason)) => {
                        tally.rejected += 1;
                        verdicts.push(CellVerdict {
                            cell_id,
                            verdict: Verdict::Rejected(reason),
                        });
                        continue;
                    }
                    None => {
                        tally.rejected += 1;
                        let reason = "no verdict from the scorer".to_owned();
                        verdicts.push(CellVerdict {
                            cell_id,
                            verdict: Verdict::Rejected(reason),
                        });
                        continue;
                    }
                }
            } else {
                let view = self.view(id);
                let parts = self.scorer.score(&view, work);
                let total = self.scorer.score_total(&view, work);
                (parts, total, self.scorer.describe(&view, work))
            };
            tally.scored += 1;
            verdicts.push(CellVerdict {
                cell_id,
                verdict: Verdict::Scored { parts, named },
            });
            if total < best.total {
                best.total = total;
                best.id = Some(id);
            }
        }
    }

    /// The winner and its score parts, or why nobody won.
    pub(crate) fn winner(
        &self,
        best: &Best,
        work: &WorkView<'_>,
    ) -> Result<(u32, ScoreParts), PlacementError> {
        match best.id {
            Some(id) if self.batch.picked.is_some_and(|(cell, _)| cell == id) => Ok((
                id,
                self.batch
                    .picked
                    .map(|(_, parts)| parts)
                    .unwrap_or_default(),
            )),
            Some(id) if self.round.is_some() => {
                let position = self.batch.position[id as usize] as usize;
                Ok((id, self.batch.columns.parts_of(position)))
            }
            Some(id) => Ok((id, self.scorer.score(&self.view(id), work))),
            None => Err(PlacementError::InsufficientResources(best.problems)),
        }
    }
}

impl<S: Scorer + ?Sized> Auction<'_, '_, '_, S> {
    /// Batch mode (ADR 0029): sends the round the next batch of `upcoming` with the candidate
    /// set of each work, and queues the picks. A round that does not place batches (or failed)
    /// ends batch mode; a wrong number of picks is refused.
    pub(crate) fn fetch_batch(&mut self, upcoming: &[WorkView<'_>]) {
        let n = upcoming.len().min(BATCH_WORKS);
        let mut works = Vec::with_capacity(n);
        for work in &upcoming[..n] {
            let (rootfs, drivers, tags) = constraints(work);
            let set = self.compat_index(rootfs, drivers, tags) as u32;
            works.push(BatchWork { work: *work, set });
        }
        let budget = self.inflight_budget();
        let sets: Vec<CandidateSet<'_>> = self.compat.iter().map(|c| c.zones.as_slice()).collect();
        let mut picks = Vec::with_capacity(n);
        let Some(round) = self.round.as_mut() else {
            self.batching = false;
            return;
        };
        if !round.place_batch(&works, &sets, budget, &mut picks) {
            self.batching = false;
            return;
        }
        if picks.len() != n {
            round.refuse_pick(format!("{} picks for a batch of {n} works", picks.len()));
            self.batching = false;
            self.picking = false;
            return;
        }
        let queued = picks.into_iter().zip(&works).enumerate();
        self.queue
            .extend(queued.map(|(index, (pick, work))| Queued {
                pick,
                compat: work.set as usize,
                index: index as u32,
            }));
    }

    /// Refuses the batch pick of a work the auction places nowhere (no compatible cell):
    /// a round that placed it would go on from loads the auction does not have.
    pub(crate) fn refuse_if_placed(&mut self, queued: Option<Queued>) {
        if let Some(Queued {
            pick: Pick {
                winner: Some(id), ..
            },
            ..
        }) = queued
        {
            let reason = format!("picked cell position {id} for a work no cell is compatible with");
            self.refuse_batch(reason);
        }
    }

    /// Fails the round with `reason` and ends batch and pick mode.
    fn refuse_batch(&mut self, reason: String) {
        if let Some(round) = self.round.as_mut() {
            round.refuse_pick(reason);
        }
        self.batching = false;
        self.picking = false;
        self.queue.clear();
    }

    /// Batch mode (ADR 0029): checks the round's pick for this work against the auction's own
    /// walk over `candidates` (an LRP's zone groups, or a task's cells) without scoring: the
    /// winner must be a compatible cell with room and a total that is a number below Diego's
    /// no-winner score and not `-inf`; every candidate with room in the groups walked before
    /// the winner's must have been rejected, and not every one of its own group (with no
    /// winner: every candidate with room). The tally is counted here, as the walk would.
    /// Returns the zones walked (for the zone skips); `None` when the pick was refused (the
    /// round has failed; `best` and `tally` are untouched and the caller walks with the
    /// fallback).
    pub(crate) fn take_batch_pick(
        &mut self,
        queued: Queued,
        compat: usize,
        candidates: Candidates<'_>,
        work: &WorkView<'_>,
        best: &mut Best,
        tally: &mut Tally,
    ) -> Option<usize> {
        match self.check_batch_pick(queued.pick, compat, candidates, work, best.problems) {
            Ok(checked) => {
                tally.insufficient += checked.insufficient;
                tally.rejected += queued.pick.rejected;
                tally.scored += checked.fitting - queued.pick.rejected;
                best.problems = checked.problems;
                if let Some((id, total)) = checked.winner {
                    best.total = total;
                    best.id = Some(id);
                    self.batch.position[id as usize] = queued.index;
                    self.batch.picked = Some((id, queued.pick.parts));
                }
                Some(checked.zones_walked)
            }
            Err(reason) => {
                self.refuse_batch(reason);
                None
            }
        }
    }

    fn check_batch_pick(
        &self,
        pick: Pick,
        compat: usize,
        candidates: Candidates<'_>,
        work: &WorkView<'_>,
        problems: ResourceProblems,
    ) -> Result<CheckedPick, String> {
        let (memory_mb, disk_mb) = (work.memory_mb(), work.disk_mb());
        let entry = &self.compat[compat];
        let winner = match pick.winner {
            None => None,
            Some(id) => {
                let Some(cell) = self.cells.get(id as usize) else {
                    return Err(format!(
                        "picked cell position {id} of {} cells",
                        self.cells.len()
                    ));
                };
                let name = &self.layout.cells[id as usize].cell_id;
                let total = pick.parts.total();
                if entry.failures[id as usize].is_some() {
                    return Err(format!(
                        "picked cell {name}, which is not compatible with the work"
                    ));
                }
                if !shortfall(cell.available, memory_mb, disk_mb).is_empty() {
                    return Err(format!(
                        "picked cell {name}, which has no room for the work"
                    ));
                }
                if total.is_nan() || total >= NO_WINNER_SCORE {
                    return Err(format!("picked cell {name} with total {total}"));
                }
                if total == f64::NEG_INFINITY {
                    return Err(format!("picked cell {name} with total -inf"));
                }
                Some((id, total))
            }
        };
        let mut checked = CheckedPick {
            winner,
            fitting: 0,
            insufficient: 0,
            problems,
            zones_walked: 0,
        };
        // The room check of every candidate walked, without a branch per candidate (this is
        // the whole of the auction's own walk in batch mode).
        let count = |ids: &[u32], checked: &mut CheckedPick| {
            let (mut fitting, mut problems) = (0, checked.problems);
            for &id in ids {
                let short = shortfall(self.cells[id as usize].available, memory_mb, disk_mb);
                let fits = short.is_empty();
                fitting += u32::from(fits);
                problems = problems.intersection(if fits { ResourceProblems::ALL } else { short });
            }
            checked.fitting += fitting;
            checked.insufficient += ids.len() as u32 - fitting;
            checked.problems = problems;
        };
        // Candidates with room before the winner's group, and up to its end.
        let (before, found) = match candidates {
            Candidates::All => {
                count(&entry.all, &mut checked);
                (0, winner.is_some())
            }
            Candidates::Zones(zone_order) => {
                let winner_zone = winner.map(|(id, _)| self.cells[id as usize].zone);
                let (mut position, mut before, mut found) = (0, 0, false);
                while position < zone_order.len() {
                    let tied = zone_order[position].0;
                    let end = position
                        + zone_order[position..]
                            .iter()
                            .take_while(|z| z.0 == tied)
                            .count();
                    before = checked.fitting;
                    for &(_, zone) in &zone_order[position..end] {
                        let (id, cells) = &entry.zones[zone];
                        found |= winner_zone == Some(*id);
                        count(cells, &mut checked);
                    }
                    position = end;
                    if found {
                        break;
                    }
                }
                checked.zones_walked = position;
                (before, found)
            }
        };
        let rejected = pick.rejected;
        if winner.is_some() && !found {
            return Err("picked a cell outside the work's zones".to_owned());
        }
        if winner.is_none() && rejected != checked.fitting {
            return Err(format!(
                "no winner among {} candidates with room, but {rejected} rejected",
                checked.fitting
            ));
        }
        if winner.is_some() && (rejected < before || rejected >= checked.fitting) {
            return Err(format!(
                "picked a winner after {before} candidates with room in earlier zones and \
                 among {} in its own, but {rejected} rejected",
                checked.fitting - before
            ));
        }
        Ok(checked)
    }

    /// Pick mode (ADR 0026): the round picks the winner among `candidates` (the compatible
    /// cells of one placement or group of tied zones, in walk order) on its own loads. The
    /// pick is checked against the auction's state, which stays the authority: the winner
    /// must be a candidate with room and a total below Diego's no-winner score, and the
    /// rejections must add up. The tally's shortfalls are counted here, as the walk would.
    /// Returns `false` when the round does not pick or its pick was refused (the round then
    /// fails and the caller scores the candidates through the fallback).
    pub(crate) fn pick(
        &mut self,
        candidates: &[u32],
        work: &WorkView<'_>,
        best: &mut Best,
        tally: &mut Tally,
    ) -> bool {
        let Some(round) = self.round.as_mut() else {
            return false;
        };
        let Some(pick) = round.pick(work, candidates) else {
            self.picking = false;
            return false;
        };
        let (memory_mb, disk_mb) = (work.memory_mb(), work.disk_mb());
        let mut problems = best.problems;
        let (mut fitting, mut insufficient) = (0u32, 0u32);
        for &id in candidates {
            let short = shortfall(self.cells[id as usize].available, memory_mb, disk_mb);
            if short.is_empty() {
                fitting += 1;
            } else {
                problems = problems.intersection(short);
                insufficient += 1;
            }
        }
        let checked = match pick.winner {
            None if pick.rejected == fitting => Ok(None),
            None => Err(format!(
                "no winner among {fitting} candidates with room, but {} rejected",
                pick.rejected
            )),
            Some(position) => match candidates.get(position as usize) {
                None => Err(format!(
                    "picked position {position} of {} candidates",
                    candidates.len()
                )),
                Some(&id) => {
                    let total = pick.parts.total();
                    let cell = &self.cells[id as usize];
                    if !shortfall(cell.available, memory_mb, disk_mb).is_empty() {
                        Err(format!(
                            "picked cell {}, which has no room for the work",
                            self.layout.cells[id as usize].cell_id
                        ))
                    } else if total.is_nan() || total >= NO_WINNER_SCORE {
                        Err(format!("picked a cell with total {total}"))
                    } else if total == f64::NEG_INFINITY {
                        Err("picked a cell with total -inf".to_owned())
                    } else if pick.rejected >= fitting {
                        Err(format!(
                            "picked a winner among {fitting} candidates with room, but {} \
                             rejected",
                            pick.rejected
                        ))
                    } else {
                        Ok(Some((position, id, total)))
                    }
                }
            },
        };
        match checked {
            Ok(winner) => {
                tally.insufficient += insufficient;
                tally.rejected += pick.rejected;
                tally.scored += fitting - pick.rejected;
                best.problems = problems;
                if let Some((position, id, total)) = winner {
                    best.total = total;
                    best.id = Some(id);
                    self.batch.position[id as usize] = position;
                    self.batch.picked = Some((id, pick.parts));
                }
                true
            }
            Err(reason) => {
                round.refuse_pick(reason);
                self.picking = false;
                false
            }
        }
    }

    /// Round mode: scores every fitting candidate of one placement (for LRPs: of one group of
    /// tied zones) in one call and keeps the results by cell id for the walk. Cells the call says nothing about count as rejected.
    pub(crate) fn prescore(&mut self, candidates: &[u32], work: &WorkView<'_>) {
        let (memory_mb, disk_mb) = (work.memory_mb(), work.disk_mb());
        let mut ids = std::mem::take(&mut self.batch.ids);
        ids.clear();
        ids.extend(candidates.iter().copied().filter(|&id| {
            shortfall(self.cells[id as usize].available, memory_mb, disk_mb).is_empty()
        }));
        let mut views = std::mem::take(&mut self.views);
        views.clear();
        views.extend(ids.iter().map(|&id| self.view(id)));
        let explain = self.config.explain;
        let batch = &mut self.batch;
        if explain {
            for &id in &ids {
                batch.explained[id as usize] = None;
            }
        }
        let Some(round) = self.round.as_mut() else {
            self.views = views;
            self.batch.ids = ids;
            return;
        };
        if explain {
            let verdicts = round.explain(work, &ids, &views);
            let scored: Vec<Option<ScoreParts>> = verdicts
                .iter()
                .map(|verdict| match verdict {
                    CellScore::Scored { parts, .. } => Some(*parts),
                    CellScore::Rejected(_) => None,
                })
                .collect();
            batch.columns.fill(&scored);
            for (&id, verdict) in ids.iter().zip(verdicts) {
                batch.explained[id as usize] = Some(verdict);
            }
        } else {
            round.score_columns(work, &ids, &views, &mut batch.columns);
        }
        // Positions the answer does not cover are +inf (rejected).
        let totals = &batch.columns.totals;
        for (position, &id) in ids.iter().enumerate() {
            batch.total[id as usize] = totals.get(position).copied().unwrap_or(f64::INFINITY);
            batch.position[id as usize] = position as u32;
        }
        self.batch.ids = ids;
        self.views = views;
    }
}
