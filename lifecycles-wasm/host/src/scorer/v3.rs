//! `diego:placement@0.3.0`: rounds like 0.2, but every hot-path value is a flat list of
//! numbers the canonical ABI copies in bulk: cells go in columnar once per round, strings are
//! interned once per round (`intern` only when a work names a new one), each placement sends
//! its loads as one `list<s32>` of columns and gets one `list<f64>` of part columns back.
//! The round's store lives as long as the round; every call is re-armed with the full fuel
//! and a fresh epoch deadline, so one call cannot spend another's budget.

use diego_auction::{CellState, CellView, ScoreColumns, ScoreParts, WorkView};
use wasmtime::component::ResourceAny;
use wasmtime::Store;
use wasmtime_wasi::WasiCtxBuilder;

use super::flat::{self, LastString, Tables, WorkFields};
use super::{checked, BatchVerdict};
use crate::state::CallState;
use crate::{WasmError, WasmHost};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/placement/v0.3",
        world: "diego:placement/scorer",
    });
}

use bindings::diego::placement::types as wit;

pub(super) type Pre = bindings::ScorerPre<CallState>;

pub(super) fn pre(instance: wasmtime::component::InstancePre<CallState>) -> wasmtime::Result<Pre> {
    bindings::ScorerPre::new(instance)
}

/// One open round: its own store, instance and `round` resource.
pub struct Session<'h> {
    host: &'h WasmHost,
    store: Store<CallState>,
    bindings: bindings::Scorer,
    round: ResourceAny,
    cells: u32,
    tables: Tables,
    /// The interned empty list (placement tags and volume drivers are usually empty).
    empty_list: u32,
    /// The last work's guid, domain and rootfs.
    last: [LastString; 3],
    loads: Vec<i32>,
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
        };
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
        let (bindings, round) = open_round!(host, store, pre, params, strings, lists, columns)?;
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

    /// The work with its strings interned; sends the round's new strings first, if any.
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
        let wit_work = wit::Work {
            kind,
            guid: last_guid.intern(&mut self.tables, guid),
            index,
            domain: last_domain.intern(&mut self.tables, domain),
            memory_mb: work.memory_mb(),
            disk_mb: work.disk_mb(),
            rootfs: last_rootfs.intern(&mut self.tables, rootfs),
            placement_tags,
            volume_drivers,
        };
        if !self.tables.new_strings.is_empty() || !self.tables.new_lists.is_empty() {
            let (strings, lists) = self.tables.take_new();
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
                )
            })?;
        }
        Ok(wit_work)
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
