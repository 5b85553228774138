//! Times `plan()` over a synthetic snapshot: 25,000 desired LRPs × 10
//! instances = 250,000 actual rows in mixed states, a few cells missing.
//! Run with `cargo run --release -p diego-convergence --example converge_bench`.

use std::collections::BTreeSet;
use std::time::Instant;

use diego_convergence::{plan, ConvergenceConfig, LrpAction, Snapshot};
use diego_model::{
    ActualLrp, ActualLrpKey, ActualState, InstanceKey, Presence, SchedulingInfo, NS_PER_S,
};

const DESIRED: usize = 25_000;
const INSTANCES: i32 = 10;
const CELLS: usize = 200;
const MISSING_CELLS: usize = 3;

fn snapshot(now_ns: i64) -> Snapshot {
    let mut desired = Vec::with_capacity(DESIRED);
    let mut actuals = Vec::with_capacity(DESIRED * INSTANCES as usize);
    for d in 0..DESIRED {
        let pg = format!("process-{d:06}");
        desired.push(SchedulingInfo {
            process_guid: pg.clone(),
            domain: "cf-apps".into(),
            instances: INSTANCES,
            ..Default::default()
        });
        for index in 0..INSTANCES {
            // A deterministic mix: mostly RUNNING, some of everything else.
            let n = d * INSTANCES as usize + index as usize;
            let (state, since_ago_s) = match n % 50 {
                0 => (ActualState::Unclaimed, 60),
                1 => (ActualState::Claimed, 5),
                2 => (ActualState::Crashed, 120),
                _ => (ActualState::Running, 600),
            };
            let cell = format!("cell-{:03}", n % CELLS);
            let placed = matches!(state, ActualState::Claimed | ActualState::Running);
            actuals.push(ActualLrp {
                key: ActualLrpKey::new(&pg, index, "cf-apps"),
                instance_key: if placed {
                    InstanceKey::new(&format!("{pg}-{index}"), &cell)
                } else {
                    InstanceKey::default()
                },
                state,
                crash_count: if state == ActualState::Crashed { 4 } else { 0 },
                since: now_ns - since_ago_s * NS_PER_S,
                presence: Presence::Ordinary,
                ..Default::default()
            });
        }
    }
    let cell_ids: BTreeSet<String> = (MISSING_CELLS..CELLS)
        .map(|c| format!("cell-{c:03}"))
        .collect();
    Snapshot {
        tasks: Vec::new(),
        desired,
        actuals,
        cell_ids: Some(cell_ids),
        fresh_domains: ["cf-apps".to_string()].into_iter().collect(),
        metric_tags: Default::default(),
    }
}

fn main() {
    let now_ns = 1_700_000_000 * NS_PER_S;
    let snap = snapshot(now_ns);
    let cfg = ConvergenceConfig::default();
    // One warm-up pass, then the timed ones.
    let _ = plan(&snap, now_ns, &cfg);
    let runs = 5;
    let mut timings_ms = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let p = plan(&snap, now_ns, &cfg);
        timings_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        last = Some(p);
    }
    let p = last.expect("at least one run");
    let count = |f: fn(&LrpAction) -> bool| p.lrp_actions.iter().filter(|a| f(a)).count();
    timings_ms.sort_by(f64::total_cmp);
    println!(
        "snapshot: {} desired, {} actuals, {} cells ({} missing)",
        snap.desired.len(),
        snap.actuals.len(),
        CELLS - MISSING_CELLS,
        MISSING_CELLS
    );
    println!(
        "plan(): min {:.1} ms, median {:.1} ms, max {:.1} ms over {runs} runs (target <= 1000 ms)",
        timings_ms[0],
        timings_ms[runs / 2],
        timings_ms[runs - 1]
    );
    println!(
        "actions: {} total; mark suspect {}, stale unclaimed {}, restart crashed {}; {} auctions",
        p.lrp_actions.len(),
        count(|a| matches!(a, LrpAction::MarkSuspect { .. })),
        count(|a| matches!(a, LrpAction::AuctionStaleUnclaimed { .. })),
        count(|a| matches!(a, LrpAction::RestartCrashed { .. })),
        p.lrp_auction_count()
    );
}
