//! A `diego:placement@0.3.0` scorer that misbehaves on purpose, chosen by the "mode" param, so
//! the host's limits and output checks are tested against real guest code on the 0.3 ABI.
//! Raw bindings (not the SDK), since the SDK cannot produce malformed output.
//!
//! Modes (as the 0.2 fixture `misbehave-scorer`): 1 loops forever, 2 allocates without bound,
//! 3 traps, 4 returns one score too few (five parts short), 5 returns a NaN score, 6 rejects a
//! position that is not in the call, 7 sleeps in a host call (only the epoch deadline stops
//! it), 8 traps when the round opens, 9 traps in `intern`. Anything else behaves: every cell
//! scores 1 in `plugin`. "after" delays the misbehaviour by that many calls, so a failure in
//! the middle of an auction is tested too.

wit_bindgen::generate!({
    path: "../../lifecycles-wasm/wit/placement/v0.3",
    world: "diego:placement/scorer",
});

use std::cell::Cell as Counter;

use diego::placement::types::{Cells, Param, ScoreParts, Scored, Scores, Verdict, Work};
use exports::diego::placement::score::{Guest, GuestRound};

/// Columns of a placement's loads and of its parts.
const LOAD_COLUMNS: usize = 8;
const PART_COLUMNS: usize = 6;
/// The `plugin` column.
const PLUGIN: usize = 5;

struct Misbehave;

struct Round {
    mode: u32,
    after: u32,
    calls: Counter<u32>,
}

fn param(params: &[Param], name: &str) -> f64 {
    params
        .iter()
        .find(|p| p.name == name)
        .map_or(0.0, |p| p.value)
}

impl Round {
    /// Misbehaves per `mode` once `after` calls have passed; returns the (possibly broken)
    /// part columns and rejections of a call over `n` cells.
    fn answer(&self, n: usize) -> (Vec<f64>, Vec<u32>) {
        let call = self.calls.get();
        self.calls.set(call + 1);
        let mut parts = vec![0.0; PART_COLUMNS * n];
        parts[PLUGIN * n..].fill(1.0);
        let mut rejected = Vec::new();
        if call < self.after {
            return (parts, rejected);
        }
        match self.mode {
            1 => {
                let mut spins: u64 = 0;
                loop {
                    // black_box keeps the loop from being proven infinite and removed.
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
            4 => parts.truncate(parts.len().saturating_sub(PART_COLUMNS)),
            5 => {
                if let Some(first) = parts.get_mut(PLUGIN * n) {
                    *first = f64::NAN;
                }
            }
            6 => rejected.push(n as u32 + 7),
            7 => loop {
                std::thread::sleep(std::time::Duration::from_millis(50));
            },
            _ => {}
        }
        (parts, rejected)
    }
}

impl GuestRound for Round {
    fn new(params: Vec<Param>, _strings: Vec<String>, _lists: Vec<Vec<u32>>, _: Cells) -> Self {
        let mode = param(&params, "mode") as u32;
        if mode == 8 {
            std::process::abort();
        }
        Round {
            mode,
            after: param(&params, "after") as u32,
            calls: Counter::new(0),
        }
    }

    fn intern(&self, _strings: Vec<String>, _lists: Vec<Vec<u32>>) {
        if self.mode == 9 {
            std::process::abort();
        }
    }

    fn score(&self, _work: Work, loads: Vec<i32>) -> Scores {
        let (parts, rejected) = self.answer(loads.len() / LOAD_COLUMNS);
        Scores { parts, rejected }
    }

    fn explain(&self, _work: Work, loads: Vec<i32>) -> Vec<Verdict> {
        let n = loads.len() / LOAD_COLUMNS;
        let (parts, _) = self.answer(n);
        let cells = parts.len() / PART_COLUMNS;
        let column = |c: usize, i: usize| parts[c * cells + i];
        (0..cells)
            .map(|i| {
                Verdict::Score(Scored {
                    parts: ScoreParts {
                        resource: column(0, i),
                        starting: column(1, i),
                        same_process: column(2, i),
                        tasks: column(3, i),
                        bin_pack: column(4, i),
                        plugin: column(PLUGIN, i),
                    },
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
