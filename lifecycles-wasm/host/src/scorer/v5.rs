//! `diego:placement@0.5.0` (ADR 0029): 0.4's round keeping the auction's loads (sent once,
//! with the cells), but the guest places a batch of works per call (`place-batch`) and walks
//! the auction itself (zones by the process's instances, groups of tied zones, the in-flight
//! budget). Works go in and picks come out as flat number lists; the candidate sets (a work's
//! compatible cells by zone) and the instances already on the cells of each process are
//! interned like strings. The auction checks every pick in order (diego-auction
//! `Auction::take_batch_pick`); here only the answer's shape is checked. `score` and `explain`
//! are 0.4's (composite rounds, explanations). The round's store lives as long as the round;
//! every call is re-armed with the full fuel and a fresh epoch deadline.

use diego_auction::{BatchWork, CandidateSet, CellState, Pick, ScoreParts, PART_COLUMNS};
use wasmtime::component::ResourceAny;
use wasmtime::Store;
use wasmtime_wasi::WasiCtxBuilder;

use super::picking::{session_calls, wit_conversions, FlatWork, RoundTables};
use crate::state::CallState;
use crate::{WasmError, WasmHost};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/placement/v0.5",
        world: "diego:placement/scorer",
    });
}

use bindings::diego::placement::types as wit;

wit_conversions!(bindings::diego::placement::types);

pub(super) type Pre = bindings::ScorerPre<CallState>;

pub(super) fn pre(instance: wasmtime::component::InstancePre<CallState>) -> wasmtime::Result<Pre> {
    bindings::ScorerPre::new(instance)
}

/// `picks.winner` of a work without a winner.
const NO_WINNER: u32 = u32::MAX;

/// One open round: its own store, instance and `round` resource.
pub struct Session<'h> {
    host: &'h WasmHost,
    store: Store<CallState>,
    bindings: bindings::Scorer,
    round: ResourceAny,
    tables: RoundTables,
    /// Candidate sets sent (the auction's sets only grow; indices are stable).
    sets_sent: usize,
    new_sets: Vec<Vec<Vec<u32>>>,
    /// The batch's works, columnar, kept to reuse the allocations.
    works: wit::Works,
}

/// A batch of no works.
fn no_works() -> wit::Works {
    wit::Works {
        kind: Vec::new(),
        guid: Vec::new(),
        index: Vec::new(),
        domain: Vec::new(),
        memory_mb: Vec::new(),
        disk_mb: Vec::new(),
        rootfs: Vec::new(),
        placement_tags: Vec::new(),
        volume_drivers: Vec::new(),
        candidates: Vec::new(),
    }
}

/// Empties the columns of a batch, keeping their allocations.
fn clear(works: &mut wit::Works) {
    works.kind.clear();
    works.guid.clear();
    works.index.clear();
    works.domain.clear();
    works.memory_mb.clear();
    works.disk_mb.clear();
    works.rootfs.clear();
    works.placement_tags.clear();
    works.volume_drivers.clear();
    works.candidates.clear();
}

fn push(works: &mut wit::Works, work: FlatWork, set: u32) {
    works.kind.push(if work.lrp { 0 } else { 1 });
    works.guid.push(work.guid);
    works.index.push(work.index);
    works.domain.push(work.domain);
    works.memory_mb.push(work.memory_mb);
    works.disk_mb.push(work.disk_mb);
    works.rootfs.push(work.rootfs);
    works.placement_tags.push(work.placement_tags);
    works.volume_drivers.push(work.volume_drivers);
    works.candidates.push(set);
}

impl<'h> Session<'h> {
    pub(super) fn open(
        host: &'h WasmHost,
        pre: &Pre,
        params: &[(String, f64)],
        cells: &[&CellState],
    ) -> Result<Self, WasmError> {
        let params = wit_params(params);
        let (mut tables, columns) = RoundTables::open(cells);
        let columns = wit_cells(columns);
        let (strings, lists) = tables.tables.take_new();
        let mut store = host.store(WasiCtxBuilder::new(), 0);
        let (bindings, round) = open_round!(host, store, pre, params, strings, lists, columns)?;
        Ok(Session {
            host,
            store,
            bindings,
            round,
            tables,
            sets_sent: 0,
            new_sets: Vec::new(),
            works: no_works(),
        })
    }

    /// Sends what the tables gained since the last call, if anything (`intern`).
    fn send_new(&mut self) -> Result<(), WasmError> {
        if self.tables.has_new() || !self.new_sets.is_empty() {
            let (strings, lists) = self.tables.tables.take_new();
            let processes = wit_processes(std::mem::take(&mut self.tables.new_processes));
            let sets = std::mem::take(&mut self.new_sets);
            self.rearm();
            let Session {
                host,
                store,
                bindings,
                round,
                ..
            } = self;
            host.run(store, |store| {
                bindings.diego_placement_score().round().call_intern(
                    &mut *store,
                    *round,
                    &strings,
                    &lists,
                    &sets,
                    &processes,
                )
            })?;
        }
        Ok(())
    }

    /// The auction's hot path (ADR 0029): one `place-batch` call for `works`, after an
    /// `intern` of what they name for the first time (strings, candidate sets, processes).
    /// Appends one pick per work to `out`; the answer is checked for its shape here (one
    /// pick per work, six terms each), the picks themselves by the auction.
    pub fn place_batch(
        &mut self,
        works: &[BatchWork<'_>],
        sets: &[CandidateSet<'_>],
        budget: u32,
        out: &mut Vec<Pick>,
    ) -> Result<(), WasmError> {
        let n = works.len();
        let mut columns = std::mem::replace(&mut self.works, no_works());
        clear(&mut columns);
        for work in works {
            if work.set as usize >= sets.len() {
                return Err(WasmError::Host(format!(
                    "candidate set {} of {}",
                    work.set,
                    sets.len()
                )));
            }
            push(&mut columns, self.tables.work(&work.work), work.set);
        }
        for set in &sets[self.sets_sent.min(sets.len())..] {
            let zones: Vec<Vec<u32>> = set.iter().map(|(_, cells)| cells.clone()).collect();
            if let Some(&id) = zones.iter().flatten().find(|&&id| id >= self.tables.cells) {
                return Err(WasmError::Host(format!(
                    "cell position {id} outside the round's {} cells",
                    self.tables.cells
                )));
            }
            self.new_sets.push(zones);
        }
        self.sets_sent = self.sets_sent.max(sets.len());
        self.send_new()?;
        self.rearm();
        let Session {
            host,
            store,
            bindings,
            round,
            ..
        } = self;
        let answer = host.run(store, |store| {
            bindings.diego_placement_score().round().call_place_batch(
                &mut *store,
                *round,
                &columns,
                budget,
            )
        });
        self.works = columns;
        let wit::Picks {
            winner,
            parts,
            rejected,
        } = answer?;
        if winner.len() != n || rejected.len() != n || parts.len() != PART_COLUMNS * n {
            return Err(WasmError::Malformed(format!(
                "{} winners, {} rejection counts and {} score parts for a batch of {n} works \
                 (one, one and 6 per work)",
                winner.len(),
                rejected.len(),
                parts.len()
            )));
        }
        let term = |c: usize, i: usize| parts[c * n + i];
        out.extend((0..n).map(|i| Pick {
            winner: (winner[i] != NO_WINNER).then_some(winner[i]),
            parts: ScoreParts {
                resource: term(0, i),
                starting: term(1, i),
                same_process: term(2, i),
                tasks: term(3, i),
                bin_pack: term(4, i),
                plugin: term(5, i),
            },
            rejected: rejected[i],
        }));
        Ok(())
    }
}

session_calls!();
