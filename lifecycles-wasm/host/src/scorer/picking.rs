//! The host side of a round whose guest keeps the auction's loads (0.4.0 and 0.5.0; ADRs 0026
//! and 0029), independent of their generated bindings: the cells with their loads at the
//! round's start, the round's tables, the works' fields interned, the instances already on
//! the cells of each process named, and the loads sent with `score`/`explain`. Each version
//! converts these plain values into its own bindings' records (`wit_conversions!`).

use std::collections::HashMap;

use diego_auction::{bin_pack_indices, CellState, CellView, WorkView};

use super::flat::{self, LastString, Tables, WorkFields};
use crate::WasmError;

/// The round's cells, columnar (the WIT's `cells`): eight fixed columns, then the loads at
/// the round's start.
pub(super) struct CellColumns {
    pub(super) cell_id: Vec<u32>,
    pub(super) zone: Vec<u32>,
    pub(super) total_memory_mb: Vec<i32>,
    pub(super) total_disk_mb: Vec<i32>,
    pub(super) total_containers: Vec<i32>,
    pub(super) proxy_memory_mb: Vec<i32>,
    pub(super) placement_tags: Vec<u32>,
    pub(super) optional_placement_tags: Vec<u32>,
    pub(super) available_memory_mb: Vec<i32>,
    pub(super) available_disk_mb: Vec<i32>,
    pub(super) available_containers: Vec<i32>,
    pub(super) starting_container_count: Vec<i32>,
    pub(super) tasks: Vec<i32>,
    pub(super) bin_pack_index: Vec<i32>,
}

/// A work's fields as the ABI sends them (the WIT's `work`), strings by table index.
#[derive(Clone, Copy)]
pub(super) struct FlatWork {
    pub(super) lrp: bool,
    pub(super) guid: u32,
    pub(super) index: i32,
    pub(super) domain: u32,
    pub(super) memory_mb: i32,
    pub(super) disk_mb: i32,
    pub(super) rootfs: u32,
    pub(super) placement_tags: u32,
    pub(super) volume_drivers: u32,
}

/// The instances of one process already on the cells (the WIT's `process`).
pub(super) struct NewProcess {
    pub(super) guid: u32,
    pub(super) cells: Vec<u32>,
    pub(super) counts: Vec<u32>,
}

/// What the host keeps of a round whose guest keeps the loads.
pub(super) struct RoundTables {
    /// The round's cell count: every position sent must be below it.
    pub(super) cells: u32,
    pub(super) tables: Tables,
    /// The interned empty list (placement tags and volume drivers are usually empty).
    empty_list: u32,
    /// The last work's guid, domain and rootfs.
    last: [LastString; 3],
    /// Instances already on the cells, by process guid: (cell positions, counts).
    instances: HashMap<String, (Vec<u32>, Vec<u32>)>,
    /// By string index: whether that string's process instances were sent (or queued).
    processes_sent: Vec<bool>,
    /// Processes to send with the next `intern`.
    pub(super) new_processes: Vec<NewProcess>,
    /// The loads of a `score`/`explain` call.
    pub(super) loads: Vec<i32>,
}

impl RoundTables {
    /// The tables of a round over `cells`, and the cells' columns to open it with.
    pub(super) fn open(cells: &[&CellState]) -> (Self, CellColumns) {
        let mut tables = Tables::default();
        let empty_list = tables.list(&[]);
        let n = cells.len();
        let mut columns = CellColumns {
            cell_id: Vec::with_capacity(n),
            zone: Vec::with_capacity(n),
            total_memory_mb: Vec::with_capacity(n),
            total_disk_mb: Vec::with_capacity(n),
            total_containers: Vec::with_capacity(n),
            proxy_memory_mb: Vec::with_capacity(n),
            placement_tags: Vec::with_capacity(n),
            optional_placement_tags: Vec::with_capacity(n),
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
        let round = RoundTables {
            cells: n as u32,
            tables,
            empty_list,
            last: Default::default(),
            instances,
            processes_sent: Vec::new(),
            new_processes: Vec::new(),
            loads: Vec::new(),
        };
        (round, columns)
    }

    fn list(&mut self, values: &[String]) -> u32 {
        if values.is_empty() {
            self.empty_list
        } else {
            self.tables.list(values)
        }
    }

    /// The work with its strings interned and, for a process named for the first time, its
    /// instances on the cells queued: what is new goes with the next `intern`.
    pub(super) fn work(&mut self, work: &WorkView<'_>) -> FlatWork {
        let WorkFields {
            lrp,
            guid,
            index,
            domain,
            rootfs,
            placement_tags: tags,
            volume_drivers: drivers,
        } = WorkFields::of(work);
        let placement_tags = self.list(tags);
        let volume_drivers = self.list(drivers);
        let [last_guid, last_domain, last_rootfs] = &mut self.last;
        let guid_index = last_guid.intern(&mut self.tables, guid);
        if lrp {
            let sent = &mut self.processes_sent;
            if sent.len() <= guid_index as usize {
                sent.resize(guid_index as usize + 1, false);
            }
            if !sent[guid_index as usize] {
                sent[guid_index as usize] = true;
                if let Some((cells, counts)) = self.instances.get(guid) {
                    self.new_processes.push(NewProcess {
                        guid: guid_index,
                        cells: cells.clone(),
                        counts: counts.clone(),
                    });
                }
            }
        }
        FlatWork {
            lrp,
            guid: guid_index,
            index,
            domain: last_domain.intern(&mut self.tables, domain),
            memory_mb: work.memory_mb(),
            disk_mb: work.disk_mb(),
            rootfs: last_rootfs.intern(&mut self.tables, rootfs),
            placement_tags,
            volume_drivers,
        }
    }

    /// Whether strings, lists or processes are waiting for an `intern`.
    pub(super) fn has_new(&self) -> bool {
        !(self.tables.new_strings.is_empty()
            && self.tables.new_lists.is_empty()
            && self.new_processes.is_empty())
    }

    /// The loads of `cells` (at positions `ids`) into `loads`, for `score`/`explain`.
    pub(super) fn fill_loads(
        &mut self,
        ids: &[u32],
        cells: &[CellView<'_>],
    ) -> Result<(), WasmError> {
        flat::fill_loads(&mut self.loads, self.cells, ids, cells)
    }
}

/// Conversions from this module's plain values into one version's generated records (the
/// records are the same in 0.4.0 and 0.5.0, but each bindgen makes its own types).
macro_rules! wit_conversions {
    ($wit:path) => {
        use $wit as wit_types;

        fn wit_work(work: super::picking::FlatWork) -> wit_types::Work {
            wit_types::Work {
                kind: if work.lrp {
                    wit_types::WorkKind::Lrp
                } else {
                    wit_types::WorkKind::Task
                },
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

        fn wit_cells(c: super::picking::CellColumns) -> wit_types::Cells {
            wit_types::Cells {
                cell_id: c.cell_id,
                zone: c.zone,
                total_memory_mb: c.total_memory_mb,
                total_disk_mb: c.total_disk_mb,
                total_containers: c.total_containers,
                proxy_memory_mb: c.proxy_memory_mb,
                placement_tags: c.placement_tags,
                optional_placement_tags: c.optional_placement_tags,
                available_memory_mb: c.available_memory_mb,
                available_disk_mb: c.available_disk_mb,
                available_containers: c.available_containers,
                starting_container_count: c.starting_container_count,
                tasks: c.tasks,
                bin_pack_index: c.bin_pack_index,
            }
        }

        fn wit_processes(new: Vec<super::picking::NewProcess>) -> Vec<wit_types::Process> {
            new.into_iter()
                .map(|p| wit_types::Process {
                    guid: p.guid,
                    cells: p.cells,
                    counts: p.counts,
                })
                .collect()
        }

        fn wit_params(params: &[(String, f64)]) -> Vec<wit_types::Param> {
            params
                .iter()
                .map(|(name, value)| wit_types::Param {
                    name: name.clone(),
                    value: *value,
                })
                .collect()
        }

        /// `explain`'s verdicts, checked: one per cell, numbers only, no `-inf` total.
        fn take_verdicts(
            verdicts: Vec<wit_types::Verdict>,
            cells: usize,
        ) -> Result<Vec<super::BatchVerdict>, crate::WasmError> {
            if verdicts.len() != cells {
                return Err(crate::WasmError::Malformed(format!(
                    "{} verdicts for {cells} cells",
                    verdicts.len(),
                )));
            }
            verdicts
                .into_iter()
                .map(|verdict| {
                    Ok(match verdict {
                        wit_types::Verdict::Reject(reason) => super::BatchVerdict::Reject(reason),
                        wit_types::Verdict::Score(scored) => super::BatchVerdict::Score {
                            parts: super::checked(diego_auction::ScoreParts {
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
    };
}

/// The calls a 0.4 and a 0.5 session make alike (`score`, `explain`, re-arming): the same
/// code over each version's bindings. The session type must have the fields `host`, `store`,
/// `bindings`, `round` and `tables` (a `RoundTables`) and a `send_new` method.
macro_rules! session_calls {
    () => {
        impl Session<'_> {
            /// Full fuel and a fresh deadline for the next call.
            fn rearm(&mut self) {
                super::flat::rearm(self.host, &mut self.store);
            }

            /// One `score` call, checked: six parts per cell, numbers only, no `-inf` total,
            /// rejections naming positions of this call. Leaves the parts (columns) in
            /// `out.parts`, the totals in `out.totals` (`+inf` for a rejected cell) and
            /// returns the rejections.
            pub fn score_columns(
                &mut self,
                work: &diego_auction::WorkView<'_>,
                ids: &[u32],
                cells: &[diego_auction::CellView<'_>],
                out: &mut diego_auction::ScoreColumns,
            ) -> Result<Vec<u32>, crate::WasmError> {
                let n = cells.len();
                let work = wit_work(self.tables.work(work));
                self.send_new()?;
                self.tables.fill_loads(ids, cells)?;
                self.rearm();
                let Session {
                    host,
                    store,
                    bindings,
                    round,
                    tables,
                    ..
                } = self;
                let scores = host.run(store, |store| {
                    bindings.diego_placement_score().round().call_score(
                        &mut *store,
                        *round,
                        work,
                        &tables.loads,
                    )
                })?;
                super::flat::take_scores(scores.parts, &scores.rejected, n, out)?;
                Ok(scores.rejected)
            }

            /// Parts per cell (`None` = rejected), checked like `score_columns`.
            pub fn score(
                &mut self,
                work: &diego_auction::WorkView<'_>,
                ids: &[u32],
                cells: &[diego_auction::CellView<'_>],
                out: &mut Vec<Option<diego_auction::ScoreParts>>,
            ) -> Result<(), crate::WasmError> {
                let mut columns = diego_auction::ScoreColumns::default();
                let rejected = self.score_columns(work, ids, cells, &mut columns)?;
                super::flat::parts_by_position(&columns, &rejected, cells.len(), out);
                Ok(())
            }

            /// One verdict per cell with reasons and named terms, checked like `score`.
            pub fn explain(
                &mut self,
                work: &diego_auction::WorkView<'_>,
                ids: &[u32],
                cells: &[diego_auction::CellView<'_>],
            ) -> Result<Vec<super::BatchVerdict>, crate::WasmError> {
                let work = wit_work(self.tables.work(work));
                self.send_new()?;
                self.tables.fill_loads(ids, cells)?;
                self.rearm();
                let Session {
                    host,
                    store,
                    bindings,
                    round,
                    tables,
                    ..
                } = self;
                let verdicts = host.run(store, |store| {
                    bindings.diego_placement_score().round().call_explain(
                        &mut *store,
                        *round,
                        work,
                        &tables.loads,
                    )
                })?;
                take_verdicts(verdicts, cells.len())
            }
        }
    };
}

pub(super) use {session_calls, wit_conversions};
