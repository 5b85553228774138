//! The BBS, the auctioneer and simulated reps placing tasks and LRPs over
//! real gRPC on loopback, and the explanations `diego why` prints.

mod sim;

use diego_auction::Resources;
use diego_model::TaskState;
use diego_sdk::ActualFilter;
use sim::{eventually, lrp, task, SimCluster, ROOTFS};

fn actuals_of(guid: &str) -> ActualFilter {
    ActualFilter {
        process_guid: guid.into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bbs_auctioneer_and_simulated_reps_place_work_over_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let total = Resources::new(4096, 16_384, 100);
    let c = SimCluster::start(dir.path(), 3, 3, total).await;

    for i in 0..6 {
        c.client
            .desire_task(&format!("t-{i}"), sim::DOMAIN, task(64, ROOTFS))
            .await
            .unwrap();
    }
    c.client.desire_lrp(lrp("web", 6, 128)).await.unwrap();
    eventually("12 placements on the simulated cells", 30, || async {
        (c.placed() == (6, 6)).then_some(())
    })
    .await;

    // One cell per zone: zone spreading gives each two instances, and the
    // task score's penalty per task on a cell spreads the tasks the same way.
    for cell in &c.cells {
        let state = cell.snapshot();
        let web = state.lrps.iter().filter(|l| l.process_guid == "web");
        assert_eq!(web.count(), 2, "{} {:?}", state.zone, state.lrps);
        assert_eq!(
            state.task_guids.len(),
            2,
            "{} {:?}",
            state.zone,
            state.task_guids
        );
    }
    let mut indices: Vec<i32> = c
        .cells
        .iter()
        .flat_map(|cell| cell.snapshot().lrps)
        .map(|l| l.index)
        .collect();
    indices.sort();
    assert_eq!(indices, [0, 1, 2, 3, 4, 5]);

    // What `diego why task t-0` prints: a summary and a line per cell.
    let why = c
        .client
        .placement_decisions("task", "t-0", None)
        .await
        .unwrap();
    assert_eq!(why.len(), 1, "{why:?}");
    let (work_id, summary, lines) = &why[0];
    assert_eq!(work_id, "task/t-0");
    assert!(
        summary.starts_with("task t-0: placed on cell-"),
        "{summary}"
    );
    assert!(summary.ends_with("; 3 cells scored)"), "{summary}");
    assert_eq!(lines.len(), 3, "{lines:?}");
    for l in lines {
        assert!(
            l.starts_with("cell-") && l.contains(": score ") && l.contains(" = resource "),
            "{l}"
        );
    }
    let why = c
        .client
        .placement_decisions("lrp", "web", Some(0))
        .await
        .unwrap();
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(
        why[0].1.starts_with("lrp web/0: placed on cell-"),
        "{}",
        why[0].1
    );
    assert_eq!(why[0].2.len(), 3, "{:?}", why[0].2);
    // Every index of the LRP when none is given.
    let all = c
        .client
        .placement_decisions("lrp", "web", None)
        .await
        .unwrap();
    assert_eq!(all.len(), 6);

    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplaceable_work_is_failed_with_diegos_reason_and_explained() {
    let dir = tempfile::tempdir().unwrap();
    let c = SimCluster::start(dir.path(), 3, 3, Resources::new(4096, 16_384, 100)).await;

    c.client.desire_lrp(lrp("huge", 1, 64_000)).await.unwrap();
    let actual = eventually("a placement error on huge/0", 30, || async {
        let actuals = c.client.actual_lrps(actuals_of("huge")).await.ok()?;
        actuals.into_iter().find(|a| !a.placement_error.is_empty())
    })
    .await;
    assert_eq!(actual.placement_error, "insufficient resources: memory");
    let why = c
        .client
        .placement_decisions("lrp", "huge", Some(0))
        .await
        .unwrap();
    let (_, summary, lines) = why.last().expect("a decision for huge/0");
    assert_eq!(
        summary,
        "lrp huge/0: not placed: insufficient resources: memory (3 too full)"
    );
    let mut lines = lines.clone();
    lines.sort();
    assert_eq!(
        lines,
        [
            "cell-0: insufficient resources: memory",
            "cell-1: insufficient resources: memory",
            "cell-2: insufficient resources: memory",
        ]
    );

    // The BBS re-auctions a rejected task `max_task_retries` times, then
    // fails it with the auction's reason: one auction more than retries.
    c.client
        .desire_task("alien", sim::DOMAIN, task(64, "preloaded:windows2016"))
        .await
        .unwrap();
    let failed = eventually("the alien task to fail", 30, || async {
        let t = c.client.task("alien").await.ok()?;
        (t.state == TaskState::Completed).then_some(t)
    })
    .await;
    assert!(failed.failed);
    assert_eq!(
        failed.failure_reason,
        "found no compatible cell for required rootfs"
    );
    let auctions = diego_bbs::BbsConfig::default().max_task_retries + 1;
    assert_eq!(failed.rejection_count, auctions);
    let why = c
        .client
        .placement_decisions("task", "alien", None)
        .await
        .unwrap();
    assert_eq!(
        why.len(),
        auctions as usize,
        "one decision per auction: {why:?}"
    );
    let (_, summary, lines) = &why[0];
    assert_eq!(
        summary,
        "task alien: not placed: found no compatible cell for required rootfs (3 filtered: rootfs)"
    );
    assert!(
        lines.iter().all(|l| l.ends_with(": filtered: rootfs")),
        "{lines:?}"
    );
    assert_eq!(c.placed(), (0, 0), "nothing landed on a cell");

    c.stop().await;
}
