//! A `diego:placement@0.2.0` scorer that misbehaves on purpose, chosen by the "mode" param, so
//! the host's limits and output checks are tested against real guest code. Raw bindings (not
//! the SDK), since the SDK cannot produce malformed output.
//!
//! Modes: 1 loops forever, 2 allocates without bound, 3 traps, 4 returns one score too few,
//! 5 returns a NaN score, 6 rejects a position that is not in the call, 7 sleeps in a host
//! call (only the epoch deadline stops it), 8 traps when the round opens. Anything else
//! behaves: every cell scores 1 in `plugin`. "after" delays the misbehaviour by that many
//! calls, so a failure in the middle of an auction is tested too.

wit_bindgen::generate!({
    path: "../../lifecycles-wasm/wit/placement/v0.2",
    world: "diego:placement/scorer",
});

use std::cell::Cell as Counter;

use diego::placement::types::{
    Cell, CellLoad, Param, Rejection, ScoreParts, Scored, Scores, Verdict, Work,
};
use exports::diego::placement::score::{Guest, GuestRound};

struct Misbehave;

struct Round {
    mode: u32,
    after: u32,
    calls: Counter<u32>,
}

const ONE: ScoreParts = ScoreParts {
    resource: 0.0,
    starting: 0.0,
    same_process: 0.0,
    tasks: 0.0,
    bin_pack: 0.0,
    plugin: 1.0,
};

fn param(params: &[Param], name: &str) -> f64 {
    params
        .iter()
        .find(|p| p.name == name)
        .map_or(0.0, |p| p.value)
}

impl Round {
    /// Misbehaves per `mode` once `after` calls have passed; returns the (possibly broken)
    /// parts and rejections of a call over `loads`.
    fn answer(&self, loads: &[CellLoad]) -> (Vec<ScoreParts>, Vec<Rejection>) {
        let call = self.calls.get();
        self.calls.set(call + 1);
        let mut parts = vec![ONE; loads.len()];
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
            4 => {
                parts.pop();
            }
            5 => {
                if let Some(first) = parts.first_mut() {
                    first.plugin = f64::NAN;
                }
            }
            6 => rejected.push(Rejection {
                position: loads.len() as u32 + 7,
                reason: "no such cell".into(),
            }),
            7 => loop {
                std::thread::sleep(std::time::Duration::from_millis(50));
            },
            _ => {}
        }
        (parts, rejected)
    }
}

impl GuestRound for Round {
    fn new(params: Vec<Param>, _cells: Vec<Cell>) -> Self {
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

    fn score(&self, _work: Work, loads: Vec<CellLoad>) -> Scores {
        let (parts, rejected) = self.answer(&loads);
        Scores { parts, rejected }
    }

    fn explain(&self, _work: Work, loads: Vec<CellLoad>) -> Vec<Verdict> {
        let (parts, _) = self.answer(&loads);
        parts
            .into_iter()
            .map(|parts| {
                Verdict::Score(Scored {
                    parts,
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
