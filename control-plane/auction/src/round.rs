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
