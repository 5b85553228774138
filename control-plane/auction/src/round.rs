//! The batch side of the scoring seam: a scorer that pays a cost per call (a WASM guest) opens
//! a [`ScoreRound`] for one auction and is asked once per placement for every candidate cell,
//! instead of once per cell.

use crate::score::{CellView, ScoreParts, Scorer, WorkView};
use crate::types::CellState;

/// One cell's answer from a batch scorer.
#[derive(Debug, Clone, PartialEq)]
pub enum CellScore {
    /// Scored; `named` holds the scorer's named contributions (explanations only).
    Scored {
        parts: ScoreParts,
        named: Vec<(String, f64)>,
    },
    /// The scorer refuses the cell for this work; it can never win.
    Rejected(String),
}

/// Terms per candidate in [`ScoreColumns::parts`], in `ScoreParts`' field order: `resource`,
/// `starting`, `same_process`, `tasks`, `bin_pack`, `plugin`.
pub const PART_COLUMNS: usize = 6;

/// One placement call's answer, columnar by position in the call (see
/// [`ScoreRound::score_columns`]). The walk reads only `totals`; the winner's parts are read
/// back once ([`ScoreColumns::parts_of`]), so a round that gets its answer as columns (a WASM
/// guest) hands them over without building a `ScoreParts` per candidate.
#[derive(Debug, Clone, Default)]
pub struct ScoreColumns {
    /// `totals[i]`: candidate `i`'s total, `ScoreParts::total` of its parts (the same sum in
    /// the same order); `+inf` when the scorer rejects it (it never wins).
    pub totals: Vec<f64>,
    /// `parts[c * n + i]`: term `c` ([`PART_COLUMNS`]) of candidate `i`, with
    /// `n = totals.len()`. A rejected candidate's terms are unused.
    pub parts: Vec<f64>,
    /// Per-candidate answers of a round without its own `score_columns`.
    scratch: Vec<Option<ScoreParts>>,
}

impl ScoreColumns {
    /// Candidates answered.
    pub fn len(&self) -> usize {
        self.totals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.totals.is_empty()
    }

    /// Candidate `position`'s terms; zero terms when the columns do not hold it.
    pub fn parts_of(&self, position: usize) -> ScoreParts {
        let n = self.totals.len();
        if position >= n || self.parts.len() != PART_COLUMNS * n {
            return ScoreParts::default();
        }
        let term = |c: usize| self.parts[c * n + position];
        ScoreParts {
            resource: term(0),
            starting: term(1),
            same_process: term(2),
            tasks: term(3),
            bin_pack: term(4),
            plugin: term(5),
        }
    }

    /// The columns of per-candidate answers (`None` = rejected).
    pub fn fill(&mut self, scored: &[Option<ScoreParts>]) {
        let n = scored.len();
        self.totals.clear();
        self.parts.clear();
        self.parts.resize(PART_COLUMNS * n, 0.0);
        for (i, answer) in scored.iter().enumerate() {
            match answer {
                Some(parts) => {
                    self.totals.push(parts.total());
                    let terms = [
                        parts.resource,
                        parts.starting,
                        parts.same_process,
                        parts.tasks,
                        parts.bin_pack,
                        parts.plugin,
                    ];
                    for (c, term) in terms.into_iter().enumerate() {
                        self.parts[c * n + i] = term;
                    }
                }
                None => self.totals.push(f64::INFINITY),
            }
        }
    }

    /// `totals` from `parts` (`n` candidates): each the sum of its six terms in
    /// `ScoreParts::total`'s order, so plans match the per-cell seam bit for bit.
    pub fn sum_parts(&mut self, n: usize) {
        self.totals.clear();
        if self.parts.len() != PART_COLUMNS * n {
            self.totals.resize(n, f64::INFINITY);
            return;
        }
        let (resource, rest) = self.parts.split_at(n);
        let (starting, rest) = rest.split_at(n);
        let (same_process, rest) = rest.split_at(n);
        let (tasks, rest) = rest.split_at(n);
        let (bin_pack, plugin) = rest.split_at(n);
        // Zipped slices, not indices: no bounds checks, so the sum vectorizes.
        let terms = resource.iter().zip(starting).zip(same_process);
        let terms = terms.zip(tasks).zip(bin_pack).zip(plugin);
        self.totals.extend(terms.map(
            |(((((resource, starting), same), tasks), bin_pack), plugin)| {
                resource + starting + same + tasks + bin_pack + plugin
            },
        ));
    }
}

/// A round's own pick for one placement ([`ScoreRound::pick`], ADR 0026).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pick {
    /// Position of the winner in the candidates passed to `pick` (for `place_batch`: the
    /// winner's position in the round); `None`: no candidate won.
    pub winner: Option<u32>,
    /// The winner's terms (unused without a winner).
    pub parts: ScoreParts,
    /// Candidates with room that the scorer refused or scored `+inf`.
    pub rejected: u32,
}

/// One work of a batch a round places itself ([`ScoreRound::place_batch`], ADR 0029): the
/// work and the index of its candidate set (its compatible cells by zone) in the `sets`
/// passed with the batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchWork<'w> {
    pub work: WorkView<'w>,
    pub set: u32,
}

/// A candidate set of [`ScoreRound::place_batch`]: the cells compatible with one constraint
/// signature, by zone: `(zone, cells)`, zones in the auction's zone order (ascending zone id),
/// each zone's cells by ascending position in the round.
pub type CandidateSet<'s> = &'s [(u32, Vec<u32>)];

/// A scorer's state for one auction (one `schedule` call), opened by [`Scorer::open_round`]
/// with every participating cell. `ids[i]` is the position of `cells[i]` in that list, so a
/// round can keep what does not change during the auction (ids, zones, tags) from the open and
/// be sent only what does (available resources, counts) per placement.
pub trait ScoreRound {
    /// Scores every candidate of one placement in one call: appends to `out` one entry per
    /// cell, in order; `None` when the scorer rejects the cell.
    fn score(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
        out: &mut Vec<Option<ScoreParts>>,
    );

    /// `score`'s answer as columns, replacing `out`'s contents; the auction's hot path. The
    /// default goes through `score`; a round whose scorer answers in columns overrides it.
    fn score_columns(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
        out: &mut ScoreColumns,
    ) {
        let mut scored = std::mem::take(&mut out.scratch);
        scored.clear();
        self.score(work, ids, cells, &mut scored);
        out.fill(&scored);
        out.scratch = scored;
    }

    /// Like `score`, with reasons and named terms, for per-cell explanations.
    fn explain(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
    ) -> Vec<CellScore>;

    /// Per-scorer totals of `cells[position]` of the last `score` call, for the winner's line
    /// in the explanation (e.g. `1×diego 0.41`, `0.5×spread 2.3`). Default: none.
    fn terms(&self, _position: usize) -> Vec<(String, f64)> {
        Vec::new()
    }

    /// Rounds that keep the auction's loads themselves pick a placement's winner (ADR 0026):
    /// `candidates` are the compatible cells (by position in the round) of one placement
    /// (for an LRP, of one group of tied zones), in the walk's order, with or without room.
    /// The round scores those with room on its own loads, returns the first lowest total
    /// below 1e20 and reserves the work on it. The auction checks the pick (a candidate,
    /// with room, a total below 1e20, counts that add up) and calls `refuse_pick` otherwise.
    /// `None` (the default): this round does not pick; the auction scores through
    /// `score_columns`. The auction asks for picks for every placement of an auction without
    /// explanations, or for none.
    fn pick(&mut self, _work: &WorkView<'_>, _candidates: &[u32]) -> Option<Pick> {
        None
    }

    /// Rounds that keep the auction's loads and walk it themselves place a batch of works in
    /// one call (ADR 0029): for each work in order, on the round's own loads, the walk the
    /// auction does (an LRP's zones of `sets[set]` ordered by the process's instances, stable,
    /// groups of tied zones, the first group with a winner ends the walk; a task over every
    /// cell of the set, by ascending position), the strict minimum below 1e20 among the
    /// candidates with room wins, and the work is reserved on it. Once `budget` works were
    /// placed (the in-flight limit) the rest get no winner. Appends one [`Pick`] per work to
    /// `out`, its `winner` a cell position in the round (not in a group) and `rejected`
    /// counting over every group walked, and returns `true`. The auction checks each pick as it
    /// reaches that work (a compatible cell with room, a total below 1e20, rejections that add
    /// up over the groups it walks) and calls `refuse_pick` at the first bad one. `sets` only
    /// grows during an auction (indices are stable). `false` (the default): the round does not
    /// place batches; the auction asks `pick` per placement.
    fn place_batch(
        &mut self,
        _works: &[BatchWork<'_>],
        _sets: &[CandidateSet<'_>],
        _budget: u32,
        _out: &mut Vec<Pick>,
    ) -> bool {
        false
    }

    /// The auction refused the last pick (`reason` says why): the round has failed, must
    /// report it in `failures` and answer the rest of the auction with its fallback.
    fn refuse_pick(&mut self, _reason: String) {}

    /// What failed in this round: a plugin whose call failed and whose remaining placements
    /// were scored by its fallback instead. The runner re-plans such an auction with the
    /// default scorer and records why.
    fn failures(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The round of a scorer without one: each cell through `Scorer::score`.
pub struct PerCellRound<'s, S: Scorer + ?Sized>(pub &'s S);

impl<S: Scorer + ?Sized> ScoreRound for PerCellRound<'_, S> {
    fn score(
        &mut self,
        work: &WorkView<'_>,
        _ids: &[u32],
        cells: &[CellView<'_>],
        out: &mut Vec<Option<ScoreParts>>,
    ) {
        out.extend(cells.iter().map(|cell| Some(self.0.score(cell, work))));
    }

    fn explain(
        &mut self,
        work: &WorkView<'_>,
        _ids: &[u32],
        cells: &[CellView<'_>],
    ) -> Vec<CellScore> {
        cells
            .iter()
            .map(|cell| CellScore::Scored {
                parts: self.0.score(cell, work),
                named: self.0.describe(cell, work),
            })
            .collect()
    }
}

/// Opens `scorer`'s own round, or the per-cell adapter when it has none.
pub fn open_round<'s>(
    scorer: &'s (dyn Scorer + Send + Sync),
    cells: &[&CellState],
) -> Box<dyn ScoreRound + 's> {
    match scorer.open_round(cells) {
        Some(round) => round,
        None => Box::new(PerCellRound(scorer)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(base: f64) -> ScoreParts {
        ScoreParts {
            resource: base,
            starting: base + 0.25,
            same_process: 1000.0,
            tasks: 0.0,
            bin_pack: base * 2.0,
            plugin: -0.5,
        }
    }

    #[test]
    fn columns_keep_each_candidates_parts_and_total() {
        let scored = [Some(parts(0.1)), None, Some(parts(0.7))];
        let mut columns = ScoreColumns::default();
        columns.fill(&scored);
        assert_eq!(columns.len(), 3);
        assert_eq!(columns.parts_of(0), parts(0.1));
        assert_eq!(columns.parts_of(2), parts(0.7));
        assert_eq!(columns.totals[0].to_bits(), parts(0.1).total().to_bits());
        assert_eq!(columns.totals[1], f64::INFINITY, "rejected never wins");
        // Out of range: zero terms, no panic.
        assert_eq!(columns.parts_of(3), ScoreParts::default());
    }

    #[test]
    fn totals_summed_from_columns_are_the_per_cell_totals_bit_for_bit() {
        let scored = [Some(parts(0.1)), Some(parts(1.0 / 3.0)), Some(parts(0.7))];
        let mut columns = ScoreColumns::default();
        columns.fill(&scored);
        columns.totals.clear();
        columns.sum_parts(3);
        for (i, answer) in scored.iter().enumerate() {
            let expected = answer.unwrap().total();
            assert_eq!(
                columns.totals[i].to_bits(),
                expected.to_bits(),
                "candidate {i}"
            );
        }
        // Parts of the wrong length: every candidate counts as rejected.
        columns.parts.pop();
        columns.sum_parts(3);
        assert_eq!(columns.totals, vec![f64::INFINITY; 3]);
    }
}
