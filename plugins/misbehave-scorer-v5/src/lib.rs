//! A `diego:placement@0.5.0` scorer that misbehaves on purpose in `place-batch` (the guest
//! walks and picks a batch of works), chosen by the "mode" param, so the host's limits and
//! the auction's checks of batch picks are tested against real guest code.
//!
//! It wraps the SDK's 0.5 round over a scorer that computes nothing (every candidate totals 1
//! in `plugin`, so the first candidate with room in the walk's order wins): behaving, it is
//! the floor of a batch-placing guest (the walk, no arithmetic). Misbehaving, it edits the
//! SDK's answer. Modes: 1 loops forever, 2 allocates without bound, 3 traps, 4 picks a cell
//! without room, 5 picks with a NaN total, 6 answers one pick fewer than works, 7 claims no
//! winner while rejecting nothing, 8 picks a cell position outside the round, 9 traps in
//! `intern`. Anything else behaves. "after" is the number of works (over the round) placed
//! right before the bad pick, so a batch can go wrong in its middle. `score` and `explain`
//! behave (the SDK's, every cell 1).

use std::cell::{Cell as Counter, RefCell};

use diego_plugin_sdk::bindings::diego::placement::types::{
    Cells, Param, Picks, Process, Scores, Verdict, Work, Works,
};
use diego_plugin_sdk::bindings::exports::diego::placement::score::{Guest, GuestRound};
use diego_plugin_sdk::{Cell, CellLoad, Params, Round, Scorer, Verdict as Answer, Work as Job};

const PART_COLUMNS: usize = 6;
const PLUGIN: usize = 5;
const NO_WINNER: u32 = u32::MAX;

/// Every candidate scores 1: the walk without arithmetic.
struct Floor;

impl Scorer for Floor {
    fn new(_params: &Params, _cells: &[Cell]) -> Self {
        Floor
    }

    fn score(&self, _work: &Job<'_>, _cell: &Cell, _load: &CellLoad) -> Answer {
        Answer::plugin(1.0)
    }

    fn total(&self, _work: &Job<'_>, _cell: &Cell, _load: &CellLoad) -> Option<f64> {
        Some(1.0)
    }
}

/// Free resources per cell, kept from the picks (enough to find a cell without room).
#[derive(Clone)]
struct Free {
    memory_mb: Vec<i32>,
    disk_mb: Vec<i32>,
    containers: Vec<i32>,
}

struct Misbehave;

struct Wrapped {
    round: Round<Floor>,
    mode: u32,
    after: u32,
    /// Works answered so far in the round.
    works: Counter<u32>,
    free: RefCell<Free>,
}

fn param(params: &[Param], name: &str) -> f64 {
    params
        .iter()
        .find(|p| p.name == name)
        .map_or(0.0, |p| p.value)
}

impl GuestRound for Wrapped {
    fn new(params: Vec<Param>, strings: Vec<String>, lists: Vec<Vec<u32>>, cells: Cells) -> Self {
        let free = Free {
            memory_mb: cells.available_memory_mb.clone(),
            disk_mb: cells.available_disk_mb.clone(),
            containers: cells.available_containers.clone(),
        };
        Wrapped {
            mode: param(&params, "mode") as u32,
            after: param(&params, "after") as u32,
            works: Counter::new(0),
            free: RefCell::new(free),
            round: Round::new(params, strings, lists, cells),
        }
    }

    fn intern(
        &self,
        strings: Vec<String>,
        lists: Vec<Vec<u32>>,
        sets: Vec<Vec<Vec<u32>>>,
        processes: Vec<Process>,
    ) {
        if self.mode == 9 {
            std::process::abort();
        }
        self.round.intern(strings, lists, sets, processes);
    }

    fn place_batch(&self, works: Works, budget: u32) -> Picks {
        let (memory, disk) = (works.memory_mb.clone(), works.disk_mb.clone());
        let mut picks = self.round.place_batch(works, budget);
        let n = picks.winner.len();
        let first = self.works.get();
        self.works.set(first + n as u32);
        // The bad pick: work `after - first` of this batch, if it is in it.
        let bad = self
            .after
            .checked_sub(first)
            .map(|i| i as usize)
            .filter(|&i| i < n);
        if let Some(i) = bad {
            match self.mode {
                1 => {
                    let mut spins: u64 = 0;
                    loop {
                        spins = std::hint::black_box(spins.wrapping_add(1));
                    }
                }
                2 => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(vec![1u8; 1 << 20]);
                        std::hint::black_box(&hoard);
                    }
                }
                3 => std::process::abort(),
                4 => {
                    // Replays the batch's picks before it on the free resources, then picks
                    // a cell without room for work `i`.
                    let mut free = self.free.borrow().clone();
                    for j in 0..i {
                        take(&mut free, picks.winner[j], memory[j], disk[j]);
                    }
                    let full = (0..free.containers.len()).find(|&c| {
                        free.containers[c] < 1
                            || free.memory_mb[c] < memory[i]
                            || free.disk_mb[c] < disk[i]
                    });
                    if let Some(c) = full {
                        picks.winner[i] = c as u32;
                    }
                }
                5 => picks.parts[PLUGIN * n + i] = f64::NAN,
                6 => {
                    picks.winner.pop();
                    picks.rejected.pop();
                    picks.parts.truncate(PART_COLUMNS * n.saturating_sub(1));
                }
                7 => {
                    picks.winner[i] = NO_WINNER;
                    picks.rejected[i] = 0;
                }
                8 => picks.winner[i] = 1_000,
                _ => {}
            }
        }
        let mut free = self.free.borrow_mut();
        for (j, &winner) in picks.winner.iter().enumerate() {
            take(&mut free, winner, memory[j], disk[j]);
        }
        picks
    }

    fn score(&self, work: Work, loads: Vec<i32>) -> Scores {
        self.round.score(work, loads)
    }

    fn explain(&self, work: Work, loads: Vec<i32>) -> Vec<Verdict> {
        self.round.explain(work, loads)
    }
}

/// Takes a work's resources from its winner's free resources (none for no winner).
fn take(free: &mut Free, winner: u32, memory_mb: i32, disk_mb: i32) {
    let c = winner as usize;
    if c < free.containers.len() {
        free.memory_mb[c] -= memory_mb;
        free.disk_mb[c] -= disk_mb;
        free.containers[c] -= 1;
    }
}

impl Guest for Misbehave {
    type Round = Wrapped;
}

diego_plugin_sdk::bindings::__export_placement!(Misbehave with_types_in diego_plugin_sdk::bindings);
