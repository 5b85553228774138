//! Which cells take part, and how work that cannot be placed is reported.

mod common;

use std::sync::Arc;

use common::{auctioneer, lrp, sim_cell, task, Event, Reps, ROOTFS};
use diego_auction::{LrpStart, TaskStart};
use diego_auctioneer::{AuctioneerConfig, HANDED_BACK};

const NO_CELLS: &str = "unable to communicate to compatible cells";

#[tokio::test]
async fn evacuating_cells_are_left_out() {
    let leaving = sim_cell("leaving", "z1");
    leaving.set_evacuating(true);
    let staying = sim_cell("staying", "z2");
    let reps = Arc::new(Reps::new(&[leaving.clone(), staying.clone()]));
    let (a, sink) = auctioneer(reps.clone(), AuctioneerConfig::default());

    a.submit(vec![lrp("web", 0), lrp("web", 1)], vec![task("t1")]);
    a.run_batch().await;

    assert!(reps.performed().iter().all(|p| p.cell_id == "staying"));
    assert_eq!(staying.snapshot().lrps.len(), 2);
    assert!(leaving.snapshot().lrps.is_empty());
    let (summary, lines) = sink.decision("task/t1").expect("a decision for t1");
    assert!(
        summary.starts_with("task t1: placed on staying (score "),
        "{summary}"
    );
    assert!(summary.ends_with("; 1 cell scored)"), "{summary}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("staying: score "), "{lines:?}");

    // Only evacuating cells left: nobody to ask.
    staying.set_evacuating(true);
    a.submit(vec![], vec![task("t2")]);
    a.run_batch().await;
    assert_eq!(
        sink.failures(),
        [Event::RejectTask {
            task_guid: "t2".into(),
            reason: NO_CELLS.into()
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn cells_whose_state_call_times_out_or_fails_are_left_out() {
    let cells = [
        sim_cell("slow", "z1"),
        sim_cell("broken", "z2"),
        sim_cell("good", "z3"),
    ];
    let mut reps = Reps::new(&cells);
    reps.hang.insert("slow".into());
    reps.broken.insert("broken".into());
    let reps = Arc::new(reps);
    let config = AuctioneerConfig {
        cell_state_timeout_ms: 500,
        ..AuctioneerConfig::default()
    };
    let (a, sink) = auctioneer(reps.clone(), config);

    let started = tokio::time::Instant::now();
    a.submit(vec![lrp("web", 0), lrp("web", 1)], vec![task("t1")]);
    a.run_batch().await;

    // The batch waited out the slow cell's timeout, not longer.
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(500),
        "{waited:?}"
    );
    assert!(
        waited < std::time::Duration::from_millis(1000),
        "{waited:?}"
    );
    assert_eq!(cells[2].snapshot().lrps.len(), 2);
    assert_eq!(cells[2].snapshot().task_guids, ["t1"]);
    assert!(reps.performed().iter().all(|p| p.cell_id == "good"));
    let (_, lines) = sink.decision("lrp/web/1").expect("a decision");
    assert!(lines.iter().all(|l| l.starts_with("good: ")), "{lines:?}");
    assert!(sink.failures().is_empty(), "{:?}", sink.failures());
}

#[tokio::test(start_paused = true)]
async fn work_handed_back_is_retried_then_failed_with_a_reason() {
    let mut reps = Reps::new(&[sim_cell("liar", "z1")]);
    reps.hand_back.insert("liar".into());
    let reps = Arc::new(reps);
    let config = AuctioneerConfig {
        perform_retries: 2,
        ..AuctioneerConfig::default()
    };
    let (a, sink) = auctioneer(reps.clone(), config);
    let runner = a.spawn();

    a.submit(vec![lrp("web", 3)], vec![task("t1")]);
    sink.wait_until("both failures", |_| sink.failures().len() == 2)
        .await;

    // One first try and two retries, each on freshly fetched state.
    assert_eq!(reps.performed().len(), 3);
    assert_eq!(*reps.states_started.borrow(), 3);
    let mut failures = sink.failures();
    failures.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        failures,
        [
            Event::FailLrp {
                process_guid: "web".into(),
                index: 3,
                reason: HANDED_BACK.into()
            },
            Event::RejectTask {
                task_guid: "t1".into(),
                reason: HANDED_BACK.into()
            },
        ]
    );
    let (summary, _) = sink.decision("task/t1").expect("a decision");
    assert_eq!(
        summary,
        format!("task t1: not placed: {HANDED_BACK} (3 times)")
    );
    runner.abort();
}

#[tokio::test]
async fn with_no_cells_everything_fails_with_diegos_error() {
    let reps = Arc::new(Reps::new(&[]));
    let (a, sink) = auctioneer(reps.clone(), AuctioneerConfig::default());
    a.submit(vec![lrp("web", 0)], vec![task("t1")]);
    a.run_batch().await;

    let mut failures = sink.failures();
    failures.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        failures,
        [
            Event::FailLrp {
                process_guid: "web".into(),
                index: 0,
                reason: NO_CELLS.into()
            },
            Event::RejectTask {
                task_guid: "t1".into(),
                reason: NO_CELLS.into()
            },
        ]
    );
    let (summary, _) = sink.decision("lrp/web/0").expect("a decision");
    assert_eq!(summary, format!("lrp web/0: not placed: {NO_CELLS}"));
}

#[tokio::test(start_paused = true)]
async fn invalid_requests_are_failed_with_a_reason_not_dropped() {
    let cell = sim_cell("cell-1", "z1");
    let reps = Arc::new(Reps::new(std::slice::from_ref(&cell)));
    let (a, sink) = auctioneer(reps.clone(), AuctioneerConfig::default());

    let negative = LrpStart::new("web", 0, -1, 64, ROOTFS);
    let bad_rootfs = TaskStart::new("t-rootfs", 64, 64, ":no-scheme");
    let no_rootfs = TaskStart::new("t-empty", 64, 64, "");
    let no_guid = TaskStart::new("", 64, 64, ROOTFS);
    a.submit(
        vec![negative],
        vec![bad_rootfs, no_rootfs, no_guid, task("ok")],
    );
    assert_eq!(a.pending(), (0, 1), "only the valid task is queued");
    sink.wait_until("three failures", |_| sink.failures().len() == 3)
        .await;
    a.run_batch().await;

    let mut failures = sink.failures();
    failures.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        failures,
        [
            Event::FailLrp {
                process_guid: "web".into(),
                index: 0,
                reason: "invalid auction request: negative resources".into()
            },
            Event::RejectTask {
                task_guid: "t-empty".into(),
                reason: "invalid auction request: empty rootfs".into()
            },
            Event::RejectTask {
                task_guid: "t-rootfs".into(),
                reason: "invalid auction request: unparsable rootfs \":no-scheme\"".into()
            },
        ]
    );
    let (summary, _) = sink.decision("task/t-rootfs").expect("a decision");
    assert_eq!(
        summary,
        "task t-rootfs: not placed: invalid auction request: unparsable rootfs \":no-scheme\""
    );
    assert_eq!(cell.snapshot().task_guids, ["ok"]);
}
