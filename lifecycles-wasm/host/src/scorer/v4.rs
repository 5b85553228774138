//! `diego:placement@0.4.0` (ADR 0026): 0.3's rounds (columnar cells, interned strings, loads
//! and parts as flat number lists for `score` and `explain`), plus `place`: the guest keeps
//! the round's loads (sent once, with the cells) and picks a placement's winner itself, so a
//! placement is one guest call with numbers in and numbers out. The candidate groups `place`
//! names and the instances already on the cells of each process are interned like strings.
//! The auction checks every pick (diego-auction `Auction::pick`). The round's store lives as
//! long as the round; every call is re-armed with the full fuel and a fresh epoch deadline.

use std::collections::HashMap;

use diego_auction::{CellState, Pick, ScoreParts, WorkView};
use wasmtime::component::ResourceAny;
use wasmtime::Store;
use wasmtime_wasi::WasiCtxBuilder;

use super::checked;
use super::flat::FxBuild;
use super::picking::{session_calls, wit_conversions, RoundTables};
use crate::state::CallState;
use crate::{WasmError, WasmHost};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/placement/v0.4",
        world: "diego:placement/scorer",
    });
}

wit_conversions!(bindings::diego::placement::types);

pub(super) type Pre = bindings::ScorerPre<CallState>;

pub(super) fn pre(instance: wasmtime::component::InstancePre<CallState>) -> wasmtime::Result<Pre> {
    bindings::ScorerPre::new(instance)
}

/// What `place` adds to the round's tables, host side: the candidate groups (what the guest
/// has been sent, or will be with the next `intern`, by index).
#[derive(Default)]
struct Groups {
    groups: HashMap<Vec<u32>, u32, FxBuild>,
    new_groups: Vec<Vec<u32>>,
}

impl Groups {
    fn group(&mut self, cells: &[u32]) -> u32 {
        if let Some(&index) = self.groups.get(cells) {
            return index;
        }
        let index = self.groups.len() as u32;
        self.groups.insert(cells.to_vec(), index);
        self.new_groups.push(cells.to_vec());
        index
    }
}

/// One open round: its own store, instance and `round` resource.
pub struct Session<'h> {
    host: &'h WasmHost,
    store: Store<CallState>,
    bindings: bindings::Scorer,
    round: ResourceAny,
    tables: RoundTables,
    groups: Groups,
    /// The last group `place` named, and its index.
    last_group: (Vec<u32>, u32),
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
            groups: Groups::default(),
            last_group: (Vec::new(), u32::MAX),
        })
    }

    /// Sends what the tables gained since the last call, if anything (`intern`).
    fn send_new(&mut self) -> Result<(), WasmError> {
        if self.tables.has_new() || !self.groups.new_groups.is_empty() {
            let (strings, lists) = self.tables.tables.take_new();
            let processes = wit_processes(std::mem::take(&mut self.tables.new_processes));
            let groups = std::mem::take(&mut self.groups.new_groups);
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
                    &groups,
                    &processes,
                )
            })?;
        }
        Ok(())
    }

    /// The auction's hot path when the round picks (ADR 0026): one `place` call, the group
    /// interned (the last group is compared first: consecutive placements often share it).
    /// The pick is checked here for what the host glue can see (numbers, the winner's
    /// position); the auction checks the rest against its own state.
    pub fn place(&mut self, work: &WorkView<'_>, candidates: &[u32]) -> Result<Pick, WasmError> {
        let work = wit_work(self.tables.work(work));
        if let Some(&id) = candidates.iter().find(|&&id| id >= self.tables.cells) {
            return Err(WasmError::Host(format!(
                "cell position {id} outside the round's {} cells",
                self.tables.cells
            )));
        }
        let group = if self.last_group.1 != u32::MAX && self.last_group.0 == candidates {
            self.last_group.1
        } else {
            let index = self.groups.group(candidates);
            self.last_group.0.clear();
            self.last_group.0.extend_from_slice(candidates);
            self.last_group.1 = index;
            index
        };
        self.send_new()?;
        self.rearm();
        let Session {
            host,
            store,
            bindings,
            round,
            ..
        } = self;
        let placed = host.run(store, |store| {
            bindings
                .diego_placement_score()
                .round()
                .call_place(&mut *store, *round, work, group)
        })?;
        if let Some(winner) = placed.winner {
            if winner as usize >= candidates.len() {
                return Err(WasmError::Malformed(format!(
                    "winner at position {winner} of a group of {} cells",
                    candidates.len()
                )));
            }
        }
        let parts = placed.parts;
        let parts = ScoreParts {
            resource: parts.resource,
            starting: parts.starting,
            same_process: parts.same_process,
            tasks: parts.tasks,
            bin_pack: parts.bin_pack,
            plugin: parts.plugin,
        };
        Ok(Pick {
            winner: placed.winner,
            parts: match placed.winner {
                Some(_) => checked(parts)?,
                None => parts,
            },
            rejected: placed.rejected,
        })
    }
}

session_calls!();
