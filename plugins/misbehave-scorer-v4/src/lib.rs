//! A `diego:placement@0.4.0` scorer that misbehaves on purpose in `place` (the guest picks),
//! chosen by the "mode" param, so the host's limits and the auction's checks of a pick are
//! tested against real guest code. Raw bindings (not the SDK), since the SDK picks correctly.
//!
//! Modes: 1 loops forever, 2 allocates without bound, 3 traps, 4 picks a position outside the
//! group, 5 picks with a NaN term, 6 picks the group's first cell without room (if any),
//! 7 claims no winner while rejecting nothing, 9 traps in `intern`. Anything else behaves:
//! the first candidate with room wins with 1 in `plugin` (the floor of a picking guest: no
//! arithmetic). "after" delays the misbehaviour by that many calls. `score` and `explain`
//! behave (every cell scores 1).

wit_bindgen::generate!({
    path: "../../lifecycles-wasm/wit/placement/v0.4",
    world: "diego:placement/scorer",
});

use std::cell::{Cell as Counter, RefCell};

use diego::placement::types::{
    Cells, Param, Placed, Process, ScoreParts, Scored, Scores, Verdict, Work,
};
use exports::diego::placement::score::{Guest, GuestRound};

const LOAD_COLUMNS: usize = 8;
const PART_COLUMNS: usize = 6;
const PLUGIN: usize = 5;

const ONE: ScoreParts = ScoreParts {
    resource: 0.0,
    starting: 0.0,
    same_process: 0.0,
    tasks: 0.0,
    bin_pack: 0.0,
    plugin: 1.0,
};

struct Misbehave;

/// The round's loads, kept as the SDK keeps them (enough to find a cell with room).
struct Loads {
    memory_mb: Vec<i32>,
    disk_mb: Vec<i32>,
    containers: Vec<i32>,
    groups: Vec<Vec<u32>>,
}

struct Round {
    mode: u32,
    after: u32,
    calls: Counter<u32>,
    loads: RefCell<Loads>,
}

fn param(params: &[Param], name: &str) -> f64 {
    params
        .iter()
        .find(|p| p.name == name)
        .map_or(0.0, |p| p.value)
}

impl Round {
    /// Whether this call misbehaves (`after` calls have passed).
    fn misbehaves(&self) -> bool {
        let call = self.calls.get();
        self.calls.set(call + 1);
        call >= self.after
    }
}

impl GuestRound for Round {
    fn new(params: Vec<Param>, _strings: Vec<String>, _lists: Vec<Vec<u32>>, cells: Cells) -> Self {
        Round {
            mode: param(&params, "mode") as u32,
            after: param(&params, "after") as u32,
            calls: Counter::new(0),
            loads: RefCell::new(Loads {
                memory_mb: cells.available_memory_mb,
                disk_mb: cells.available_disk_mb,
                containers: cells.available_containers,
                groups: Vec::new(),
            }),
        }
    }

    fn intern(
        &self,
        _strings: Vec<String>,
        _lists: Vec<Vec<u32>>,
        groups: Vec<Vec<u32>>,
        _processes: Vec<Process>,
    ) {
        if self.mode == 9 {
            std::process::abort();
        }
        self.loads.borrow_mut().groups.extend(groups);
    }

    fn place(&self, work: Work, group: u32) -> Placed {
        let mut loads = self.loads.borrow_mut();
        // Taken out for the call (no copy), put back at the end.
        let cells = match loads.groups.get_mut(group as usize) {
            Some(cells) => std::mem::take(cells),
            None => Vec::new(),
        };
        let fits = |loads: &Loads, c: usize| {
            loads.memory_mb.get(c).is_some_and(|&m| m >= work.memory_mb)
                && loads.disk_mb.get(c).is_some_and(|&d| d >= work.disk_mb)
                && loads.containers.get(c).is_some_and(|&n| n >= 1)
        };
        let mut winner = cells.iter().position(|&c| fits(&loads, c as usize));
        let mut parts = ONE;
        let mut rejected = 0;
        if self.misbehaves() {
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
                4 => winner = Some(cells.len() + 7),
                5 => parts.plugin = f64::NAN,
                6 => {
                    if let Some(full) = cells.iter().position(|&c| !fits(&loads, c as usize)) {
                        winner = Some(full);
                    }
                }
                7 => {
                    winner = None;
                    rejected = 0;
                }
                _ => {}
            }
        }
        if let Some(&c) = winner.and_then(|w| cells.get(w)) {
            let c = c as usize;
            if let Some(m) = loads.memory_mb.get_mut(c) {
                *m -= work.memory_mb;
            }
            if let Some(d) = loads.disk_mb.get_mut(c) {
                *d -= work.disk_mb;
            }
            if let Some(n) = loads.containers.get_mut(c) {
                *n -= 1;
            }
        }
        if let Some(slot) = loads.groups.get_mut(group as usize) {
            *slot = cells;
        }
        Placed {
            winner: winner.map(|w| w as u32),
            parts,
            rejected,
        }
    }

    fn score(&self, _work: Work, loads: Vec<i32>) -> Scores {
        let n = loads.len() / LOAD_COLUMNS;
        let mut parts = vec![0.0; PART_COLUMNS * n];
        parts[PLUGIN * n..].fill(1.0);
        Scores {
            parts,
            rejected: Vec::new(),
        }
    }

    fn explain(&self, _work: Work, loads: Vec<i32>) -> Vec<Verdict> {
        (0..loads.len() / LOAD_COLUMNS)
            .map(|_| {
                Verdict::Score(Scored {
                    parts: ONE,
                    named: Vec::new(),
                })
            })
            .collect()
    }
}

impl Guest for Misbehave {
    type Round = Round;
}

export!(Misbehave);
