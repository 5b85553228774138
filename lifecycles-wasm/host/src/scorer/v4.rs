//! `diego:placement@0.4.0` (ADR 0026): 0.3's rounds (columnar cells, interned strings, loads
//! and parts as flat number lists for `score` and `explain`), plus `place`: the guest keeps
//! the round's loads (sent once, with the cells) and picks a placement's winner itself, so a
//! placement is one guest call with numbers in and numbers out. The candidate groups `place`
//! names and the instances already on the cells of each process are interned like strings.
//! The auction checks every pick (diego-auction `Auction::pick`). The round's store lives as
//! long as the round; every call is re-armed with the full fuel and a fresh epoch deadline.

use std::collections::HashMap;

use diego_auction::{
    bin_pack_indices, CellState, CellView, Pick, ScoreColumns, ScoreParts, WorkView,
};
use wasmtime::component::ResourceAny;
use wasmtime::Store;
use wasmtime_wasi::WasiCtxBuilder;

use super::flat::{self, LastString, Tables, WorkFields};
use super::{checked, BatchVerdict};
use crate::state::CallState;
use crate::{WasmError, WasmHost};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/placement/v0.4",
        world: "diego:placement/scorer",
    });
}

use bindings::diego::placement::types as wit;

pub(super) type Pre = bindings::ScorerPre<CallState>;

pub(super) fn pre(instance: wasmtime::component::InstancePre<CallState>) -> wasmtime::Result<Pre> {
    bindings::ScorerPre::new(instance)
}

/// FxHash (rustc's): the group table is looked up once per placement with a list of cell
/// positions as the key, where SipHash's cost would show.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
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

type FxBuild = std::hash::BuildHasherDefault<Fx>;

/// What `place` adds to the round's tables, host side: candidate groups (what the guest has
/// been sent, or will be with the next `intern`, by index) and the processes whose instances
/// on the cells it has been sent.
#[derive(Default)]
struct Groups {
    groups: HashMap<Vec<u32>, u32, FxBuild>,
    new_groups: Vec<Vec<u32>>,
    new_processes: Vec<wit::Process>,
    /// By string index: whether that string's process instances were sent.
    processes_sent: Vec<bool>,
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
    cells: u32,
    tables: Tables,
    groups: Groups,
    /// The interned empty list (placement tags and volume drivers are usually empty).
    empty_list: u32,
    /// The last work's guid, domain and rootfs.
    last: [LastString; 3],
    loads: Vec<i32>,
    /// Instances already on the cells, by process guid: (cell positions, counts).
    instances: HashMap<String, (Vec<u32>, Vec<u32>)>,
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
        let params: Vec<wit::Param> = params
            .iter()
            .map(|(name, value)| wit::Param {
                name: name.clone(),
                value: *value,
            })
            .collect();
        let mut tables = Tables::default();
        let empty_list = tables.list(&[]);
        let mut columns = wit::Cells {
            cell_id: Vec::with_capacity(cells.len()),
            zone: Vec::with_capacity(cells.len()),
            total_memory_mb: Vec::with_capacity(cells.len()),
            total_disk_mb: Vec::with_capacity(cells.len()),
            total_containers: Vec::with_capacity(cells.len()),
            proxy_memory_mb: Vec::with_capacity(cells.len()),
            placement_tags: Vec::with_capacity(cells.len()),
            optional_placement_tags: Vec::with_capacity(cells.len()),
            available_memory_mb: cells.iter().map(|c| c.available.memory_mb).collect(),
            available_disk_mb: cells.iter().map(|c| c.available.disk_mb).collect(),
            available_containers: cells.iter().map(|c| c.available.containers).collect(),
            starting_container_count: cells.iter().map(|c| c.starting_container_count).collect(),
            // A cell's containers are an i32, so its tasks fit one.
            tasks: cells.iter().map(|c| c.task_guids.len() as i32).collect(),
            bin_pack_index: bin_pack_indices(cells),
        };
        let mut instances: HashMap<String, (Vec<u32>, Vec<u32>)> = HashMap::new();
        for (position, cell) in cells.iter().enumerate() {
            for lrp in &cell.lrps {
                let (on, counts) = instances.entry(lrp.process_guid.clone()).or_default();
                match on.iter().position(|&c| c == position as u32) {
                    Some(at) => counts[at] += 1,
                    None => {
                        on.push(position as u32);
                        counts.push(1);
                    }
                }
            }
        }
        for cell in cells {
            columns.cell_id.push(tables.string(&cell.cell_id));
            columns.zone.push(tables.string(&cell.zone));
            columns.total_memory_mb.push(cell.total.memory_mb);
            columns.total_disk_mb.push(cell.total.disk_mb);
            columns.total_containers.push(cell.total.containers);
            columns.proxy_memory_mb.push(cell.proxy_memory_mb);
            columns
                .placement_tags
                .push(tables.list(&cell.placement_tags));
            columns
                .optional_placement_tags
                .push(tables.list(&cell.optional_placement_tags));
        }
        let (strings, lists) = tables.take_new();
        let mut store = host.store(WasiCtxBuilder::new(), 0);
        let (bindings, round) = host.run(&mut store, |store| {
            let bindings = pre.instantiate(&mut *store)?;
            let round = bindings.diego_placement_score().round().call_constructor(
                &mut *store,
                &params,
                &strings,
                &lists,
                &columns,
            )?;
            Ok((bindings, round))
        })?;
        Ok(Session {
            host,
            store,
            bindings,
            round,
            cells: cells.len() as u32,
            tables,
            empty_list,
            last: Default::default(),
            loads: Vec::new(),
            instances,
            groups: Groups::default(),
            last_group: (Vec::new(), u32::MAX),
        })
    }

    /// Full fuel and a fresh deadline for the next call.
    fn rearm(&mut self) {
        flat::rearm(self.host, &mut self.store);
    }

    fn list(&mut self, values: &[String]) -> u32 {
        if values.is_empty() {
            self.empty_list
        } else {
            self.tables.list(values)
        }
    }

    /// The work with its strings interned (and, for a process seen for the first time, its
    /// instances on the cells queued); `send_new` sends what is new before the call.
    fn work(&mut self, work: &WorkView<'_>) -> Result<wit::Work, WasmError> {
        let WorkFields {
            lrp,
            guid,
            index,
            domain,
            rootfs,
            placement_tags: tags,
            volume_drivers: drivers,
        } = WorkFields::of(work);
        let kind = if lrp {
            wit::WorkKind::Lrp
        } else {
            wit::WorkKind::Task
        };
        let placement_tags = self.list(tags);
        let volume_drivers = self.list(drivers);
        let [last_guid, last_domain, last_rootfs] = &mut self.last;
        let guid_index = last_guid.intern(&mut self.tables, guid);
        if matches!(kind, wit::WorkKind::Lrp) {
            let sent = &mut self.groups.processes_sent;
            if sent.len() <= guid_index as usize {
                sent.resize(guid_index as usize + 1, false);
            }
            if !sent[guid_index as usize] {
                sent[guid_index as usize] = true;
                if let Some((cells, counts)) = self.instances.get(guid) {
                    self.groups.new_processes.push(wit::Process {
                        guid: guid_index,
                        cells: cells.clone(),
                        counts: counts.clone(),
                    });
                }
            }
        }
        let wit_work = wit::Work {
            kind,
            guid: guid_index,
            index,
            domain: last_domain.intern(&mut self.tables, domain),
            memory_mb: work.memory_mb(),
            disk_mb: work.disk_mb(),
            rootfs: last_rootfs.intern(&mut self.tables, rootfs),
            placement_tags,
            volume_drivers,
        };
        Ok(wit_work)
    }

    /// Sends what the tables gained since the last call, if anything (`intern`).
    fn send_new(&mut self) -> Result<(), WasmError> {
        let new = &mut self.groups;
        let nothing_new = self.tables.new_strings.is_empty()
            && self.tables.new_lists.is_empty()
            && new.new_groups.is_empty()
            && new.new_processes.is_empty();
        if !nothing_new {
            let (strings, lists) = self.tables.take_new();
            let groups = std::mem::take(&mut new.new_groups);
            let processes = std::mem::take(&mut new.new_processes);
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
        let work = self.work(work)?;
        if let Some(&id) = candidates.iter().find(|&&id| id >= self.cells) {
            return Err(WasmError::Host(format!(
                "cell position {id} outside the round's {} cells",
                self.cells
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

    fn fill_loads(&mut self, ids: &[u32], cells: &[CellView<'_>]) -> Result<(), WasmError> {
        flat::fill_loads(&mut self.loads, self.cells, ids, cells)
    }

    /// One `score` call, checked: six parts per cell, numbers only, no `-inf` total,
    /// rejections naming positions of this call. Leaves the parts (columns) in `out.parts`,
    /// the totals in `out.totals` (`+inf` for a rejected cell) and returns the rejections.
    /// The auction's hot path.
    pub fn score_columns(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
        out: &mut ScoreColumns,
    ) -> Result<Vec<u32>, WasmError> {
        let n = cells.len();
        let work = self.work(work)?;
        self.send_new()?;
        self.fill_loads(ids, cells)?;
        self.rearm();
        let Session {
            host,
            store,
            bindings,
            round,
            loads,
            ..
        } = self;
        let wit::Scores { parts, rejected } = host.run(store, |store| {
            bindings
                .diego_placement_score()
                .round()
                .call_score(&mut *store, *round, work, loads)
        })?;
        flat::take_scores(parts, &rejected, n, out)?;
        Ok(rejected)
    }

    /// Parts per cell (`None` = rejected), checked like `score_columns`.
    pub fn score(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
        out: &mut Vec<Option<ScoreParts>>,
    ) -> Result<(), WasmError> {
        let mut columns = ScoreColumns::default();
        let rejected = self.score_columns(work, ids, cells, &mut columns)?;
        flat::parts_by_position(&columns, &rejected, cells.len(), out);
        Ok(())
    }

    /// One verdict per cell with reasons and named terms, checked like `score`.
    pub fn explain(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
    ) -> Result<Vec<BatchVerdict>, WasmError> {
        let work = self.work(work)?;
        self.send_new()?;
        self.fill_loads(ids, cells)?;
        self.rearm();
        let Session {
            host,
            store,
            bindings,
            round,
            loads,
            ..
        } = self;
        let verdicts = host.run(store, |store| {
            bindings
                .diego_placement_score()
                .round()
                .call_explain(&mut *store, *round, work, loads)
        })?;
        if verdicts.len() != cells.len() {
            return Err(WasmError::Malformed(format!(
                "{} verdicts for {} cells",
                verdicts.len(),
                cells.len()
            )));
        }
        verdicts
            .into_iter()
            .map(|verdict| {
                Ok(match verdict {
                    wit::Verdict::Reject(reason) => BatchVerdict::Reject(reason),
                    wit::Verdict::Score(scored) => BatchVerdict::Score {
                        parts: checked(ScoreParts {
                            resource: scored.parts.resource,
                            starting: scored.parts.starting,
                            same_process: scored.parts.same_process,
                            tasks: scored.parts.tasks,
                            bin_pack: scored.parts.bin_pack,
                            plugin: scored.parts.plugin,
                        })?,
                        named: scored.named,
                    },
                })
            })
            .collect()
    }
}
