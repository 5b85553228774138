//! Cell order, zones and per-process instance counts: the bookkeeping behind zone spreading
//! and the same-process locality term, kept in flat arrays so a placement costs
//! O(candidate cells + instances of its process), never a scan of every LRP on every cell.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::hash::FxHashMap;
use crate::types::{CellState, LrpStart};

/// The participating cells in the scheduler's order, with their zones.
pub(crate) struct Layout<'a> {
    /// Non-evacuating cells, shuffled by the seed: the iteration order that breaks score ties
    /// (upstream iterates a Go map, i.e. randomly; we make it reproducible).
    pub cells: Vec<&'a CellState>,
    pub zone_of: Vec<u32>,
    pub zone_count: usize,
    /// Position in the zone by ascending reported `cell_index` (then cell id), as the
    /// auctioneer re-indexes cells for bin-pack first fit.
    pub bin_pack_index: Vec<i32>,
}

impl<'a> Layout<'a> {
    pub fn new(all_cells: &'a [CellState], seed: u64) -> Self {
        let mut cells: Vec<&CellState> = all_cells.iter().filter(|c| !c.evacuating).collect();
        cells.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let mut zone_ids: FxHashMap<&str, u32> = FxHashMap::default();
        let zone_of: Vec<u32> = cells
            .iter()
            .map(|cell| {
                let next = zone_ids.len() as u32;
                *zone_ids.entry(cell.zone.as_str()).or_insert(next)
            })
            .collect();
        let zone_count = zone_ids.len();
        let bin_pack_index = bin_pack_by_zone(&cells, &zone_of, zone_count);
        Self {
            cells,
            zone_of,
            zone_count,
            bin_pack_index,
        }
    }
}

/// Each cell's position in its zone by ascending reported `cell_index` (then cell id): the
/// `bin_pack_index` the auction gives `cells` (a round's cells, in the scheduler's order).
/// A round that keeps the auction's loads itself (ADR 0026) starts from these.
pub fn bin_pack_indices(cells: &[&CellState]) -> Vec<i32> {
    let mut zone_ids: FxHashMap<&str, u32> = FxHashMap::default();
    let zone_of: Vec<u32> = cells
        .iter()
        .map(|cell| {
            let next = zone_ids.len() as u32;
            *zone_ids.entry(cell.zone.as_str()).or_insert(next)
        })
        .collect();
    bin_pack_by_zone(cells, &zone_of, zone_ids.len())
}

fn bin_pack_by_zone(cells: &[&CellState], zone_of: &[u32], zone_count: usize) -> Vec<i32> {
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); zone_count];
    for (id, zone) in zone_of.iter().enumerate() {
        members[*zone as usize].push(id as u32);
    }
    let mut bin_pack_index = vec![0; cells.len()];
    for zone_cells in &mut members {
        zone_cells.sort_by(|a, b| {
            let (a, b) = (cells[*a as usize], cells[*b as usize]);
            a.cell_index
                .cmp(&b.cell_index)
                .then_with(|| a.cell_id.cmp(&b.cell_id))
        });
        for (position, id) in zone_cells.iter().enumerate() {
            bin_pack_index[*id as usize] = position as i32;
        }
    }
    bin_pack_index
}

/// Instance counts of the batch's process guids, per zone and per cell.
pub(crate) struct ProcessCounts<'a> {
    ids: FxHashMap<&'a str, u32>,
    zone_count: usize,
    /// `[process id × zone_count + zone]`
    per_zone: Vec<u32>,
    /// Per process id: (cell id, instances) for the cells that hold any.
    per_cell: Vec<Vec<(u32, u32)>>,
}

impl<'a> ProcessCounts<'a> {
    /// Interns only the guids in the batch, then counts the cells' reported instances of
    /// those guids: other processes can never influence this batch's scores.
    pub fn new(layout: &Layout<'_>, batch: &'a [LrpStart]) -> Self {
        let mut ids: FxHashMap<&'a str, u32> = FxHashMap::default();
        for lrp in batch {
            let next = ids.len() as u32;
            ids.entry(lrp.process_guid.as_str()).or_insert(next);
        }
        let mut counts = Self {
            zone_count: layout.zone_count,
            per_zone: vec![0; ids.len() * layout.zone_count],
            per_cell: vec![Vec::new(); ids.len()],
            ids,
        };
        for (cell_id, cell) in layout.cells.iter().enumerate() {
            for lrp in &cell.lrps {
                if let Some(&process) = counts.ids.get(lrp.process_guid.as_str()) {
                    counts.add(process, cell_id as u32, layout.zone_of[cell_id]);
                }
            }
        }
        counts
    }

    /// The id of a guid from the batch this was built for.
    #[inline]
    pub fn id(&self, process_guid: &str) -> u32 {
        self.ids[process_guid]
    }

    #[inline]
    pub fn zone_counts(&self, process: u32) -> &[u32] {
        let start = process as usize * self.zone_count;
        &self.per_zone[start..start + self.zone_count]
    }

    #[inline]
    pub fn cell_counts(&self, process: u32) -> &[(u32, u32)] {
        &self.per_cell[process as usize]
    }

    pub fn add(&mut self, process: u32, cell_id: u32, zone: u32) {
        self.per_zone[process as usize * self.zone_count + zone as usize] += 1;
        let cells = &mut self.per_cell[process as usize];
        match cells.iter_mut().find(|(id, _)| *id == cell_id) {
            Some((_, count)) => *count += 1,
            None => cells.push((cell_id, 1)),
        }
    }
}

/// Orders a work item's compatible zones (indices into `compatible_zones`) by the process's
/// instance count, ascending; a stable sort, so tied zones keep the seeded zone order.
pub(crate) fn order_zones(
    compatible_zones: &[(u32, Vec<u32>)],
    zone_counts: &[u32],
    out: &mut Vec<(u32, usize)>,
) {
    out.clear();
    out.extend(
        compatible_zones
            .iter()
            .enumerate()
            .map(|(position, (zone, _))| (zone_counts[*zone as usize], position)),
    );
    out.sort_by_key(|(count, _)| *count);
}
