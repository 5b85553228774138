//! The guest SDK for diego placement plugins (`diego:placement@0.2.0`, world `scorer`).
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
//! looked up by their position in the round, named terms only computed when the auctioneer
//! explains. Build with `cargo build --release --target wasm32-wasip2` (or `diego plugin
//! build DIR`); the `.wasm` in `target/wasm32-wasip2/release/` is the component.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../lifecycles-wasm/wit/placement/v0.2",
        world: "diego:placement/scorer",
        pub_export_macro: true,
        export_macro_name: "__export_placement",
        default_bindings_module: "diego_plugin_sdk::bindings",
    });
}

use bindings::diego::placement::types as wit;
pub use wit::{Cell, CellLoad, Resources, ScoreParts, Work, WorkKind};

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
    fn score(&self, work: &Work, cell: &Cell, load: &CellLoad) -> Verdict;

    /// Named terms of a scored cell for explanations. Default: none.
    fn describe(&self, _work: &Work, _cell: &Cell, _load: &CellLoad) -> Vec<(String, f64)> {
        Vec::new()
    }
}

/// The `round` resource over a [`Scorer`]; [`export_scorer!`] exports it.
#[doc(hidden)]
pub struct Round<S> {
    scorer: S,
    cells: Vec<Cell>,
}

const UNKNOWN_CELL: &str = "unknown cell position";

impl<S: Scorer> bindings::exports::diego::placement::score::GuestRound for Round<S> {
    fn new(params: Vec<wit::Param>, cells: Vec<Cell>) -> Self {
        let scorer = S::new(&Params(params), &cells);
        Round { scorer, cells }
    }

    fn score(&self, work: Work, loads: Vec<CellLoad>) -> wit::Scores {
        let mut parts = Vec::with_capacity(loads.len());
        let mut rejected = Vec::new();
        for (position, load) in loads.iter().enumerate() {
            let verdict = match self.cells.get(load.cell as usize) {
                Some(cell) => self.scorer.score(&work, cell, load),
                None => Verdict::Reject(UNKNOWN_CELL.into()),
            };
            match verdict {
                Verdict::Score(score) => parts.push(score),
                Verdict::Reject(reason) => {
                    parts.push(ScoreParts::ZERO);
                    rejected.push(wit::Rejection {
                        position: position as u32,
                        reason,
                    });
                }
            }
        }
        wit::Scores { parts, rejected }
    }

    fn explain(&self, work: Work, loads: Vec<CellLoad>) -> Vec<wit::Verdict> {
        loads
            .iter()
            .map(|load| {
                let Some(cell) = self.cells.get(load.cell as usize) else {
                    return wit::Verdict::Reject(UNKNOWN_CELL.into());
                };
                match self.scorer.score(&work, cell, load) {
                    Verdict::Score(parts) => wit::Verdict::Score(wit::Scored {
                        parts,
                        named: self.scorer.describe(&work, cell, load),
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
