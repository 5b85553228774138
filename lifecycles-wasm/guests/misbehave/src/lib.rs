//! A scorer that misbehaves on purpose, chosen by the "mode" param, so the host's limits can be
//! tested against real guest code: 1 loops forever, 2 allocates without bound, 3 traps,
//! 4 returns one verdict too few (malformed output), 5 sleeps in a host call (only the epoch
//! deadline can stop it, fuel is not burnt while blocked). Anything else behaves.

wit_bindgen::generate!({
    path: "../../wit/placement",
    world: "diego:placement/scorer",
});

use diego::placement::types::{Cell, Param, ScoreParts, Scored, Verdict, Work};
use exports::diego::placement::score::Guest;

struct Misbehave;

fn behave(cells: &[Cell]) -> Vec<Verdict> {
    let parts = ScoreParts {
        resource: 0.0,
        starting: 0.0,
        same_process: 0.0,
        tasks: 0.0,
        bin_pack: 0.0,
        plugin: 1.0,
    };
    cells
        .iter()
        .map(|_| {
            Verdict::Score(Scored {
                parts,
                named: Vec::new(),
            })
        })
        .collect()
}

impl Guest for Misbehave {
    fn score_batch(params: Vec<Param>, _work: Work, cells: Vec<Cell>) -> Vec<Verdict> {
        let mode = params
            .iter()
            .find(|p| p.name == "mode")
            .map_or(0.0, |p| p.value);
        match mode as u32 {
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
                let mut verdicts = behave(&cells);
                verdicts.pop();
                verdicts
            }
            5 => loop {
                std::thread::sleep(std::time::Duration::from_millis(50));
            },
            _ => behave(&cells),
        }
    }
}

export!(Misbehave);
