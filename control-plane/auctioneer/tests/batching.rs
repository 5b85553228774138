//! The streaming batch loop: what forms a batch, and what is merged.

mod common;

use std::sync::Arc;

use common::{auctioneer, lrp, sim_cell, started, strings, task, Performed, Reps};
use diego_auctioneer::AuctioneerConfig;

#[tokio::test(start_paused = true)]
async fn work_arriving_while_a_batch_is_placed_forms_the_next_batch() {
    let reps = Arc::new(Reps::new(&[sim_cell("cell-1", "z1")]));
    reps.perform_gate.send_replace(false);
    let (a, sink) = auctioneer(reps.clone(), AuctioneerConfig::default());
    let runner = a.spawn();

    a.submit(vec![], vec![task("t1")]);
    started(&reps.performs_started, 1).await;
    // The first batch is now being performed; these must wait for the next.
    a.submit(vec![lrp("web", 0)], vec![task("t2"), task("t3")]);
    assert_eq!(a.pending(), (1, 2));
    reps.perform_gate.send_replace(true);

    started(&reps.performs_started, 2).await;
    sink.wait_until("decisions for the second batch", |_| {
        sink.decision("task/t3").is_some()
    })
    .await;
    assert_eq!(
        reps.performed(),
        [
            Performed {
                cell_id: "cell-1".into(),
                lrps: strings(&[]),
                tasks: strings(&["t1"]),
            },
            Performed {
                cell_id: "cell-1".into(),
                lrps: strings(&["web/0"]),
                tasks: strings(&["t2", "t3"]),
            },
        ]
    );
    assert_eq!(a.pending(), (0, 0));
    runner.abort();
}

#[tokio::test(start_paused = true)]
async fn work_arriving_while_states_are_fetched_joins_that_batch() {
    let reps = Arc::new(Reps::new(&[sim_cell("cell-1", "z1")]));
    reps.state_gate.send_replace(false);
    let (a, _sink) = auctioneer(reps.clone(), AuctioneerConfig::default());
    let runner = a.spawn();

    a.submit(vec![], vec![task("t1")]);
    started(&reps.states_started, 1).await;
    a.submit(vec![], vec![task("t2")]);
    reps.state_gate.send_replace(true);
    started(&reps.performs_started, 1).await;

    // Diego drains the batch after the states arrive, so one Perform has both.
    assert_eq!(reps.performed()[0].tasks, strings(&["t1", "t2"]));
    runner.abort();
}

#[tokio::test]
async fn duplicates_are_merged_by_process_guid_index_and_task_guid() {
    let cell = sim_cell("cell-1", "z1");
    let reps = Arc::new(Reps::new(std::slice::from_ref(&cell)));
    let (a, _sink) = auctioneer(reps.clone(), AuctioneerConfig::default());

    a.submit(vec![lrp("web", 0), lrp("web", 1)], vec![task("t1")]);
    a.submit(vec![lrp("web", 0)], vec![task("t1"), task("t2")]);
    assert_eq!(a.pending(), (2, 2));
    a.run_batch().await;

    assert_eq!(reps.performed().len(), 1, "one perform per winning cell");
    let state = cell.snapshot();
    let mut lrps: Vec<(String, i32)> = state
        .lrps
        .iter()
        .map(|l| (l.process_guid.clone(), l.index))
        .collect();
    lrps.sort();
    assert_eq!(lrps, [("web".to_string(), 0), ("web".to_string(), 1)]);
    let mut tasks = state.task_guids.clone();
    tasks.sort();
    assert_eq!(tasks, ["t1", "t2"]);
}

#[tokio::test]
async fn each_winning_cell_gets_exactly_one_perform() {
    let cells: Vec<_> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, id)| sim_cell(id, &format!("z{i}")))
        .collect();
    let reps = Arc::new(Reps::new(&cells));
    let (a, _sink) = auctioneer(reps.clone(), AuctioneerConfig::default());
    let lrps = (0..30).map(|i| lrp("web", i)).collect();
    let tasks = (0..9).map(|i| task(&format!("t{i}"))).collect();
    a.submit(lrps, tasks);
    a.run_batch().await;

    let performed = reps.performed();
    let mut per_cell: Vec<&str> = performed.iter().map(|p| p.cell_id.as_str()).collect();
    per_cell.sort();
    assert_eq!(per_cell, ["a", "b", "c"]);
    let placed: usize = performed.iter().map(|p| p.lrps.len() + p.tasks.len()).sum();
    assert_eq!(placed, 39);
    // Zone spreading puts each zone's share of the 30 instances on its one cell.
    for c in &cells {
        assert_eq!(c.snapshot().lrps.len(), 10, "{}", c.presence.cell_id);
    }
}
