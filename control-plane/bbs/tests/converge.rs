//! The convergence runner over a real embedded store.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diego_bbs::collab::BoxFut;
use diego_bbs::{
    spawn_converger, ActualLrpFilter, AuctionRequester, Bbs, BbsConfig, ConvergenceConfig,
    ConvergenceWarning, LrpAuction, ManualClock, StaticCells,
};
use diego_model::{
    Action, ActualLrp, ActualLrpKey, ActualState, CellPresence, DesiredLrp, InstanceKey, NetInfo,
    Presence, RunningInfo, Task, TaskDefinition, TaskState,
};
use diego_store::EmbeddedStore;

#[derive(Default)]
struct Recorder {
    lrps: Mutex<Vec<LrpAuction>>,
    tasks: Mutex<Vec<Task>>,
}

impl Recorder {
    fn take_lrp_indices(&self) -> Vec<(String, Vec<i32>)> {
        let all = std::mem::take(&mut *self.lrps.lock().unwrap());
        all.into_iter()
            .map(|a| (a.info.process_guid, a.indices))
            .collect()
    }
    fn task_guids(&self) -> Vec<String> {
        self.tasks
            .lock()
            .unwrap()
            .iter()
            .map(|t| t.task_guid.clone())
            .collect()
    }
}

impl AuctionRequester for Recorder {
    fn request_lrp_auctions(&self, starts: Vec<LrpAuction>) -> BoxFut<'_, Result<(), String>> {
        self.lrps.lock().unwrap().extend(starts);
        Box::pin(async { Ok(()) })
    }
    fn request_task_auctions(&self, tasks: Vec<Task>) -> BoxFut<'_, Result<(), String>> {
        self.tasks.lock().unwrap().extend(tasks);
        Box::pin(async { Ok(()) })
    }
}

struct World {
    bbs: Bbs,
    clock: Arc<ManualClock>,
    cells: Arc<StaticCells>,
    auctions: Arc<Recorder>,
}

async fn world(cell_ids: &[&str]) -> World {
    let store = Arc::new(EmbeddedStore::in_memory(Default::default()).unwrap());
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let cells = Arc::new(StaticCells::default());
    set_cells(&cells, cell_ids);
    let auctions = Arc::new(Recorder::default());
    let bbs = Bbs::new(
        store,
        clock.clone(),
        auctions.clone(),
        cells.clone(),
        BbsConfig::default(),
    );
    bbs.upsert_domain("d", 0).await.unwrap();
    World {
        bbs,
        clock,
        cells,
        auctions,
    }
}

fn set_cells(cells: &StaticCells, ids: &[&str]) {
    *cells.presences.lock().unwrap() = ids
        .iter()
        .map(|id| CellPresence {
            cell_id: id.to_string(),
            ..Default::default()
        })
        .collect();
}

async fn desire(w: &World, pg: &str, instances: i32) {
    let lrp = DesiredLrp {
        process_guid: pg.into(),
        domain: "d".into(),
        root_fs: "preloaded:cflinuxfs4".into(),
        instances,
        action: Some(Action::run("/bin/true", &[])),
        ..Default::default()
    };
    w.bbs.desire_lrp(lrp).await.unwrap();
}

async fn run_on(w: &World, pg: &str, index: i32, cell: &str) {
    let ik = InstanceKey::new(&format!("{pg}-{index}-{cell}"), cell);
    w.bbs.claim_actual_lrp(pg, index, &ik).await.unwrap();
    let info = RunningInfo {
        net_info: NetInfo {
            address: "10.0.0.1".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    w.bbs
        .start_actual_lrp(&ActualLrpKey::new(pg, index, "d"), &ik, &info)
        .await
        .unwrap();
}

async fn rows(w: &World, pg: &str, index: i32) -> Vec<ActualLrp> {
    let f = ActualLrpFilter {
        process_guid: pg.into(),
        index: Some(index),
        ..Default::default()
    };
    w.bbs.actual_lrps(&f).await.unwrap()
}

fn with_presence(rows: &[ActualLrp], p: Presence) -> Option<&ActualLrp> {
    rows.iter().find(|r| r.presence == p)
}

async fn desire_task_on(w: &World, guid: &str, cell: &str) {
    let def = TaskDefinition {
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(Action::run("/bin/true", &[])),
        ..Default::default()
    };
    w.bbs.desire_task(guid, "d", def).await.unwrap();
    w.bbs.start_task(guid, cell).await.unwrap();
}

#[tokio::test]
async fn missing_instances_are_recreated_and_auctioned_in_one_batch() {
    let w = world(&["c1"]).await;
    desire(&w, "pg", 3).await;
    w.bbs.remove_actual_lrp("pg", 1, None).await.unwrap();
    w.auctions.take_lrp_indices();

    let report = w.bbs.converge(&ConvergenceConfig::default()).await.unwrap();
    let row = with_presence(&rows(&w, "pg", 1).await, Presence::Ordinary)
        .cloned()
        .unwrap();
    assert_eq!(row.state, ActualState::Unclaimed);
    assert_eq!(
        w.auctions.take_lrp_indices(),
        vec![("pg".to_string(), vec![1])]
    );
    assert_eq!(report.lrp_actions_applied, 1);
    assert_eq!(report.lrp_indices_auctioned, 1);

    // Nothing is missing any more: a second pass is a no-op.
    let report = w.bbs.converge(&ConvergenceConfig::default()).await.unwrap();
    assert_eq!(report.lrp_actions_applied, 0);
    assert!(w.auctions.take_lrp_indices().is_empty());
}

#[tokio::test]
async fn a_crashed_instance_restarts_only_after_its_backoff() {
    let w = world(&["c1"]).await;
    desire(&w, "pg", 1).await;
    let key = ActualLrpKey::new("pg", 0, "d");
    for _ in 0..3 {
        run_on(&w, "pg", 0, "c1").await;
        let ik = InstanceKey::new("pg-0-c1", "c1");
        w.bbs.crash_actual_lrp(&key, &ik, "boom").await.unwrap();
    }
    let row = rows(&w, "pg", 0).await.remove(0);
    assert_eq!((row.state, row.crash_count), (ActualState::Crashed, 3));
    w.auctions.take_lrp_indices();

    w.clock.advance_ms(29_000);
    w.bbs.converge(&ConvergenceConfig::default()).await.unwrap();
    assert_eq!(
        rows(&w, "pg", 0).await[0].state,
        ActualState::Crashed,
        "backoff is 30 s"
    );
    assert!(w.auctions.take_lrp_indices().is_empty());

    w.clock.advance_ms(1_000);
    w.bbs.converge(&ConvergenceConfig::default()).await.unwrap();
    let row = rows(&w, "pg", 0).await.remove(0);
    assert_eq!((row.state, row.crash_count), (ActualState::Unclaimed, 3));
    assert_eq!(
        w.auctions.take_lrp_indices(),
        vec![("pg".to_string(), vec![0])]
    );
}

#[tokio::test]
async fn a_task_on_a_vanished_cell_fails_and_is_never_auctioned_again() {
    let w = world(&["c1"]).await;
    desire_task_on(&w, "t", "gone").await;
    w.auctions.tasks.lock().unwrap().clear();
    for _ in 0..2 {
        w.bbs.converge(&ConvergenceConfig::default()).await.unwrap();
        let t = w.bbs.task_by_guid("t").await.unwrap();
        assert_eq!(t.state, TaskState::Completed);
        assert!(t.failed);
        assert_eq!(t.failure_reason, "cell disappeared before completion");
        w.clock.advance_ms(10_000);
    }
    assert!(w.auctions.task_guids().is_empty());
}

#[tokio::test]
async fn a_lost_cells_instances_become_suspect_with_replacements_and_come_back() {
    let w = world(&["c1", "c2"]).await;
    desire(&w, "pg", 2).await;
    run_on(&w, "pg", 0, "c2").await;
    run_on(&w, "pg", 1, "c2").await;
    w.auctions.take_lrp_indices();

    set_cells(&w.cells, &["c1"]);
    w.bbs.converge(&ConvergenceConfig::default()).await.unwrap();
    for index in 0..2 {
        let r = rows(&w, "pg", index).await;
        let suspect = with_presence(&r, Presence::Suspect).expect("suspect row");
        assert_eq!(
            (suspect.state, suspect.instance_key.cell_id.as_str()),
            (ActualState::Running, "c2")
        );
        assert_eq!(
            with_presence(&r, Presence::Ordinary).unwrap().state,
            ActualState::Unclaimed
        );
    }
    assert_eq!(
        w.auctions.take_lrp_indices(),
        vec![("pg".to_string(), vec![0, 1])]
    );

    // The cell is back before the replacements run: the suspects are promoted.
    set_cells(&w.cells, &["c1", "c2"]);
    w.bbs.converge(&ConvergenceConfig::default()).await.unwrap();
    for index in 0..2 {
        let r = rows(&w, "pg", index).await;
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].presence, r[0].state),
            (Presence::Ordinary, ActualState::Running)
        );
    }
}

#[tokio::test]
async fn the_empty_cell_set_guard_holds_back_mass_loss() {
    let w = world(&["c1"]).await;
    desire(&w, "pg", 1).await;
    run_on(&w, "pg", 0, "c1").await;
    desire_task_on(&w, "t", "c1").await;

    set_cells(&w.cells, &[]);
    let report = w.bbs.converge(&ConvergenceConfig::default()).await.unwrap();
    assert_eq!(
        report.warnings,
        vec![ConvergenceWarning::EmptyCellSet {
            placed_lrps: 1,
            running_tasks: 1
        }]
    );
    assert_eq!(
        rows(&w, "pg", 0).await.len(),
        1,
        "no suspect, no replacement"
    );
    assert_eq!(
        w.bbs.task_by_guid("t").await.unwrap().state,
        TaskState::Running
    );

    let unguarded = ConvergenceConfig {
        empty_cell_set_guard: false,
        ..Default::default()
    };
    w.bbs.converge(&unguarded).await.unwrap();
    assert!(with_presence(&rows(&w, "pg", 0).await, Presence::Suspect).is_some());
    assert_eq!(
        w.bbs.task_by_guid("t").await.unwrap().state,
        TaskState::Completed
    );
}

#[tokio::test]
async fn the_converger_runs_a_pass_when_triggered() {
    let w = world(&["c1"]).await;
    desire(&w, "pg", 1).await;
    w.bbs.remove_actual_lrp("pg", 0, None).await.unwrap();
    let trigger = Arc::new(tokio::sync::Notify::new());
    let handle = spawn_converger(
        w.bbs.clone(),
        ConvergenceConfig::default(),
        3_600_000,
        trigger.clone(),
        None,
    );
    trigger.notify_one();
    let recreated = tokio::time::timeout(Duration::from_secs(10), async {
        while rows(&w, "pg", 0).await.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    handle.abort();
    assert!(
        recreated.is_ok(),
        "the triggered pass recreated the instance"
    );
}

fn internal_routes(hosts: &[&str]) -> diego_model::Routes {
    let entries: Vec<serde_json::Value> = hosts
        .iter()
        .map(|h| serde_json::json!({ "hostname": h }))
        .collect();
    [(
        "internal-router".to_string(),
        serde_json::Value::Array(entries),
    )]
    .into_iter()
    .collect()
}

fn take_updates(w: &World) -> Vec<(String, diego_bbs::InstanceUpdate)> {
    std::mem::take(&mut *w.cells.updates.lock().unwrap())
}

#[tokio::test]
async fn changed_internal_routes_and_metric_tags_reach_the_placed_instances() {
    let w = world(&["c1", "c2"]).await;
    desire(&w, "pg", 3).await;
    run_on(&w, "pg", 0, "c1").await;
    run_on(&w, "pg", 1, "c2").await;
    // index 2 stays UNCLAIMED: nothing runs there to update
    let tags = std::collections::BTreeMap::from([(
        "instance".to_string(),
        diego_model::MetricTagValue {
            static_value: String::new(),
            dynamic: "INDEX".into(),
        },
    )]);
    let update = diego_model::DesiredLrpUpdate {
        routes: Some(internal_routes(&["web.apps.internal"])),
        metric_tags: Some(tags),
        ..Default::default()
    };
    w.bbs.update_desired_lrp("pg", update).await.unwrap();
    let mut got = take_updates(&w);
    got.sort_by_key(|(_, u)| u.key.index);
    assert_eq!(got.len(), 2, "{got:?}");
    for (i, (cell, u)) in got.iter().enumerate() {
        assert_eq!(cell, ["c1", "c2"][i]);
        assert_eq!(u.key.index, i as i32);
        assert_eq!(u.internal_routes, vec!["web.apps.internal".to_string()]);
        assert_eq!(u.metric_tags["instance"], i.to_string());
    }
    // an update that leaves routes and tags alone sends nothing
    let update = diego_model::DesiredLrpUpdate {
        annotation: Some("new".into()),
        ..Default::default()
    };
    w.bbs.update_desired_lrp("pg", update).await.unwrap();
    assert!(take_updates(&w).is_empty());
}

#[tokio::test]
async fn convergence_sends_drifted_routes_to_the_rep_until_it_reports_them() {
    let w = world(&["c1"]).await;
    desire(&w, "pg", 1).await;
    run_on(&w, "pg", 0, "c1").await;
    // the desired routes change while the instance's rep is unreachable
    // (the update is lost): the row still has no internal routes
    w.bbs
        .update_desired_lrp(
            "pg",
            diego_model::DesiredLrpUpdate {
                routes: Some(internal_routes(&["a.apps.internal"])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    take_updates(&w);

    let report = w.bbs.converge(&ConvergenceConfig::default()).await.unwrap();
    assert_eq!(report.lrp_instances_updated, 1);
    let got = take_updates(&w);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].1.internal_routes,
        vec!["a.apps.internal".to_string()]
    );

    // the rep applies it and reports the instance again with the routes
    let ik = InstanceKey::new("pg-0-c1", "c1");
    let info = RunningInfo {
        net_info: NetInfo {
            address: "10.0.0.1".into(),
            ..Default::default()
        },
        internal_routes: vec!["a.apps.internal".into()],
        ..Default::default()
    };
    w.bbs
        .start_actual_lrp(&ActualLrpKey::new("pg", 0, "d"), &ik, &info)
        .await
        .unwrap();
    let report = w.bbs.converge(&ConvergenceConfig::default()).await.unwrap();
    assert_eq!(report.lrp_instances_updated, 0);
    assert!(take_updates(&w).is_empty());
}
