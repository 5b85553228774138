//! The round's loads kept by the guest (0.4.0 and 0.5.0; ADRs 0026 and 0029): the host sends
//! them once and every pick reserves its work here, as the auction does on its side; and the
//! walk's inner loop (room check, scoring, the strict minimum below Diego's no-winner score),
//! shared by 0.4's `place` (one group) and 0.5's `place-batch` (the whole walk).

use crate::{Cell, CellLoad, Resources, Scorer, Work};

/// Diego's no-winner score: a total must be below it to win (as the host's walk).
const NO_WINNER_SCORE: f64 = 1e20;

/// One cell's load now.
#[derive(Clone, Copy)]
pub(crate) struct CellNow {
    pub(crate) available: Resources,
    pub(crate) starting: i32,
    pub(crate) tasks: u32,
    pub(crate) bin_pack_index: i32,
}

/// The loads of a round's cells at its start, columnar (the WIT's `cells`' last six columns).
pub(crate) struct LoadColumns<'a> {
    pub(crate) available_memory_mb: &'a [i32],
    pub(crate) available_disk_mb: &'a [i32],
    pub(crate) available_containers: &'a [i32],
    pub(crate) starting_container_count: &'a [i32],
    pub(crate) tasks: &'a [i32],
    pub(crate) bin_pack_index: &'a [i32],
}

/// The running minimum of one work's walk.
pub(crate) struct Best {
    total: f64,
    /// (position in the last candidates walked, cell position)
    pub(crate) winner: Option<(u32, usize)>,
    pub(crate) rejected: u32,
}

impl Best {
    pub(crate) fn new() -> Self {
        Best {
            total: NO_WINNER_SCORE,
            winner: None,
            rejected: 0,
        }
    }
}

/// The round's loads now, and the instances of each process seen so far.
pub(crate) struct Kept {
    /// By cell position; one record per cell, so a candidate costs one lookup.
    pub(crate) now: Vec<CellNow>,
    /// Instances per cell of each process, by the guid's string index (a lookup per
    /// placement: an index, not a hash).
    processes: Vec<Option<Vec<u32>>>,
    /// Instances per zone of each process, by the guid's string index (0.5's zone order).
    process_zones: Vec<Option<Vec<u32>>>,
    /// Each cell's zone, numbered by first appearance.
    pub(crate) zone_of: Vec<u32>,
    zone_count: usize,
    /// One zero per cell (and per zone): the instances of a process with none yet, and a
    /// task's.
    zeros: Vec<u32>,
}

impl Kept {
    /// `zones[i]` names cell `i`'s zone (any numbering: a string index).
    pub(crate) fn new(n: usize, loads: LoadColumns<'_>, zones: &[u32]) -> Self {
        // A short column reads as zeros.
        let at = |column: &[i32], i: usize| column.get(i).copied().unwrap_or(0);
        let now = (0..n)
            .map(|i| CellNow {
                available: Resources {
                    memory_mb: at(loads.available_memory_mb, i),
                    disk_mb: at(loads.available_disk_mb, i),
                    containers: at(loads.available_containers, i),
                },
                starting: at(loads.starting_container_count, i),
                tasks: at(loads.tasks, i).max(0) as u32,
                bin_pack_index: at(loads.bin_pack_index, i),
            })
            .collect();
        let mut names: Vec<u32> = Vec::new();
        let zone_of = (0..n)
            .map(|i| {
                let name = zones.get(i).copied().unwrap_or(u32::MAX);
                match names.iter().position(|&z| z == name) {
                    Some(zone) => zone as u32,
                    None => {
                        names.push(name);
                        names.len() as u32 - 1
                    }
                }
            })
            .collect();
        Kept {
            now,
            processes: Vec::new(),
            process_zones: Vec::new(),
            zone_of,
            zone_count: names.len(),
            zeros: vec![0; n.max(names.len())],
        }
    }

    fn counts_mut(table: &mut Vec<Option<Vec<u32>>>, guid: u32, n: usize) -> &mut Vec<u32> {
        let guid = guid as usize;
        if table.len() <= guid {
            table.resize(guid + 1, None);
        }
        table[guid].get_or_insert_with(|| vec![0; n])
    }

    /// Adds `count` instances of process `guid` on cell `cell` (a position outside the
    /// round is ignored: only a broken host sends one).
    pub(crate) fn add_instances(&mut self, guid: u32, cell: u32, count: u32) {
        let (n, zones) = (self.now.len(), self.zone_count);
        let Some(&zone) = self.zone_of.get(cell as usize) else {
            return;
        };
        Self::counts_mut(&mut self.processes, guid, n)[cell as usize] += count;
        Self::counts_mut(&mut self.process_zones, guid, zones)[zone as usize] += count;
    }

    /// Instances of the work's process per cell (zeros for a task or a process with none):
    /// one per cell, exactly.
    pub(crate) fn same_process(&self, lrp: bool, guid: u32) -> &[u32] {
        match (lrp, self.processes.get(guid as usize)) {
            (true, Some(Some(counts))) => counts,
            _ => &self.zeros[..self.now.len()],
        }
    }

    /// The cell positions of `cells` that are in the round (the host never sends others):
    /// what the walk may index without a check.
    pub(crate) fn in_round(&self, mut cells: Vec<u32>) -> Vec<u32> {
        let n = self.now.len();
        cells.retain(|&c| (c as usize) < n);
        cells
    }

    /// Instances of the process per zone (zeros for one with none).
    pub(crate) fn zone_counts(&self, guid: u32) -> &[u32] {
        match self.process_zones.get(guid as usize) {
            Some(Some(counts)) => counts,
            _ => &self.zeros,
        }
    }

    /// One candidate's load for the scorer.
    #[inline(always)]
    pub(crate) fn load(&self, c: usize, same_process: &[u32]) -> CellLoad {
        let now = &self.now[c];
        CellLoad {
            cell: c as u32,
            available: now.available,
            starting_container_count: now.starting,
            same_process_lrps: same_process.get(c).copied().unwrap_or(0),
            tasks: now.tasks,
            bin_pack_index: now.bin_pack_index,
        }
    }

    /// The walk's inner loop over `candidates` (cell positions in the round, in the walk's
    /// order; see `in_round`): the candidates with room for the work are scored and the first
    /// strict minimum below Diego's no-winner score is kept in `best` (with its position in
    /// `candidates`). Only totals are compared; the winner's parts are scored once afterwards. A
    /// NaN total traps: the host would not see it among the losers.
    #[inline(always)]
    pub(crate) fn walk<S: Scorer>(
        &self,
        scorer: &S,
        facts: &[Cell],
        work: &Work<'_>,
        same_process: &[u32],
        candidates: &[u32],
        best: &mut Best,
    ) {
        let (memory_mb, disk_mb) = (work.memory_mb, work.disk_mb);
        // Three slices of one length and a position clamped below it: the compiler drops the
        // per-candidate bounds checks (the clamp never changes a position of the round).
        let n = self.now.len();
        let (Some(last), true, true) =
            (n.checked_sub(1), facts.len() == n, same_process.len() == n)
        else {
            return;
        };
        let (now_all, facts, same_process) = (&self.now[..n], &facts[..n], &same_process[..n]);
        for (position, &cell) in candidates.iter().enumerate() {
            let c = (cell as usize).min(last);
            let (now, cell_facts) = (&now_all[c], &facts[c]);
            // The host's room check (`ResourceMatch`), in one branch: no room, no score.
            let available = now.available;
            if (available.disk_mb < disk_mb)
                | (available.memory_mb < memory_mb)
                | (available.containers < 1)
            {
                continue;
            }
            let load = CellLoad {
                cell,
                available,
                starting_container_count: now.starting,
                same_process_lrps: same_process[c],
                tasks: now.tasks,
                bin_pack_index: now.bin_pack_index,
            };
            match scorer.total(work, cell_facts, &load) {
                Some(total) => {
                    if total < best.total {
                        best.total = total;
                        best.winner = Some((position as u32, c));
                    } else if total == f64::INFINITY {
                        best.rejected += 1;
                    } else if total.is_nan() {
                        panic!("score total of cell {} is NaN", cell_facts.cell_id);
                    }
                }
                None => best.rejected += 1,
            }
        }
    }

    /// Reserves the work on cell `c`, as the auction does: its memory and disk, one
    /// container, one more starting; one more instance of the process, or one more task.
    pub(crate) fn reserve(&mut self, c: usize, work: &Work<'_>, lrp: bool, guid: u32) {
        let Some(now) = self.now.get_mut(c) else {
            return;
        };
        now.available.memory_mb -= work.memory_mb;
        now.available.disk_mb -= work.disk_mb;
        now.available.containers -= 1;
        now.starting += 1;
        if lrp {
            self.add_instances(guid, c as u32, 1);
        } else {
            now.tasks += 1;
        }
    }
}
