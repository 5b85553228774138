//! The scoring seam. Lower scores win. `DiegoScorer` is Diego's formula, bit for bit (same
//! operations in the same order on `f64`); plugins (e.g. WASM scorers) implement `Scorer` and
//! either replace it or join it in a weighted `CompositeScorer`.

use crate::round::{
    BatchWork, CandidateSet, CellScore, Pick, ScoreColumns, ScoreRound, PART_COLUMNS,
};
use crate::types::{AuctionConfig, CellState, LrpStart, Resources, TaskStart};

/// Diego's `LocalityOffset`: the penalty per co-located instance (same process, or any task).
pub const LOCALITY_OFFSET: f64 = 1000.0;

/// A candidate cell as the scorer sees it: the reported state plus this batch's reservations.
#[derive(Debug, Clone, Copy)]
pub struct CellView<'a> {
    /// The cell as reported at batch start (tags, providers, reported lists, ...).
    pub cell: &'a CellState,
    /// Available now, after the reservations made earlier in this batch.
    pub available: Resources,
    pub total: Resources,
    /// Starting containers now (reported + reserved in this batch).
    pub starting_container_count: i32,
    /// LRP instances of the work's process guid on the cell now (0 when the work is a task).
    pub same_process_lrps: u32,
    /// Tasks on the cell now.
    pub tasks: u32,
    /// The cell's position in its zone by ascending reported `cell_index` (bin-pack first fit).
    pub bin_pack_index: i32,
    pub proxy_memory_mb: i32,
}

/// The work being placed.
#[derive(Debug, Clone, Copy)]
pub enum WorkView<'a> {
    Lrp(&'a LrpStart),
    Task(&'a TaskStart),
}

impl WorkView<'_> {
    pub fn memory_mb(&self) -> i32 {
        match self {
            WorkView::Lrp(lrp) => lrp.memory_mb,
            WorkView::Task(task) => task.memory_mb,
        }
    }

    pub fn disk_mb(&self) -> i32 {
        match self {
            WorkView::Lrp(lrp) => lrp.disk_mb,
            WorkView::Task(task) => task.disk_mb,
        }
    }
}

/// A score split into its terms so a decision can say why a cell won.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ScoreParts {
    /// Mean fraction of memory, disk and containers used after placing the work.
    pub resource: f64,
    /// `starting_container_count × starting_container_weight`.
    pub starting: f64,
    /// `1000 × LRPs of the same process guid on the cell` (LRPs only).
    pub same_process: f64,
    /// `1000 × tasks on the cell` (tasks only).
    pub tasks: f64,
    /// `bin_pack_index × bin_pack_first_fit_weight` (LRPs only).
    pub bin_pack: f64,
    /// Sum of weighted non-Diego scorers' totals.
    pub plugin: f64,
}

impl ScoreParts {
    /// Sums in Diego's order — `((resource + starting) + locality) + index` — so totals are
    /// bit-identical to upstream (the extra `+ 0.0` terms do not change a finite value).
    #[inline]
    pub fn total(&self) -> f64 {
        self.resource + self.starting + self.same_process + self.tasks + self.bin_pack + self.plugin
    }

    fn add_scaled(&mut self, other: &ScoreParts, weight: f64) {
        self.resource += weight * other.resource;
        self.starting += weight * other.starting;
        self.same_process += weight * other.same_process;
        self.tasks += weight * other.tasks;
        self.bin_pack += weight * other.bin_pack;
        self.plugin += weight * other.plugin;
    }
}

/// Scores one candidate cell for one piece of work. Only compatible cells with enough
/// resources are offered; lower totals win, ties go to the earlier cell in the seeded order.
pub trait Scorer {
    /// A short name used in explanations.
    fn name(&self) -> &str;

    fn score(&self, cell: &CellView<'_>, work: &WorkView<'_>) -> ScoreParts;

    /// `score(..).total()`; a scorer may compute it more directly but must return the same
    /// value, since the scheduler compares these and records `score` for the winner.
    #[inline]
    fn score_total(&self, cell: &CellView<'_>, work: &WorkView<'_>) -> f64 {
        self.score(cell, work).total()
    }

    /// Named contributions beyond `ScoreParts`, for explanations (asked only when
    /// `AuctionConfig::explain`). Default: none, so explaining costs no extra allocation.
    fn describe(&self, _cell: &CellView<'_>, _work: &WorkView<'_>) -> Vec<(String, f64)> {
        Vec::new()
    }

    /// Lets the scheduler take its statically dispatched fast path for the default scorer.
    fn as_diego(&self) -> Option<&DiegoScorer> {
        None
    }

    /// A round for one auction over `cells` (every participating cell, in the scheduler's
    /// order), for scorers that pay a cost per call and so want every candidate of a
    /// placement at once. `None` (the default) scores cell by cell through `score`.
    fn open_round(&self, _cells: &[&CellState]) -> Option<Box<dyn ScoreRound + '_>> {
        None
    }
}

/// Diego's formula (spec §8.3):
/// `resource_score = ((1 − (avail.mem − mem)/total.mem) + (1 − (avail.disk − disk)/total.disk)
///                    + (1 − (avail.containers − 1)/total.containers)) / 3
///                   + starting_container_count × starting_container_weight`;
/// LRPs add `1000 × same-process instances + bin_pack_index × bin_pack_first_fit_weight` and
/// score memory inflated by the cell's proxy overhead; tasks add `1000 × tasks on the cell`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiegoScorer {
    pub starting_container_weight: f64,
    pub bin_pack_first_fit_weight: f64,
}

impl DiegoScorer {
    pub fn from_config(config: &AuctionConfig) -> Self {
        Self {
            starting_container_weight: config.starting_container_weight,
            bin_pack_first_fit_weight: config.bin_pack_first_fit_weight,
        }
    }

    /// `Resources.ComputeScore` on the remaining resources. i64 keeps the subtraction exact
    /// where Go's int32 would wrap (only for absurd inputs). A zero total divides by zero to
    /// inf/NaN exactly as upstream (NaN never wins a `<` comparison).
    #[inline]
    fn resource_score(available: Resources, total: Resources, memory_mb: i64, disk_mb: i64) -> f64 {
        let remaining_memory_mb = i64::from(available.memory_mb) - memory_mb;
        let remaining_disk_mb = i64::from(available.disk_mb) - disk_mb;
        let remaining_containers = i64::from(available.containers) - 1;
        let used_memory = 1.0 - remaining_memory_mb as f64 / f64::from(total.memory_mb);
        let used_disk = 1.0 - remaining_disk_mb as f64 / f64::from(total.disk_mb);
        let used_containers = 1.0 - remaining_containers as f64 / f64::from(total.containers);
        (used_memory + used_disk + used_containers) / 3.0
    }
}

impl Default for DiegoScorer {
    fn default() -> Self {
        Self::from_config(&AuctionConfig::default())
    }
}

impl Scorer for DiegoScorer {
    fn name(&self) -> &str {
        "diego"
    }

    #[inline]
    fn score(&self, cell: &CellView<'_>, work: &WorkView<'_>) -> ScoreParts {
        let starting = f64::from(cell.starting_container_count) * self.starting_container_weight;
        match work {
            WorkView::Lrp(lrp) => {
                let memory_mb = i64::from(lrp.memory_mb) + i64::from(cell.proxy_memory_mb);
                ScoreParts {
                    resource: Self::resource_score(
                        cell.available,
                        cell.total,
                        memory_mb,
                        i64::from(lrp.disk_mb),
                    ),
                    starting,
                    same_process: LOCALITY_OFFSET * f64::from(cell.same_process_lrps),
                    bin_pack: f64::from(cell.bin_pack_index) * self.bin_pack_first_fit_weight,
                    ..ScoreParts::default()
                }
            }
            WorkView::Task(task) => ScoreParts {
                resource: Self::resource_score(
                    cell.available,
                    cell.total,
                    i64::from(task.memory_mb),
                    i64::from(task.disk_mb),
                ),
                starting,
                tasks: LOCALITY_OFFSET * f64::from(cell.tasks),
                ..ScoreParts::default()
            },
        }
    }

    /// The same sums as `score(..).total()` minus the zero terms (adding `0.0` never changes
    /// a sum's value), without building the parts: this is the scheduler's hot loop.
    #[inline]
    fn score_total(&self, cell: &CellView<'_>, work: &WorkView<'_>) -> f64 {
        let starting = f64::from(cell.starting_container_count) * self.starting_container_weight;
        match work {
            WorkView::Lrp(lrp) => {
                let memory_mb = i64::from(lrp.memory_mb) + i64::from(cell.proxy_memory_mb);
                let disk_mb = i64::from(lrp.disk_mb);
                Self::resource_score(cell.available, cell.total, memory_mb, disk_mb)
                    + starting
                    + LOCALITY_OFFSET * f64::from(cell.same_process_lrps)
                    + f64::from(cell.bin_pack_index) * self.bin_pack_first_fit_weight
            }
            WorkView::Task(task) => {
                let (memory_mb, disk_mb) = (i64::from(task.memory_mb), i64::from(task.disk_mb));
                Self::resource_score(cell.available, cell.total, memory_mb, disk_mb)
                    + starting
                    + LOCALITY_OFFSET * f64::from(cell.tasks)
            }
        }
    }

    fn as_diego(&self) -> Option<&DiegoScorer> {
        Some(self)
    }
}

/// A weighted sum of scorers. Diego components keep their term breakdown (scaled); every
/// other component's total lands, scaled, in `ScoreParts::plugin`.
#[derive(Default)]
pub struct CompositeScorer {
    parts: Vec<(f64, Box<dyn Scorer + Send + Sync>)>,
}

impl CompositeScorer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, weight: f64, scorer: Box<dyn Scorer + Send + Sync>) -> Self {
        self.parts.push((weight, scorer));
        self
    }
}

impl Scorer for CompositeScorer {
    fn name(&self) -> &str {
        "composite"
    }

    fn score(&self, cell: &CellView<'_>, work: &WorkView<'_>) -> ScoreParts {
        let mut sum = ScoreParts::default();
        for (weight, scorer) in &self.parts {
            let parts = scorer.score(cell, work);
            if scorer.as_diego().is_some() {
                sum.add_scaled(&parts, *weight);
            } else {
                sum.plugin += weight * parts.total();
            }
        }
        sum
    }

    fn describe(&self, cell: &CellView<'_>, work: &WorkView<'_>) -> Vec<(String, f64)> {
        self.parts
            .iter()
            .map(|(weight, scorer)| {
                let name = format!("{}×{}", weight, scorer.name());
                (name, weight * scorer.score(cell, work).total())
            })
            .collect()
    }

    /// A composite with a batch member (a plugin) scores in rounds: each member once per
    /// placement, through its own round or the per-cell adapter.
    fn open_round(&self, cells: &[&CellState]) -> Option<Box<dyn ScoreRound + '_>> {
        let mut opened = Vec::with_capacity(self.parts.len());
        let mut any_round = false;
        for (weight, scorer) in &self.parts {
            let round = scorer.open_round(cells);
            any_round |= round.is_some();
            opened.push(Member {
                weight: *weight,
                diego: scorer.as_diego().is_some(),
                label: format!("{}×{}", weight, scorer.name()),
                round: round
                    .unwrap_or_else(|| Box::new(crate::round::PerCellRound(scorer.as_ref()))),
                totals: Vec::new(),
            });
        }
        if !any_round {
            return None;
        }
        Some(Box::new(CompositeRound {
            members: opened,
            scratch: Vec::new(),
            columns: ScoreColumns::default(),
            rejected: Vec::new(),
        }))
    }
}

struct Member<'s> {
    weight: f64,
    diego: bool,
    label: String,
    round: Box<dyn ScoreRound + 's>,
    /// Weighted totals of the last `score` call, by position (for the winner's terms).
    totals: Vec<f64>,
}

impl Member<'_> {
    fn add(&self, sum: &mut ScoreParts, parts: &ScoreParts) {
        if self.diego {
            sum.add_scaled(parts, self.weight);
        } else {
            sum.plugin += self.weight * parts.total();
        }
    }
}

/// The weighted sum of the members' rounds; a cell any member rejects is rejected.
struct CompositeRound<'s> {
    members: Vec<Member<'s>>,
    scratch: Vec<Option<ScoreParts>>,
    /// One member's columnar answer (`score_columns`).
    columns: ScoreColumns,
    /// Candidates some member rejected in this call.
    rejected: Vec<bool>,
}

impl ScoreRound for CompositeRound<'_> {
    fn score(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
        out: &mut Vec<Option<ScoreParts>>,
    ) {
        let start = out.len();
        out.resize(start + cells.len(), Some(ScoreParts::default()));
        for member in &mut self.members {
            self.scratch.clear();
            member.round.score(work, ids, cells, &mut self.scratch);
            member.totals.clear();
            for (sum, parts) in out[start..].iter_mut().zip(&self.scratch) {
                match (sum.as_mut(), parts) {
                    (Some(sum), Some(parts)) => {
                        member.add(sum, parts);
                        member.totals.push(member.weight * parts.total());
                    }
                    (_, None) => {
                        *sum = None;
                        member.totals.push(f64::INFINITY);
                    }
                    (None, Some(parts)) => member.totals.push(member.weight * parts.total()),
                }
            }
        }
    }

    /// The members' columns summed column by column, as `score` sums their parts: the same
    /// additions in the same order, so the totals (and the plan) are the same bit for bit,
    /// and a member that answers in columns (a WASM plugin) keeps its fast path.
    fn score_columns(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
        out: &mut ScoreColumns,
    ) {
        let n = cells.len();
        out.parts.clear();
        out.parts.resize(PART_COLUMNS * n, 0.0);
        self.rejected.clear();
        self.rejected.resize(n, false);
        let plugin_column = (PART_COLUMNS - 1) * n;
        for member in &mut self.members {
            member
                .round
                .score_columns(work, ids, cells, &mut self.columns);
            let answer = &self.columns;
            // an answer of the wrong length rejects every candidate, as a round that fails
            let complete = answer.len() == n && answer.parts.len() == PART_COLUMNS * n;
            member.totals.clear();
            for i in 0..n {
                let total = if complete {
                    answer.totals[i]
                } else {
                    f64::INFINITY
                };
                if total == f64::INFINITY {
                    self.rejected[i] = true;
                    member.totals.push(f64::INFINITY);
                    continue;
                }
                member.totals.push(member.weight * total);
                if member.diego {
                    for c in 0..PART_COLUMNS {
                        out.parts[c * n + i] += member.weight * answer.parts[c * n + i];
                    }
                } else {
                    out.parts[plugin_column + i] += member.weight * total;
                }
            }
        }
        out.sum_parts(n);
        for (total, rejected) in out.totals.iter_mut().zip(&self.rejected) {
            if *rejected {
                *total = f64::INFINITY;
            }
        }
    }

    fn explain(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
    ) -> Vec<CellScore> {
        let mut out: Vec<CellScore> = cells
            .iter()
            .map(|_| CellScore::Scored {
                parts: ScoreParts::default(),
                named: Vec::new(),
            })
            .collect();
        for member in &mut self.members {
            let verdicts = member.round.explain(work, ids, cells);
            member.totals.clear();
            member.totals.extend(verdicts.iter().map(|v| match v {
                CellScore::Scored { parts, .. } => member.weight * parts.total(),
                CellScore::Rejected(_) => f64::INFINITY,
            }));
            for (acc, verdict) in out.iter_mut().zip(verdicts) {
                match (acc, verdict) {
                    (
                        CellScore::Scored { parts, named },
                        CellScore::Scored { parts: p, named: n },
                    ) => {
                        member.add(parts, &p);
                        named.push((member.label.clone(), member.weight * p.total()));
                        // A plugin's own terms, unweighted, under its label.
                        if !member.diego {
                            named.extend(
                                n.into_iter()
                                    .map(|(k, v)| (format!("{}.{k}", member.label), v)),
                            );
                        }
                    }
                    (acc @ CellScore::Scored { .. }, CellScore::Rejected(reason)) => {
                        *acc = CellScore::Rejected(format!("{}: {reason}", member.label));
                    }
                    (CellScore::Rejected(_), _) => {}
                }
            }
        }
        out
    }

    /// A composite of one plugin at weight 1 (the auctioneer's `--diego-scorer-weight 0`
    /// with one `--scorer`) lets the plugin pick (ADR 0026): its total is the composite's
    /// total (`0 + 1 × total`), so the winner is the one the sum would choose, and the
    /// winner's parts are what `score_columns` would give (everything in `plugin`). With
    /// any other mix the sum needs every candidate's score: no pick.
    fn pick(&mut self, work: &WorkView<'_>, candidates: &[u32]) -> Option<Pick> {
        let [member] = self.members.as_mut_slice() else {
            return None;
        };
        if member.diego || member.weight != 1.0 {
            return None;
        }
        let pick = member.round.pick(work, candidates)?;
        let total = member.weight * pick.parts.total();
        member.totals.clear();
        if let Some(position) = pick.winner {
            member.totals.resize(position as usize + 1, f64::INFINITY);
            member.totals[position as usize] = total;
        }
        Some(Pick {
            parts: ScoreParts {
                plugin: total,
                ..ScoreParts::default()
            },
            ..pick
        })
    }

    /// The same lone plugin at weight 1 places batches (ADR 0029) for the same reason; the
    /// winners' parts go to `plugin`, and each work's total is kept by its index in the batch
    /// (what `terms` is asked for).
    fn place_batch(
        &mut self,
        works: &[BatchWork<'_>],
        sets: &[CandidateSet<'_>],
        budget: u32,
        out: &mut Vec<Pick>,
    ) -> bool {
        let [member] = self.members.as_mut_slice() else {
            return false;
        };
        if member.diego || member.weight != 1.0 {
            return false;
        }
        let start = out.len();
        if !member.round.place_batch(works, sets, budget, out) {
            return false;
        }
        member.totals.clear();
        for pick in &mut out[start..] {
            let total = member.weight * pick.parts.total();
            member.totals.push(match pick.winner {
                Some(_) => total,
                None => f64::INFINITY,
            });
            pick.parts = ScoreParts {
                plugin: total,
                ..ScoreParts::default()
            };
        }
        true
    }

    fn refuse_pick(&mut self, reason: String) {
        for member in &mut self.members {
            member.round.refuse_pick(reason.clone());
        }
    }

    fn terms(&self, position: usize) -> Vec<(String, f64)> {
        self.members
            .iter()
            .filter_map(|m| Some((m.label.clone(), *m.totals.get(position)?)))
            .collect()
    }

    fn failures(&self) -> Vec<String> {
        self.members
            .iter()
            .flat_map(|m| m.round.failures())
            .collect()
    }
}
