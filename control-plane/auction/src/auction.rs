//! The per-batch scheduler state and the placement of one LRP or one task (spec §8.3).

use crate::error::PlacementError;
use crate::explain::{CellVerdict, Decision, Outcome, Tally, Verdict, WorkId};
use crate::filter::{Compat, Constraint};
use crate::hash::FxHashMap;
use crate::round::{CellScore, Pick, ScoreColumns, ScoreRound};
use crate::score::{CellView, ScoreParts, Scorer, WorkView};
use crate::types::{AuctionConfig, LrpStart, Resources, TaskStart};
use crate::walk::{shortfall, Best, Candidates};
use crate::zones::{order_zones, Layout, ProcessCounts};

/// The mutable part of a cell during a batch, packed together for the scoring loop.
#[derive(Clone, Copy)]
pub(crate) struct CellRt {
    pub(crate) available: Resources,
    pub(crate) total: Resources,
    pub(crate) starting_container_count: i32,
    pub(crate) tasks: u32,
    pub(crate) bin_pack_index: i32,
    pub(crate) proxy_memory_mb: i32,
    pub(crate) zone: u32,
}

pub(crate) struct Auction<'a, 'w, 'c, S: Scorer + ?Sized> {
    pub(crate) layout: Layout<'a>,
    pub(crate) cells: Vec<CellRt>,
    processes: ProcessCounts<'w>,
    compat_ids: FxHashMap<String, usize>,
    pub(crate) compat: Vec<Compat>,
    key_buf: String,
    /// Dense per-cell scratch: instances of the current work's process on each cell. Filled
    /// from the sparse per-process list before a placement and zeroed after it.
    pub(crate) same_process: Vec<u32>,
    zone_order: Vec<(u32, usize)>,
    inflight: i64,
    pub(crate) config: &'c AuctionConfig,
    pub(crate) scorer: &'c S,
    /// The scorer's round when it scores in batches (plugins); `None` scores cell by cell.
    pub(crate) round: Option<Box<dyn ScoreRound + 'c>>,
    /// Round mode without explanations: the round is asked to pick winners first (ADR 0026).
    pub(crate) picking: bool,
    /// Picking rounds are first asked to place batches of works (ADR 0029); off once a round
    /// does not, or once a pick was refused.
    pub(crate) batching: bool,
    /// The current batch's picks not used yet, in work order: each with its work's
    /// compatibility entry and its index in the batch.
    pub(crate) queue: std::collections::VecDeque<Queued>,
    pub(crate) batch: BatchScratch,
    /// The views of a batch call's candidates, kept to reuse the allocation.
    pub(crate) views: Vec<CellView<'a>>,
    pub decisions: Vec<Decision>,
}

/// A batch pick waiting for its work (ADR 0029).
#[derive(Clone, Copy)]
pub(crate) struct Queued {
    pub(crate) pick: Pick,
    /// The work's entry in `Auction::compat` (its candidate set).
    pub(crate) compat: usize,
    /// The work's index in its batch (what a composite round's `terms` is asked for).
    pub(crate) index: u32,
}

/// Dense per-cell results of the current placement's batch call (round mode only).
#[derive(Default)]
pub(crate) struct BatchScratch {
    pub(crate) candidates: Vec<u32>,
    pub(crate) ids: Vec<u32>,
    /// The last batch call's answer by position; the winner's parts are read from it.
    pub(crate) columns: ScoreColumns,
    /// Totals by cell id; `+inf` for a rejected cell, which never wins.
    pub(crate) total: Vec<f64>,
    /// Position of the cell in the batch call, for its parts and per-scorer terms.
    pub(crate) position: Vec<u32>,
    pub(crate) explained: Vec<Option<CellScore>>,
    /// The round's checked pick of the current placement: the winner and its parts.
    pub(crate) picked: Option<(u32, ScoreParts)>,
}

impl<'a, 'w, 'c, S: Scorer + ?Sized> Auction<'a, 'w, 'c, S> {
    pub fn new(
        layout: Layout<'a>,
        batch_lrps: &'w [LrpStart],
        config: &'c AuctionConfig,
        scorer: &'c S,
    ) -> Self {
        let cells: Vec<CellRt> = layout
            .cells
            .iter()
            .enumerate()
            .map(|(id, cell)| CellRt {
                available: cell.available,
                total: cell.total,
                starting_container_count: cell.starting_container_count,
                tasks: cell.task_guids.len() as u32,
                bin_pack_index: layout.bin_pack_index[id],
                proxy_memory_mb: cell.proxy_memory_mb,
                zone: layout.zone_of[id],
            })
            .collect();
        let inflight = cells
            .iter()
            .map(|c| i64::from(c.starting_container_count))
            .sum();
        let round = scorer.open_round(&layout.cells);
        let batch = match round {
            Some(_) => BatchScratch {
                total: vec![f64::INFINITY; cells.len()],
                position: vec![0; cells.len()],
                explained: vec![None; cells.len()],
                ..BatchScratch::default()
            },
            None => BatchScratch::default(),
        };
        Self {
            picking: round.is_some() && !config.explain,
            batching: round.is_some() && !config.explain,
            queue: std::collections::VecDeque::new(),
            round,
            batch,
            views: Vec::new(),
            processes: ProcessCounts::new(&layout, batch_lrps),
            same_process: vec![0; cells.len()],
            cells,
            layout,
            compat_ids: FxHashMap::default(),
            compat: Vec::new(),
            key_buf: String::new(),
            zone_order: Vec::new(),
            inflight,
            config,
            scorer,
            decisions: Vec::new(),
        }
    }

    /// Ends the batch: the decisions, the scorer failures of the round, and the reported
    /// cell id of every scheduler cell id.
    pub fn finish(self) -> (Vec<Decision>, Vec<String>, Vec<&'a str>) {
        let ids = self
            .layout
            .cells
            .iter()
            .map(|c| c.cell_id.as_str())
            .collect();
        let failures = self
            .round
            .as_ref()
            .map(|r| r.failures())
            .unwrap_or_default();
        (self.decisions, failures, ids)
    }

    /// The reported cell id of a scheduler cell id.
    pub fn cell_id(&self, id: u32) -> &'a str {
        self.layout.cells[id as usize].cell_id.as_str()
    }

    pub(crate) fn inflight_limit_reached(&self) -> bool {
        let maximum = self.config.starting_container_count_maximum;
        maximum > 0 && self.inflight >= i64::from(maximum)
    }

    /// Placements left before the in-flight limit; `u32::MAX` without a limit.
    pub(crate) fn inflight_budget(&self) -> u32 {
        let maximum = self.config.starting_container_count_maximum;
        if maximum <= 0 {
            return u32::MAX;
        }
        (i64::from(maximum) - self.inflight).clamp(0, i64::from(u32::MAX)) as u32
    }

    /// Index of the compatibility entry for a constraint signature, built on first use.
    pub(crate) fn compat_index(
        &mut self,
        rootfs: &str,
        drivers: &[String],
        tags: &[String],
    ) -> usize {
        // NUL and SOH cannot occur in guids' constraint strings that matter, and even if they
        // did the only effect would be two signatures sharing a key with identical constraints.
        self.key_buf.clear();
        self.key_buf.push_str(rootfs);
        for list in [drivers, tags] {
            self.key_buf.push('\0');
            for item in list {
                self.key_buf.push_str(item);
                self.key_buf.push('\u{1}');
            }
        }
        if let Some(&index) = self.compat_ids.get(self.key_buf.as_str()) {
            return index;
        }
        let layout = &self.layout;
        let entry = Compat::build(
            &layout.cells,
            &layout.zone_of,
            layout.zone_count,
            rootfs,
            drivers,
            tags,
        );
        self.compat.push(entry);
        self.compat_ids
            .insert(self.key_buf.clone(), self.compat.len() - 1);
        self.compat.len() - 1
    }

    fn filtered_verdicts(&self, compat: usize) -> Vec<CellVerdict> {
        self.compat[compat]
            .failures
            .iter()
            .enumerate()
            .filter_map(|(id, failure)| {
                failure.map(|constraint: Constraint| CellVerdict {
                    cell_id: self.layout.cells[id].cell_id.clone(),
                    verdict: Verdict::Filtered(constraint),
                })
            })
            .collect()
    }

    fn record(
        &mut self,
        work: WorkId,
        result: Result<(u32, ScoreParts), PlacementError>,
        tally: Tally,
        cells: Vec<CellVerdict>,
    ) -> Result<u32, PlacementError> {
        let mut scorers = Vec::new();
        let (outcome, result) = match result {
            Ok((cell, score)) => {
                if let Some(round) = &self.round {
                    scorers = round.terms(self.batch.position[cell as usize] as usize);
                }
                let outcome = Outcome::Placed {
                    cell_id: self.cell_id(cell).to_owned(),
                    score,
                };
                (outcome, Ok(cell))
            }
            Err(error) => (Outcome::Failed(error.clone()), Err(error)),
        };
        self.decisions.push(Decision {
            work,
            outcome,
            tally,
            cells,
            scorers,
            notes: Vec::new(),
        });
        result
    }

    fn reserve(&mut self, id: u32, memory_mb: i32, disk_mb: i32) {
        let cell = &mut self.cells[id as usize];
        debug_assert!(shortfall(cell.available, memory_mb, disk_mb).is_empty());
        cell.available.memory_mb -= memory_mb;
        cell.available.disk_mb -= disk_mb;
        cell.available.containers -= 1;
        cell.starting_container_count += 1;
        self.inflight += 1;
    }

    /// Places `order[at]`, the auction's works being `order`. A round that places batches
    /// (ADR 0029) is sent the next batch of `order[at..]` when the previous one is used up.
    pub fn place(&mut self, order: &[WorkView<'_>], at: usize) -> Result<u32, PlacementError> {
        if self.batching && self.queue.is_empty() {
            self.fetch_batch(&order[at..]);
        }
        let queued = if self.batching {
            self.queue.pop_front()
        } else {
            None
        };
        match order[at] {
            WorkView::Lrp(lrp) => self.place_lrp(lrp, queued),
            WorkView::Task(task) => self.place_task(task, queued),
        }
    }

    fn place_lrp(&mut self, lrp: &LrpStart, queued: Option<Queued>) -> Result<u32, PlacementError> {
        let work_id = WorkId::Lrp {
            process_guid: lrp.process_guid.clone(),
            index: lrp.index,
        };
        let mut tally = Tally::default();
        if self.inflight_limit_reached() {
            return self.record(
                work_id,
                Err(PlacementError::InflightLimit),
                tally,
                Vec::new(),
            );
        }
        let compat = match queued {
            Some(queued) => queued.compat,
            None => self.compat_index(&lrp.rootfs, &lrp.volume_drivers, &lrp.placement_tags),
        };
        let mut verdicts = if self.config.explain {
            self.filtered_verdicts(compat)
        } else {
            Vec::new()
        };
        let entry = &self.compat[compat];
        tally.filtered_rootfs = entry.filtered_rootfs;
        tally.filtered_volume_drivers = entry.filtered_volume_drivers;
        tally.filtered_placement_tags = entry.filtered_placement_tags;
        if entry.all.is_empty() {
            let error = entry.mismatch_error(&lrp.placement_tags);
            self.refuse_if_placed(queued);
            return self.record(work_id, Err(error), tally, verdicts);
        }

        let process = self.processes.id(&lrp.process_guid);
        for &(cell, count) in self.processes.cell_counts(process) {
            self.same_process[cell as usize] = count;
        }
        let mut zone_order = std::mem::take(&mut self.zone_order);
        order_zones(
            &entry.zones,
            self.processes.zone_counts(process),
            &mut zone_order,
        );

        let work = WorkView::Lrp(lrp);
        let mut best = Best::new();
        let mut walked = zone_order.len();
        // Round mode: one batch call per group of tied zones, made when the walk reaches the
        // group, so cells of zones the walk never reaches are not scored (as natively).
        let mut group_end = 0;
        // The current group's winner was picked by the round (ADR 0026), not scored here.
        let mut picked = false;
        self.batch.picked = None;
        // A batch pick (ADR 0029), checked over the walk; refused, the walk below scores.
        let from_batch = queued.and_then(|queued| {
            let candidates = Candidates::Zones(&zone_order);
            self.take_batch_pick(queued, compat, candidates, &work, &mut best, &mut tally)
        });
        if let Some(zones_walked) = from_batch {
            walked = zones_walked;
        }
        let walk = if from_batch.is_some() {
            &zone_order[..0]
        } else {
            &zone_order[..]
        };
        for (position, &(count, zone)) in walk.iter().enumerate() {
            if self.round.is_some() && position >= group_end {
                group_end = position
                    + zone_order[position..]
                        .iter()
                        .take_while(|z| z.0 == count)
                        .count();
                let mut candidates = std::mem::take(&mut self.batch.candidates);
                candidates.clear();
                let zones = &self.compat[compat].zones;
                for &(_, tied) in &zone_order[position..group_end] {
                    candidates.extend_from_slice(&zones[tied].1);
                }
                picked = self.picking && self.pick(&candidates, &work, &mut best, &mut tally);
                if !picked {
                    self.prescore(&candidates, &work);
                }
                self.batch.candidates = candidates;
            }
            if !picked {
                let candidates = &self.compat[compat].zones[zone].1;
                self.score_cells(candidates, &work, &mut best, &mut tally, &mut verdicts);
            }
            // Zones tied on instance count compete together; otherwise the first zone (in
            // ascending count) that produced a winner ends the walk.
            let tied_with_next = zone_order
                .get(position + 1)
                .is_some_and(|next| next.0 == count);
            if !tied_with_next && best.id.is_some() {
                walked = position + 1;
                break;
            }
        }
        let entry = &self.compat[compat];
        for &(_, zone) in &zone_order[walked..] {
            let skipped = &entry.zones[zone].1;
            tally.zone_skipped += skipped.len() as u32;
            if self.config.explain {
                verdicts.extend(skipped.iter().map(|&id| CellVerdict {
                    cell_id: self.layout.cells[id as usize].cell_id.clone(),
                    verdict: Verdict::ZoneSkipped,
                }));
            }
        }
        self.zone_order = zone_order;

        // The winner's parts before the process's counts are cleared: a native scorer scores
        // the winner again, and its same-process term must see them.
        let won = self.winner(&best, &work);
        for &(cell, _) in self.processes.cell_counts(process) {
            self.same_process[cell as usize] = 0;
        }
        let (winner, parts) = match won {
            Ok(won) => won,
            Err(error) => return self.record(work_id, Err(error), tally, verdicts),
        };
        self.reserve(winner, lrp.memory_mb, lrp.disk_mb);
        let zone = self.cells[winner as usize].zone;
        self.processes.add(process, winner, zone);
        self.record(work_id, Ok((winner, parts)), tally, verdicts)
    }

    fn place_task(
        &mut self,
        task: &TaskStart,
        queued: Option<Queued>,
    ) -> Result<u32, PlacementError> {
        let work_id = WorkId::Task {
            task_guid: task.task_guid.clone(),
        };
        let mut tally = Tally::default();
        if self.inflight_limit_reached() {
            return self.record(
                work_id,
                Err(PlacementError::InflightLimit),
                tally,
                Vec::new(),
            );
        }
        let compat = match queued {
            Some(queued) => queued.compat,
            None => self.compat_index(&task.rootfs, &task.volume_drivers, &task.placement_tags),
        };
        let mut verdicts = if self.config.explain {
            self.filtered_verdicts(compat)
        } else {
            Vec::new()
        };
        let entry = &self.compat[compat];
        tally.filtered_rootfs = entry.filtered_rootfs;
        tally.filtered_volume_drivers = entry.filtered_volume_drivers;
        tally.filtered_placement_tags = entry.filtered_placement_tags;
        if entry.all.is_empty() {
            let error = entry.mismatch_error(&task.placement_tags);
            self.refuse_if_placed(queued);
            return self.record(work_id, Err(error), tally, verdicts);
        }
        // Tasks ignore zones: every compatible cell competes on score.
        let mut best = Best::new();
        let work = WorkView::Task(task);
        let mut picked = false;
        self.batch.picked = None;
        let from_batch = queued.and_then(|queued| {
            let candidates = Candidates::All;
            self.take_batch_pick(queued, compat, candidates, &work, &mut best, &mut tally)
        });
        if from_batch.is_some() {
            picked = true;
        } else if self.round.is_some() {
            let mut candidates = std::mem::take(&mut self.batch.candidates);
            candidates.clear();
            candidates.extend_from_slice(&self.compat[compat].all);
            picked = self.picking && self.pick(&candidates, &work, &mut best, &mut tally);
            if !picked {
                self.prescore(&candidates, &work);
            }
            self.batch.candidates = candidates;
        }
        if !picked {
            let entry = &self.compat[compat];
            self.score_cells(&entry.all, &work, &mut best, &mut tally, &mut verdicts);
        }
        let (winner, parts) = match self.winner(&best, &work) {
            Ok(won) => won,
            Err(error) => return self.record(work_id, Err(error), tally, verdicts),
        };
        self.reserve(winner, task.memory_mb, task.disk_mb);
        self.cells[winner as usize].tasks += 1;
        self.record(work_id, Ok((winner, parts)), tally, verdicts)
    }
}
