//! Test doubles around the in-process simulated reps: a sink that records
//! what the auctioneer reports, and a rep client that can hold calls back,
//! fail them, or hand work back.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diego_auction::{CellState, LrpStart, Resources, TaskStart};
use diego_auctioneer::sim::{SimCell, SimReps};
use diego_auctioneer::{Auctioneer, AuctioneerConfig, BoxFut, HandedBack, RepClient, ResultSink};
use diego_model::{ActualLrpKey, CellPresence};
use tokio::sync::watch;

pub const ROOTFS: &str = "preloaded:cflinuxfs4";

pub fn sim_cell(id: &str, zone: &str) -> Arc<SimCell> {
    SimCell::new(id, zone, Resources::new(4096, 8192, 100), &["cflinuxfs4"])
}

pub fn task(guid: &str) -> TaskStart {
    TaskStart::new(guid, 64, 64, ROOTFS)
}

pub fn lrp(guid: &str, index: i32) -> LrpStart {
    LrpStart::new(guid, index, 64, 64, ROOTFS)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    FailLrp {
        process_guid: String,
        index: i32,
        reason: String,
    },
    RejectTask {
        task_guid: String,
        reason: String,
    },
    Record {
        work_id: String,
        summary: String,
        cell_lines: Vec<String>,
    },
}

/// Records every result; `count` lets a test wait for the n-th one.
pub struct RecordingSink {
    events: Mutex<Vec<Event>>,
    count: watch::Sender<usize>,
}

impl RecordingSink {
    pub fn new() -> Arc<Self> {
        Arc::new(RecordingSink {
            events: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
        })
    }

    fn push(&self, e: Event) {
        let mut events = self.events.lock().unwrap();
        events.push(e);
        self.count.send_replace(events.len());
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    pub fn failures(&self) -> Vec<Event> {
        let all = self.events();
        all.into_iter()
            .filter(|e| !matches!(e, Event::Record { .. }))
            .collect()
    }

    /// The latest recorded decision for a work id.
    pub fn decision(&self, work_id: &str) -> Option<(String, Vec<String>)> {
        self.events().into_iter().rev().find_map(|e| match e {
            Event::Record {
                work_id: w,
                summary,
                cell_lines,
            } if w == work_id => Some((summary, cell_lines)),
            _ => None,
        })
    }

    /// Waits (on the test's clock) until `pred` holds over the events.
    pub async fn wait_until(&self, what: &str, pred: impl Fn(&[Event]) -> bool) {
        let mut rx = self.count.subscribe();
        let done = async {
            loop {
                if pred(&self.events()) {
                    return;
                }
                let _ = rx.changed().await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(60), done)
            .await
            .is_err()
        {
            panic!("timed out waiting for {what}; events: {:#?}", self.events());
        }
    }
}

impl ResultSink for RecordingSink {
    fn fail_lrp<'a>(&'a self, key: &'a ActualLrpKey, reason: &'a str) -> BoxFut<'a, ()> {
        self.push(Event::FailLrp {
            process_guid: key.process_guid.clone(),
            index: key.index,
            reason: reason.into(),
        });
        Box::pin(async {})
    }

    fn reject_task<'a>(&'a self, task_guid: &'a str, reason: &'a str) -> BoxFut<'a, ()> {
        self.push(Event::RejectTask {
            task_guid: task_guid.into(),
            reason: reason.into(),
        });
        Box::pin(async {})
    }

    fn record(&self, work_id: String, summary: String, cell_lines: Vec<String>) {
        self.push(Event::Record {
            work_id,
            summary,
            cell_lines,
        });
    }
}

/// One Perform as the cell saw it: lrp ids (`guid/index`) and task guids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Performed {
    pub cell_id: String,
    pub lrps: BTreeSet<String>,
    pub tasks: BTreeSet<String>,
}

/// Wraps `SimReps`. Calls wait while their gate is closed; cells listed in
/// `hang` never answer State, those in `broken` answer with an error, and
/// those in `hand_back` accept nothing.
pub struct Reps {
    pub sim: SimReps,
    pub state_gate: watch::Sender<bool>,
    pub perform_gate: watch::Sender<bool>,
    /// How many State / Perform calls have started.
    pub states_started: watch::Sender<usize>,
    pub performs_started: watch::Sender<usize>,
    pub performed: Mutex<Vec<Performed>>,
    pub hang: BTreeSet<String>,
    pub broken: BTreeSet<String>,
    pub hand_back: BTreeSet<String>,
}

impl Reps {
    pub fn new(cells: &[Arc<SimCell>]) -> Self {
        let sim = SimReps::default();
        for c in cells {
            sim.add(c.clone());
        }
        Reps {
            sim,
            state_gate: watch::channel(true).0,
            perform_gate: watch::channel(true).0,
            states_started: watch::channel(0).0,
            performs_started: watch::channel(0).0,
            performed: Mutex::new(Vec::new()),
            hang: BTreeSet::new(),
            broken: BTreeSet::new(),
            hand_back: BTreeSet::new(),
        }
    }

    pub fn performed(&self) -> Vec<Performed> {
        self.performed.lock().unwrap().clone()
    }
}

async fn pass(gate: &watch::Sender<bool>) {
    let mut rx = gate.subscribe();
    let _ = rx.wait_for(|open| *open).await;
}

/// Waits until a started-calls counter reaches `n`.
pub async fn started(counter: &watch::Sender<usize>, n: usize) {
    let mut rx = counter.subscribe();
    let _ = rx.wait_for(|c| *c >= n).await;
}

impl RepClient for Reps {
    fn state<'a>(&'a self, cell: &'a CellPresence) -> BoxFut<'a, Result<CellState, String>> {
        Box::pin(async move {
            self.states_started.send_modify(|n| *n += 1);
            pass(&self.state_gate).await;
            if self.hang.contains(&cell.cell_id) {
                std::future::pending::<()>().await;
            }
            if self.broken.contains(&cell.cell_id) {
                return Err("connection refused".into());
            }
            self.sim.state(cell).await
        })
    }

    fn perform<'a>(
        &'a self,
        cell: &'a CellPresence,
        lrps: Vec<LrpStart>,
        tasks: Vec<TaskStart>,
    ) -> BoxFut<'a, Result<HandedBack, String>> {
        Box::pin(async move {
            self.performed.lock().unwrap().push(Performed {
                cell_id: cell.cell_id.clone(),
                lrps: lrps
                    .iter()
                    .map(|l| format!("{}/{}", l.process_guid, l.index))
                    .collect(),
                tasks: tasks.iter().map(|t| t.task_guid.clone()).collect(),
            });
            self.performs_started.send_modify(|n| *n += 1);
            pass(&self.perform_gate).await;
            if self.hand_back.contains(&cell.cell_id) {
                return Ok((lrps, tasks));
            }
            self.sim.perform(cell, lrps, tasks).await
        })
    }
}

/// An auctioneer over `reps` (cells from `reps.sim`) reporting to a new sink.
pub fn auctioneer(reps: Arc<Reps>, config: AuctioneerConfig) -> (Auctioneer, Arc<RecordingSink>) {
    let sink = RecordingSink::new();
    let a = Auctioneer::new(Arc::new(reps.sim.clone()), reps, sink.clone(), config);
    (a, sink)
}

pub fn strings(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}
