//! The guest SDK for diego placement plugins (`diego:placement@0.3.0`, world `scorer`).
//!
//! A scorer is one [`Scorer`] impl and one [`export_scorer!`]:
//!
//! ```ignore
//! use diego_plugin_sdk::{export_scorer, Cell, CellLoad, Params, ScoreParts, Scorer, Verdict, Work};
//!
//! struct PreferBigCells;
//!
//! impl Scorer for PreferBigCells {
//!     fn new(_params: &Params, _cells: &[Cell]) -> Self {
//!         PreferBigCells
//!     }
//!     fn score(&self, _work: &Work, cell: &Cell, _load: &CellLoad) -> Verdict {
//!         Verdict::plugin(1.0 / f64::from(cell.total.memory_mb.max(1)))
//!     }
//! }
//!
//! export_scorer!(PreferBigCells);
//! ```
//!
//! The SDK keeps the ABI's promises for you: one answer per candidate in order, cells
//! looked up by their position in the round, strings resolved from the round's tables, named
//! terms only computed when the auctioneer explains. Under 0.3.0 the host sends loads and
//! receives parts as flat number columns; the SDK reads and writes them, so a plugin sees
//! plain structs and gets the fast path without doing anything. Build with `cargo build
//! --release --target wasm32-wasip2` (or `diego plugin build DIR`); the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../lifecycles-wasm/wit/placement/v0.3",
        world: "diego:placement/scorer",
        pub_export_macro: true,
        export_macro_name: "__export_placement",
        default_bindings_module: "diego_plugin_sdk::bindings",
    });
}

use bindings::diego::placement::types as wit;
pub use wit::{ScoreParts, WorkKind};

/// Memory, disk and containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    pub memory_mb: i32,
    pub disk_mb: i32,
    pub containers: i32,
}

/// A cell's facts that do not change during one auction round.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub cell_id: String,
    pub zone: String,
    pub total: Resources,
    pub proxy_memory_mb: i32,
    pub placement_tags: Vec<String>,
    pub optional_placement_tags: Vec<String>,
}

/// A candidate cell at one placement: compatible with the work and with room for it.
/// Counts include the reservations made earlier in the same round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellLoad {
    /// The cell's position in the round (the index into `Scorer::new`'s `cells`).
    pub cell: u32,
    pub available: Resources,
    pub starting_container_count: i32,
    /// Instances of the work's process guid on the cell (0 for a task).
    pub same_process_lrps: u32,
    /// Tasks on the cell.
    pub tasks: u32,
    /// Position in its zone by ascending reported cell index (bin-pack first fit).
    pub bin_pack_index: i32,
}

/// The one piece of work being placed; its strings live in the round's tables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Work<'a> {
    pub kind: WorkKind,
    /// Process guid (lrp) or task guid (task).
    pub guid: &'a str,
    /// Instance index (lrp); 0 for a task.
    pub index: i32,
    pub domain: &'a str,
    pub memory_mb: i32,
    pub disk_mb: i32,
    pub rootfs: &'a str,
    pub placement_tags: &'a [String],
    pub volume_drivers: &'a [String],
}

/// The auctioneer's named numbers for this plugin (its configuration).
pub struct Params(Vec<wit::Param>);

impl Params {
    /// The value of `name`, or `default` when the auctioneer did not set it.
    pub fn get(&self, name: &str, default: f64) -> f64 {
        self.0
            .iter()
            .find(|p| p.name == name)
            .map_or(default, |p| p.value)
    }
}

impl ScoreParts {
    /// All terms zero.
    pub const ZERO: ScoreParts = ScoreParts {
        resource: 0.0,
        starting: 0.0,
        same_process: 0.0,
        tasks: 0.0,
        bin_pack: 0.0,
        plugin: 0.0,
    };

    /// Lower totals win.
    pub fn total(&self) -> f64 {
        self.resource + self.starting + self.same_process + self.tasks + self.bin_pack + self.plugin
    }
}

/// One cell's answer.
pub enum Verdict {
    /// `named` terms are shown in explanations; they are asked for only when explaining
    /// (see [`Scorer::describe`]), so leave them out of the hot path.
    Score(ScoreParts),
    /// The cell must not get this work; the reason is shown in explanations.
    Reject(String),
}

impl Verdict {
    /// A custom score: everything in the `plugin` term.
    pub fn plugin(value: f64) -> Verdict {
        Verdict::Score(ScoreParts {
            plugin: value,
            ..ScoreParts::ZERO
        })
    }
}

/// A placement scorer. One value lives for one auction round.
pub trait Scorer: Sized + 'static {
    /// Opens a round: the plugin's params and every cell of the auction (their fixed facts).
    fn new(params: &Params, cells: &[Cell]) -> Self;

    /// Scores one candidate cell for `work`: its fixed facts and its load now (resources,
    /// counts including this round's earlier placements). Lower totals win.
    fn score(&self, work: &Work<'_>, cell: &Cell, load: &CellLoad) -> Verdict;

    /// Named terms of a scored cell for explanations. Default: none.
    fn describe(&self, _work: &Work<'_>, _cell: &Cell, _load: &CellLoad) -> Vec<(String, f64)> {
        Vec::new()
    }
}

/// Columns of a placement's loads (the WIT's `load-column`) and of its parts (`part-column`).
const LOAD_COLUMNS: usize = 8;
const PART_COLUMNS: usize = 6;
const UNKNOWN_CELL: &str = "unknown cell position";

/// The round's string and string-list tables, as the host filled them.
#[derive(Default)]
struct Tables {
    strings: Vec<String>,
    lists: Vec<Vec<String>>,
}

impl Tables {
    /// Appends; an index outside the table so far resolves to the empty string (the host
    /// never sends one, so only a broken host could see that).
    fn extend(&mut self, strings: Vec<String>, lists: Vec<Vec<u32>>) {
        self.strings.extend(strings);
        for list in lists {
            let resolved = list.iter().map(|&i| self.string(i).to_owned()).collect();
            self.lists.push(resolved);
        }
    }

    fn string(&self, index: u32) -> &str {
        self.strings.get(index as usize).map_or("", String::as_str)
    }

    fn list(&self, index: u32) -> &[String] {
        self.lists.get(index as usize).map_or(&[], Vec::as_slice)
    }

    fn work(&self, work: &wit::Work) -> Work<'_> {
        Work {
            kind: work.kind,
            guid: self.string(work.guid),
            index: work.index,
            domain: self.string(work.domain),
            memory_mb: work.memory_mb,
            disk_mb: work.disk_mb,
            rootfs: self.string(work.rootfs),
            placement_tags: self.list(work.placement_tags),
            volume_drivers: self.list(work.volume_drivers),
        }
    }
}

/// A placement's loads, split into their columns (each exactly `n` long, so indexing by a
/// candidate `i < n` needs no bounds check: fewer branches, and less fuel spent per cell).
struct Loads<'a> {
    n: usize,
    columns: [&'a [i32]; LOAD_COLUMNS],
}

impl<'a> Loads<'a> {
    /// A `loads` list whose length is not a multiple of the column count reads as no
    /// candidates, so the host sees a count mismatch and reports it.
    fn new(loads: &'a [i32]) -> Self {
        let n = if loads.len() % LOAD_COLUMNS == 0 {
            loads.len() / LOAD_COLUMNS
        } else {
            0
        };
        let mut columns = [&loads[..0]; LOAD_COLUMNS];
        for (c, column) in columns.iter_mut().enumerate() {
            *column = &loads[c * n..(c + 1) * n];
        }
        Loads { n, columns }
    }

    #[inline(always)]
    fn get(&self, i: usize) -> CellLoad {
        let [cell, memory, disk, containers, starting, same_process, tasks, bin_pack] =
            self.columns;
        CellLoad {
            cell: cell[i] as u32,
            available: Resources {
                memory_mb: memory[i],
                disk_mb: disk[i],
                containers: containers[i],
            },
            starting_container_count: starting[i],
            same_process_lrps: same_process[i] as u32,
            tasks: tasks[i] as u32,
            bin_pack_index: bin_pack[i],
        }
    }
}

/// The `round` resource over a [`Scorer`]; [`export_scorer!`] exports it.
#[doc(hidden)]
pub struct Round<S> {
    scorer: S,
    cells: Vec<Cell>,
    tables: std::cell::RefCell<Tables>,
}

impl<S: Scorer> bindings::exports::diego::placement::score::GuestRound for Round<S> {
    fn new(
        params: Vec<wit::Param>,
        strings: Vec<String>,
        lists: Vec<Vec<u32>>,
        cells: wit::Cells,
    ) -> Self {
        let mut tables = Tables::default();
        tables.extend(strings, lists);
        let cells: Vec<Cell> = (0..cells.cell_id.len())
            .map(|i| {
                let number = |column: &[i32]| column.get(i).copied().unwrap_or(0);
                let index = |column: &[u32]| column.get(i).copied().unwrap_or(u32::MAX);
                Cell {
                    cell_id: tables.string(cells.cell_id[i]).to_owned(),
                    zone: tables.string(index(&cells.zone)).to_owned(),
                    total: Resources {
                        memory_mb: number(&cells.total_memory_mb),
                        disk_mb: number(&cells.total_disk_mb),
                        containers: number(&cells.total_containers),
                    },
                    proxy_memory_mb: number(&cells.proxy_memory_mb),
                    placement_tags: tables.list(index(&cells.placement_tags)).to_vec(),
                    optional_placement_tags: tables
                        .list(index(&cells.optional_placement_tags))
                        .to_vec(),
                }
            })
            .collect();
        let scorer = S::new(&Params(params), &cells);
        Round {
            scorer,
            cells,
            tables: std::cell::RefCell::new(tables),
        }
    }

    fn intern(&self, strings: Vec<String>, lists: Vec<Vec<u32>>) {
        self.tables.borrow_mut().extend(strings, lists);
    }

    fn score(&self, work: wit::Work, loads: Vec<i32>) -> wit::Scores {
        let tables = self.tables.borrow();
        let work = tables.work(&work);
        let loads = Loads::new(&loads);
        let n = loads.n;
        let mut parts = vec![0.0; PART_COLUMNS * n];
        let mut rejected = Vec::new();
        let (resource, rest) = parts.split_at_mut(n);
        let (starting, rest) = rest.split_at_mut(n);
        let (same_process, rest) = rest.split_at_mut(n);
        let (tasks, rest) = rest.split_at_mut(n);
        let (bin_pack, plugin) = rest.split_at_mut(n);
        let plugin = &mut plugin[..n];
        for i in 0..n {
            let load = loads.get(i);
            let verdict = match self.cells.get(load.cell as usize) {
                Some(cell) => self.scorer.score(&work, cell, &load),
                None => Verdict::Reject(UNKNOWN_CELL.into()),
            };
            match verdict {
                Verdict::Score(score) => {
                    resource[i] = score.resource;
                    starting[i] = score.starting;
                    same_process[i] = score.same_process;
                    tasks[i] = score.tasks;
                    bin_pack[i] = score.bin_pack;
                    plugin[i] = score.plugin;
                }
                Verdict::Reject(_) => rejected.push(i as u32),
            }
        }
        wit::Scores { parts, rejected }
    }

    fn explain(&self, work: wit::Work, loads: Vec<i32>) -> Vec<wit::Verdict> {
        let tables = self.tables.borrow();
        let work = tables.work(&work);
        let loads = Loads::new(&loads);
        (0..loads.n)
            .map(|i| {
                let load = loads.get(i);
                let Some(cell) = self.cells.get(load.cell as usize) else {
                    return wit::Verdict::Reject(UNKNOWN_CELL.into());
                };
                match self.scorer.score(&work, cell, &load) {
                    Verdict::Score(parts) => wit::Verdict::Score(wit::Scored {
                        parts,
                        named: self.scorer.describe(&work, cell, &load),
                    }),
                    Verdict::Reject(reason) => wit::Verdict::Reject(reason),
                }
            })
            .collect()
    }
}

/// Exports `$scorer` (a [`Scorer`]) as the component's `diego:placement/score` interface.
#[macro_export]
macro_rules! export_scorer {
    ($scorer:ty) => {
        #[doc(hidden)]
        struct __DiegoPluginExport;

        impl $crate::bindings::exports::diego::placement::score::Guest for __DiegoPluginExport {
            type Round = $crate::Round<$scorer>;
        }

        $crate::bindings::__export_placement!(__DiegoPluginExport with_types_in $crate::bindings);
    };
}
