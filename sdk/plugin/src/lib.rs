//! The guest SDK for diego placement plugins (`diego:placement@0.5.0`, world `scorer`; or
//! `@0.4.0` with [`export_scorer_v0_4!`], `@0.3.0` with [`export_scorer_v0_3!`]).
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
//! terms only computed when the auctioneer explains. Under 0.5.0 (ADR 0029) the SDK keeps the
//! round's loads itself (the host sends them once) and, when the host asks it to place a
//! batch of works, walks the auction for each in turn as the host does (zones ordered by the
//! process's instances, groups of tied zones, the in-flight budget), scores the candidates
//! with room and picks the first lowest total below Diego's no-winner score, then reserves
//! the work on the winner (under 0.4.0, ADR 0026, the same for one group per call); when the
//! host sends loads instead (`score`, `explain`: composite rounds and explanations) it reads
//! and writes 0.3's flat number columns. Either way a plugin sees plain structs and gets the fast
//! path without doing anything. A NaN total traps (the host falls back). Build with `cargo build
//! --release --target wasm32-wasip2` (or `diego plugin build DIR`); the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../lifecycles-wasm/wit/placement/v0.5",
        world: "diego:placement/scorer",
        pub_export_macro: true,
        export_macro_name: "__export_placement",
        default_bindings_module: "diego_plugin_sdk::bindings",
    });
}

/// The 0.4.0 bindings, for plugins that must keep loading on hosts without 0.5.0.
#[doc(hidden)]
pub mod bindings_v0_4 {
    // A world of its own name, as 0.3.0's below.
    wit_bindgen::generate!({
        inline: "package diego:plugin-sdk-v4; world scorer-v0-4 { export diego:placement/score@0.4.0; }",
        path: "../../lifecycles-wasm/wit/placement/v0.4",
        world: "diego:plugin-sdk-v4/scorer-v0-4",
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_placement_v0_4",
        default_bindings_module: "diego_plugin_sdk::bindings_v0_4",
    });
}

/// The 0.3.0 bindings, for plugins that must keep loading on hosts without 0.4.0.
#[doc(hidden)]
pub mod bindings_v0_3 {
    // A world of its own name: both versions' worlds are `scorer`, and wit-bindgen names a
    // crate-level macro after the world.
    wit_bindgen::generate!({
        inline: "package diego:plugin-sdk; world scorer-v0-3 { export diego:placement/score@0.3.0; }",
        path: "../../lifecycles-wasm/wit/placement/v0.3",
        world: "diego:plugin-sdk/scorer-v0-3",
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_placement_v0_3",
        default_bindings_module: "diego_plugin_sdk::bindings_v0_3",
    });
}

mod kept;
mod v0_3;
mod v0_4;
mod v0_5;

#[doc(hidden)]
pub use v0_3::RoundV03;
#[doc(hidden)]
pub use v0_4::RoundV04;
#[doc(hidden)]
pub use v0_5::Round;

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

    /// `score`'s total (the sum of its parts), `None` for a rejection: what the SDK's walk
    /// (0.5.0 and 0.4.0, ADRs 0029 and 0026) compares for every candidate; the winner's parts come from `score`.
    /// Default: through `score`. A scorer may compute it more directly (no parts built), but
    /// must return the same value (adding a zero term never changes a sum's value).
    fn total(&self, work: &Work<'_>, cell: &Cell, load: &CellLoad) -> Option<f64> {
        match self.score(work, cell, load) {
            Verdict::Score(parts) => Some(parts.total()),
            Verdict::Reject(_) => None,
        }
    }
}

/// Columns of a placement's loads (the WIT's `load-column`) and of its parts (`part-column`).
const LOAD_COLUMNS: usize = 8;
const PART_COLUMNS: usize = 6;
const UNKNOWN_CELL: &str = "unknown cell position";

/// A work as the host sends it (any ABI version): strings by table index.
struct RawWork {
    kind: WorkKind,
    guid: u32,
    index: i32,
    domain: u32,
    memory_mb: i32,
    disk_mb: i32,
    rootfs: u32,
    placement_tags: u32,
    volume_drivers: u32,
}

impl From<&wit::Work> for RawWork {
    fn from(work: &wit::Work) -> Self {
        RawWork {
            kind: work.kind,
            guid: work.guid,
            index: work.index,
            domain: work.domain,
            memory_mb: work.memory_mb,
            disk_mb: work.disk_mb,
            rootfs: work.rootfs,
            placement_tags: work.placement_tags,
            volume_drivers: work.volume_drivers,
        }
    }
}

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

    fn work(&self, work: &RawWork) -> Work<'_> {
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

/// The cells of a round from their columns (any ABI version: the first eight columns).
#[allow(clippy::too_many_arguments)]
fn cells_of(
    tables: &Tables,
    cell_id: &[u32],
    zone: &[u32],
    total_memory_mb: &[i32],
    total_disk_mb: &[i32],
    total_containers: &[i32],
    proxy_memory_mb: &[i32],
    placement_tags: &[u32],
    optional_placement_tags: &[u32],
) -> Vec<Cell> {
    (0..cell_id.len())
        .map(|i| {
            let number = |column: &[i32]| column.get(i).copied().unwrap_or(0);
            let index = |column: &[u32]| column.get(i).copied().unwrap_or(u32::MAX);
            Cell {
                cell_id: tables.string(cell_id[i]).to_owned(),
                zone: tables.string(index(zone)).to_owned(),
                total: Resources {
                    memory_mb: number(total_memory_mb),
                    disk_mb: number(total_disk_mb),
                    containers: number(total_containers),
                },
                proxy_memory_mb: number(proxy_memory_mb),
                placement_tags: tables.list(index(placement_tags)).to_vec(),
                optional_placement_tags: tables.list(index(optional_placement_tags)).to_vec(),
            }
        })
        .collect()
}

/// `score` over loads sent by the host: the part columns and the rejected positions.
fn score_columns<S: Scorer>(
    scorer: &S,
    cells: &[Cell],
    work: &Work<'_>,
    loads: &[i32],
) -> (Vec<f64>, Vec<u32>) {
    let loads = Loads::new(loads);
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
        let verdict = match cells.get(load.cell as usize) {
            Some(cell) => scorer.score(work, cell, &load),
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
    (parts, rejected)
}

/// `explain` over loads sent by the host: per candidate, its parts and named terms or the
/// reason it was refused.
fn explain_loads<S: Scorer>(
    scorer: &S,
    cells: &[Cell],
    work: &Work<'_>,
    loads: &[i32],
) -> Vec<Result<(ScoreParts, Vec<(String, f64)>), String>> {
    let loads = Loads::new(loads);
    (0..loads.n)
        .map(|i| {
            let load = loads.get(i);
            let Some(cell) = cells.get(load.cell as usize) else {
                return Err(UNKNOWN_CELL.into());
            };
            match scorer.score(work, cell, &load) {
                Verdict::Score(parts) => Ok((parts, scorer.describe(work, cell, &load))),
                Verdict::Reject(reason) => Err(reason),
            }
        })
        .collect()
}

/// Exports `$scorer` (a [`Scorer`]) as the component's `diego:placement/score` interface,
/// `diego:placement@0.5.0`.
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

/// Exports `$scorer` against `diego:placement@0.4.0` instead, for hosts that predate 0.5.0
/// (the host loads either; a 0.4.0 round picks one placement per call, so it is slower).
#[macro_export]
macro_rules! export_scorer_v0_4 {
    ($scorer:ty) => {
        #[doc(hidden)]
        struct __DiegoPluginExportV04;

        impl $crate::bindings_v0_4::exports::diego::placement::score::Guest
            for __DiegoPluginExportV04
        {
            type Round = $crate::RoundV04<$scorer>;
        }

        $crate::bindings_v0_4::__export_placement_v0_4!(
            __DiegoPluginExportV04 with_types_in $crate::bindings_v0_4
        );
    };
}

/// Exports `$scorer` against `diego:placement@0.3.0` instead, for hosts that predate 0.4.0
/// (the host loads either; a 0.3.0 round never picks, so it is slower).
#[macro_export]
macro_rules! export_scorer_v0_3 {
    ($scorer:ty) => {
        #[doc(hidden)]
        struct __DiegoPluginExportV03;

        impl $crate::bindings_v0_3::exports::diego::placement::score::Guest
            for __DiegoPluginExportV03
        {
            type Round = $crate::RoundV03<$scorer>;
        }

        $crate::bindings_v0_3::__export_placement_v0_3!(
            __DiegoPluginExportV03 with_types_in $crate::bindings_v0_3
        );
    };
}
