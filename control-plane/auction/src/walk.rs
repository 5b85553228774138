//! The scoring walk over candidate cells: the scheduler's hot loop.

use crate::auction::Auction;
use crate::error::{PlacementError, ResourceProblems};
use crate::explain::{CellVerdict, Tally, Verdict};
use crate::round::CellScore;
use crate::score::{CellView, ScoreParts, Scorer, WorkView};
use crate::types::Resources;

/// Diego's initial "best" score: a cell must score below this to win.
const NO_WINNER_SCORE: f64 = 1e20;

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
