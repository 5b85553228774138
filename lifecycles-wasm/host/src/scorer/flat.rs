//! What the sessions of the flat-list versions (0.3.0 and 0.4.0) share, independent of their
//! generated bindings: the host side of the round's string tables, the work's fields, the
//! loads as `load-column`s, re-arming a call, and checking and taking over a `scores` answer.

use std::collections::HashMap;

use diego_auction::{CellView, ScoreColumns, WorkView, PART_COLUMNS};
use wasmtime::Store;

use crate::state::CallState;
use crate::{WasmError, WasmHost};
/// Columns of a placement's `loads` (`load-column` in the WIT).
pub(super) const LOAD_COLUMNS: usize = 8;
/// Names of `scores.parts`' columns (`part-column` in the WIT, `PART_COLUMNS` of them), for
/// errors.
const PART_NAMES: [&str; PART_COLUMNS] = [
    "resource",
    "starting",
    "same-process",
    "tasks",
    "bin-pack",
    "plugin",
];

/// FxHash (rustc's): the round's tables are looked up once per placement (a work's guid, a
/// group of cell positions), where SipHash's cost would show.
#[derive(Default, Clone, Copy)]
pub(super) struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(word);
            self.write_u64(u64::from_le_bytes(buf));
        }
        for &byte in words.remainder() {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub(super) type FxBuild = std::hash::BuildHasherDefault<Fx>;

/// The round's string and string-list tables, host side: what the guest has been sent (or
/// will be with the next `intern`), by index.
#[derive(Default)]
pub(super) struct Tables {
    strings: HashMap<String, u32, FxBuild>,
    lists: HashMap<Vec<u32>, u32, FxBuild>,
    pub(super) new_strings: Vec<String>,
    pub(super) new_lists: Vec<Vec<u32>>,
    key: Vec<u32>,
}

impl Tables {
    pub(super) fn string(&mut self, value: &str) -> u32 {
        if let Some(&index) = self.strings.get(value) {
            return index;
        }
        let index = self.strings.len() as u32;
        self.strings.insert(value.to_owned(), index);
        self.new_strings.push(value.to_owned());
        index
    }

    pub(super) fn list(&mut self, values: &[String]) -> u32 {
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        for value in values {
            key.push(self.string(value));
        }
        let index = match self.lists.get(&key) {
            Some(&index) => index,
            None => {
                let index = self.lists.len() as u32;
                self.lists.insert(key.clone(), index);
                self.new_lists.push(key.clone());
                index
            }
        };
        self.key = key;
        index
    }

    pub(super) fn take_new(&mut self) -> (Vec<String>, Vec<Vec<u32>>) {
        (
            std::mem::take(&mut self.new_strings),
            std::mem::take(&mut self.new_lists),
        )
    }
}

/// The last string interned for one of the work's fields: consecutive placements usually
/// share the domain and rootfs (and a process guid, for instances of one process), so most
/// placements skip the table lookups of those fields.
#[derive(Default)]
pub(super) struct LastString {
    value: String,
    index: Option<u32>,
}

impl LastString {
    pub(super) fn intern(&mut self, tables: &mut Tables, value: &str) -> u32 {
        match self.index {
            Some(index) if self.value == value => index,
            _ => {
                let index = tables.string(value);
                self.value.clear();
                self.value.push_str(value);
                self.index = Some(index);
                index
            }
        }
    }
}

/// The work's fields the ABI sends, whatever its kind.
pub(super) struct WorkFields<'a> {
    pub(super) lrp: bool,
    pub(super) guid: &'a str,
    pub(super) index: i32,
    pub(super) domain: &'a str,
    pub(super) rootfs: &'a str,
    pub(super) placement_tags: &'a [String],
    pub(super) volume_drivers: &'a [String],
}

impl<'a> WorkFields<'a> {
    pub(super) fn of(work: &WorkView<'a>) -> Self {
        match work {
            WorkView::Lrp(lrp) => WorkFields {
                lrp: true,
                guid: &lrp.process_guid,
                index: lrp.index,
                domain: &lrp.domain,
                rootfs: &lrp.rootfs,
                placement_tags: &lrp.placement_tags,
                volume_drivers: &lrp.volume_drivers,
            },
            WorkView::Task(task) => WorkFields {
                lrp: false,
                guid: &task.task_guid,
                index: 0,
                domain: &task.domain,
                rootfs: &task.rootfs,
                placement_tags: &task.placement_tags,
                volume_drivers: &task.volume_drivers,
            },
        }
    }
}

/// Full fuel and a fresh deadline for the next call of a round's store.
pub(super) fn rearm(host: &WasmHost, store: &mut Store<CallState>) {
    let config = host.config();
    if config.consume_fuel {
        // set_fuel only fails when fuel is off.
        let _ = store.set_fuel(config.fuel);
    }
    store.set_epoch_deadline(
        config
            .epoch_deadline_ms
            .div_ceil(config.epoch_tick_ms.max(1))
            .max(1),
    );
}

/// The loads of `cells` as `load-column`s, one after the other, into `loads`: one pass per
/// column, appending (no zeroing first, no per-element bounds checks). `round_cells` is the
/// round's cell count, which every position must be below.
pub(super) fn fill_loads(
    loads: &mut Vec<i32>,
    round_cells: u32,
    ids: &[u32],
    cells: &[CellView<'_>],
) -> Result<(), WasmError> {
    if ids.len() != cells.len() {
        return Err(WasmError::Host(format!(
            "{} cell positions for {} cells",
            ids.len(),
            cells.len()
        )));
    }
    if let Some(&id) = ids.iter().find(|&&id| id >= round_cells) {
        return Err(WasmError::Host(format!(
            "cell position {id} outside the round's {round_cells} cells"
        )));
    }
    loads.clear();
    loads.reserve(LOAD_COLUMNS * cells.len());
    loads.extend(ids.iter().map(|&id| id as i32));
    loads.extend(cells.iter().map(|view| view.available.memory_mb));
    loads.extend(cells.iter().map(|view| view.available.disk_mb));
    loads.extend(cells.iter().map(|view| view.available.containers));
    loads.extend(cells.iter().map(|view| view.starting_container_count));
    // Counts beyond i32::MAX cannot occur (a cell's containers are an i32).
    loads.extend(cells.iter().map(|view| view.same_process_lrps as i32));
    loads.extend(cells.iter().map(|view| view.tasks as i32));
    loads.extend(cells.iter().map(|view| view.bin_pack_index));
    Ok(())
}

/// Checks a `score` answer over `n` candidates and takes it over: six parts per cell, numbers
/// only, no `-inf` total, rejections naming positions of the call. Leaves the parts (columns)
/// in `out.parts` and the totals in `out.totals` (`+inf` for a rejected cell).
pub(super) fn take_scores(
    parts: Vec<f64>,
    rejected: &[u32],
    n: usize,
    out: &mut ScoreColumns,
) -> Result<(), WasmError> {
    if parts.len() != PART_COLUMNS * n {
        return Err(WasmError::Malformed(format!(
            "{} score parts for {n} cells (6 per cell)",
            parts.len()
        )));
    }
    // The guest's list becomes the columns as they are: no copy, no per-cell struct.
    out.parts = parts;
    out.sum_parts(n);
    // One pass over the totals, without an early exit: a NaN term makes its total NaN
    // (NaN propagates through the sum), so only a NaN total needs the terms looked at.
    let (nan, neg_inf) = out
        .totals
        .iter()
        .fold((false, false), |(nan, neg_inf), &t| {
            (nan | t.is_nan(), neg_inf | (t == f64::NEG_INFINITY))
        });
    if nan {
        if let Some(at) = out.parts.iter().position(|v| v.is_nan()) {
            return Err(WasmError::Malformed(format!(
                "score term {} is NaN",
                PART_NAMES[at / n.max(1)]
            )));
        }
    }
    if neg_inf {
        return Err(WasmError::Malformed("score total is -inf".into()));
    }
    for &position in rejected {
        match out.totals.get_mut(position as usize) {
            Some(total) => *total = f64::INFINITY,
            None => {
                return Err(WasmError::Malformed(format!(
                    "rejection of position {position} in a call over {n} cells"
                )))
            }
        }
    }
    Ok(())
}

/// Appends one `Option<ScoreParts>` per cell (`None` = rejected) from a
/// checked answer in columns: the per-cell form `ScoreRound::score` wants.
pub(super) fn parts_by_position(
    columns: &ScoreColumns,
    rejected: &[u32],
    n: usize,
    out: &mut Vec<Option<diego_auction::ScoreParts>>,
) {
    let start = out.len();
    out.extend((0..n).map(|i| Some(columns.parts_of(i))));
    for &position in rejected {
        out[start + position as usize] = None;
    }
}
