//! A task and an LRP driven through their whole lifecycles over gRPC on
//! loopback, as a rep and a client would, while a watcher checks every
//! event; then the server restarts on the same data and the watch resumes.

mod common;

use std::pin::Pin;
use std::time::Duration;

use common::{lrp, running, task_def, Server};
use diego_model::{
    ActualLrp, ActualLrpKey, ActualState, DesiredLrpUpdate, ErrorCode, Event, InstanceKey,
    TaskState,
};
use diego_sdk::{ActualFilter, Client, WatchOptions, WatchedEvent};
use futures::{Stream, StreamExt};

type Watch = Pin<Box<dyn Stream<Item = diego_sdk::Result<WatchedEvent>> + Send>>;

async fn watch_since(c: &Client, since: u64) -> Watch {
    let opts = WatchOptions {
        since_revision: since,
        ..Default::default()
    };
    Box::pin(c.watch(opts).await.unwrap())
}

/// The next events, grouped as the transactions that should have produced
/// them: each group shares one revision and revisions grow between groups.
async fn expect(w: &mut Watch, groups: &[&[&str]]) -> Vec<WatchedEvent> {
    let mut out = Vec::new();
    for group in groups {
        let mut revision = None;
        for kind in *group {
            // A guard against hanging on a missing event, not a timing check.
            let next = tokio::time::timeout(Duration::from_secs(10), w.next())
                .await
                .unwrap_or_else(|_| panic!("no event while waiting for {kind}; got {out:?}"))
                .expect("watch ended")
                .expect("watch failed");
            assert_eq!(next.event.kind(), *kind, "after {out:#?}");
            match revision {
                None => {
                    if let Some(prev) = out.last().map(|e: &WatchedEvent| e.revision) {
                        assert!(next.revision > prev, "{} after {prev}", next.revision);
                    }
                    revision = Some(next.revision);
                }
                Some(r) => assert_eq!(next.revision, r, "one transaction, one revision"),
            }
            out.push(next);
        }
    }
    out
}

async fn actual(c: &Client, pg: &str, index: i32) -> ActualLrp {
    let f = ActualFilter {
        process_guid: pg.into(),
        index: Some(index),
        ..Default::default()
    };
    let mut rows = c.actual_lrps(f).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.remove(0)
}

async fn drive_task(c: &Client, w: &mut Watch) -> Vec<WatchedEvent> {
    c.desire_task("t1", "d", task_def()).await.unwrap();
    assert!(c.start_task("t1", "c1").await.unwrap());
    let e = c.start_task("t1", "c2").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidStateTransition);
    assert_eq!(e.message, "Cannot transition from Running to Running");
    assert!(
        !c.start_task("t1", "c1").await.unwrap(),
        "a repeat is a no-op"
    );
    let e = c
        .complete_task("t1", "c2", false, "", "")
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RunningOnDifferentCell);
    assert_eq!(e.message, "Running on cell c1 not c2");
    c.complete_task("t1", "c1", false, "", "42").await.unwrap();
    let e = c.delete_task("t1").await.unwrap_err();
    assert_eq!(e.message, "Cannot transition from Completed to Resolving");
    c.resolving_task("t1").await.unwrap();
    c.delete_task("t1").await.unwrap();
    assert_eq!(
        c.task("t1").await.unwrap_err().code,
        ErrorCode::ResourceNotFound
    );

    let evs = expect(
        w,
        &[
            &["task_created"],
            &["task_changed"],
            &["task_changed"],
            &["task_changed"],
            &["task_removed"],
        ],
    )
    .await;
    let states: Vec<(TaskState, String)> = evs[1..4]
        .iter()
        .map(|e| match &e.event {
            Event::TaskChanged { after, .. } => (after.state, after.cell_id.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (TaskState::Running, "c1".into()),
            (TaskState::Completed, String::new()),
            (TaskState::Resolving, String::new()),
        ]
    );
    evs
}

async fn drive_lrp(s: &Server, c: &Client, w: &mut Watch) -> Vec<WatchedEvent> {
    let mut evs = Vec::new();
    c.desire_lrp(lrp("pg", 2)).await.unwrap();
    evs.extend(
        expect(
            w,
            &[&[
                "desired_lrp_created",
                "actual_lrp_created",
                "actual_lrp_created",
            ]],
        )
        .await,
    );
    let key = |i| ActualLrpKey::new("pg", i, "d");
    let (ik0, ik1) = (InstanceKey::new("i0", "c1"), InstanceKey::new("i1", "c2"));
    c.claim_actual_lrp("pg", 0, &ik0).await.unwrap();
    c.claim_actual_lrp("pg", 1, &ik1).await.unwrap();
    let e = c
        .claim_actual_lrp("pg", 1, &InstanceKey::new("other", "c1"))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ActualLrpCannotBeClaimed);
    c.start_actual_lrp(&key(0), &ik0, &running("10.0.0.1"))
        .await
        .unwrap();
    c.start_actual_lrp(&key(1), &ik1, &running("10.0.0.2"))
        .await
        .unwrap();
    let changed: &[&str] = &["actual_lrp_changed"];
    evs.extend(expect(w, &[changed, changed, changed, changed]).await);
    assert_eq!(actual(c, "pg", 1).await.state, ActualState::Running);

    // The first crash restarts at once: UNCLAIMED, counted, with the
    // crashed event first in its transaction (spec §2.7 ordering).
    c.crash_actual_lrp(&key(0), &ik0, "oom").await.unwrap();
    let crash = expect(w, &[&["actual_lrp_crashed", "actual_lrp_changed"]]).await;
    match &crash[0].event {
        Event::ActualLrpCrashed {
            actual_lrp,
            crash_count,
            ..
        } => assert_eq!((&actual_lrp.instance_key, *crash_count), (&ik0, 1)),
        other => panic!("{other:?}"),
    }
    evs.extend(crash);
    let row = actual(c, "pg", 0).await;
    assert_eq!(
        (row.state, row.crash_count, row.crash_reason.as_str()),
        (ActualState::Unclaimed, 1, "oom")
    );
    assert!(row.instance_key.is_empty());

    let ik0b = InstanceKey::new("i0b", "c2");
    c.claim_actual_lrp("pg", 0, &ik0b).await.unwrap();
    c.start_actual_lrp(&key(0), &ik0b, &running("10.0.0.3"))
        .await
        .unwrap();
    evs.extend(expect(w, &[changed, changed]).await);

    let scale = DesiredLrpUpdate {
        instances: Some(3),
        ..Default::default()
    };
    c.update_desired_lrp("pg", scale).await.unwrap();
    evs.extend(expect(w, &[&["desired_lrp_changed", "actual_lrp_created"]]).await);

    // Retiring a placed instance asks its cell to stop it; the rep then
    // removes the row. An unplaced one goes at once.
    c.retire_actual_lrp(&key(1)).await.unwrap();
    let stops = s.cells.stops.lock().unwrap().clone();
    assert_eq!(stops, vec![("c2".to_string(), key(1), ik1.clone())]);
    let e = c.remove_actual_lrp("pg", 1, Some(&ik0)).await.unwrap_err();
    assert_eq!(
        e.code,
        ErrorCode::ResourceNotFound,
        "another instance's key"
    );
    c.remove_actual_lrp("pg", 1, Some(&ik1)).await.unwrap();
    c.retire_actual_lrp(&key(2)).await.unwrap();
    let removed: &[&str] = &["actual_lrp_removed"];
    evs.extend(expect(w, &[removed, removed]).await);

    c.remove_desired_lrp("pg").await.unwrap();
    evs.extend(expect(w, &[&["desired_lrp_removed"]]).await);
    assert_eq!(s.cells.stops.lock().unwrap().len(), 2, "index 0 stopped");
    c.remove_actual_lrp("pg", 0, Some(&ik0b)).await.unwrap();
    evs.extend(expect(w, &[removed]).await);
    assert!(c
        .actual_lrps(ActualFilter::default())
        .await
        .unwrap()
        .is_empty());
    evs
}

/// Everything a client can list, to compare across a restart.
async fn snapshot(c: &Client) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}",
        c.tasks("", "").await.unwrap(),
        c.desired_lrps("", vec![]).await.unwrap(),
        c.actual_lrps(ActualFilter::default()).await.unwrap(),
        c.domains().await.unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycles_are_watched_in_order_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let c = server.client().await;
    c.upsert_domain("d", 0).await.unwrap();
    let mut w = watch_since(&c, 0).await;

    let mut seen = drive_task(&c, &mut w).await;
    seen.extend(drive_lrp(&server, &c, &mut w).await);

    // Work left in flight across the restart.
    let ik = InstanceKey::new("j0", "c1");
    let key = ActualLrpKey::new("pg2", 0, "d");
    c.desire_task("t2", "d", task_def()).await.unwrap();
    c.desire_lrp(lrp("pg2", 1)).await.unwrap();
    c.claim_actual_lrp("pg2", 0, &ik).await.unwrap();
    c.start_actual_lrp(&key, &ik, &running("10.0.1.1"))
        .await
        .unwrap();
    let changed: &[&str] = &["actual_lrp_changed"];
    seen.extend(
        expect(
            &mut w,
            &[
                &["task_created"],
                &["desired_lrp_created", "actual_lrp_created"],
                changed,
                changed,
            ],
        )
        .await,
    );
    let before = snapshot(&c).await;
    let last = seen.last().unwrap().revision;
    drop(w);
    drop(c);
    server.stop().await;

    let server = Server::start(dir.path()).await;
    let c = server.client().await;
    assert_eq!(snapshot(&c).await, before, "nothing lost in the restart");
    assert!(server.bbs.current_revision().await.unwrap() >= last);

    // Changes committed while nobody watched, then one after resuming.
    assert!(c.start_task("t2", "c1").await.unwrap());
    c.crash_actual_lrp(&key, &ik, "exit 1").await.unwrap();
    let mut w = watch_since(&c, last).await;
    c.complete_task("t2", "c1", true, "boom", "").await.unwrap();
    let after = expect(
        &mut w,
        &[
            &["task_changed"],
            &["actual_lrp_crashed", "actual_lrp_changed"],
            &["task_changed"],
        ],
    )
    .await;
    assert!(after[0].revision > last);

    // From a revision in the middle, the log replays exactly what the first
    // watcher saw after it, then the new events: no gaps, no duplicates.
    let mid = seen[seen.len() / 2].revision;
    let mut replay_expected: Vec<WatchedEvent> =
        seen.iter().filter(|e| e.revision > mid).cloned().collect();
    replay_expected.extend(after.iter().cloned());
    let mut w2 = watch_since(&c, mid).await;
    let mut replay = Vec::new();
    while replay.len() < replay_expected.len() {
        let next = tokio::time::timeout(Duration::from_secs(10), w2.next())
            .await
            .expect("replay stalled")
            .unwrap()
            .unwrap();
        replay.push(next);
    }
    assert_eq!(replay, replay_expected);

    // Both watchers see the next change and nothing in between.
    c.desire_task("t3", "d", task_def()).await.unwrap();
    let next = expect(&mut w, &[&["task_created"]]).await;
    assert_eq!(expect(&mut w2, &[&["task_created"]]).await, next);
    drop((w, w2, c));
    server.stop().await;
}

#[tokio::test]
async fn a_watch_from_a_compacted_revision_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let c = server.client().await;
    for guid in ["a", "b", "c"] {
        c.desire_task(guid, "d", task_def()).await.unwrap();
    }
    let rev = server.bbs.current_revision().await.unwrap();
    server.bbs.store().compact_log(rev - 1).await.unwrap();

    let opts = WatchOptions {
        since_revision: rev - 2,
        ..Default::default()
    };
    let e = c.watch(opts).await.err().expect("compacted revision");
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(
        e.message.contains("compacted") && e.message.contains("re-list"),
        "{}",
        e.message
    );

    // The oldest revision still kept resumes normally.
    let mut w = watch_since(&c, rev - 1).await;
    let evs = expect(&mut w, &[&["task_created"]]).await;
    match &evs[0].event {
        Event::TaskCreated { task } => assert_eq!(task.task_guid, "c"),
        other => panic!("{other:?}"),
    }
    drop((w, c));
    server.stop().await;
}

#[tokio::test]
async fn an_lrp_desired_again_while_its_old_instance_stops_is_not_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let c = server.client().await;
    let (key, ik) = (
        ActualLrpKey::new("pg", 0, "d"),
        InstanceKey::new("i0", "c1"),
    );
    c.desire_lrp(lrp("pg", 2)).await.unwrap();
    c.claim_actual_lrp("pg", 0, &ik).await.unwrap();
    c.start_actual_lrp(&key, &ik, &running("10.0.0.1"))
        .await
        .unwrap();
    // Removing the desired LRP asks c1 to stop index 0; its row stays until
    // the rep removes it.
    c.remove_desired_lrp("pg").await.unwrap();
    assert_eq!(actual(&c, "pg", 0).await.state, ActualState::Running);

    c.desire_lrp(lrp("pg", 2)).await.unwrap();
    assert_eq!(actual(&c, "pg", 0).await.instance_key, ik, "left to stop");
    assert_eq!(actual(&c, "pg", 1).await.state, ActualState::Unclaimed);
    let e = c.desire_lrp(lrp("pg", 2)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ResourceExists);
    drop(c);
    server.stop().await;
}

/// One transaction can hold many events (desiring an LRP creates it and its
/// unclaimed instances; a convergence batch holds many changes): a client
/// cut off inside a revision resumes from its last revision and position and
/// gets the rest of that revision, nothing missed and nothing repeated.
#[tokio::test]
async fn a_watch_cut_off_inside_a_revision_resumes_at_the_next_event() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let c = server.client().await;
    let before = server.bbs.current_revision().await.unwrap();
    let mut w = watch_since(&c, before).await;
    c.desire_lrp(lrp("many", 4)).await.unwrap();
    let first = w.next().await.unwrap().unwrap();
    let second = w.next().await.unwrap().unwrap();
    assert_eq!(first.revision, second.revision, "one transaction");
    assert_eq!((first.position, second.position), (0, 1));
    drop(w);

    let opts = WatchOptions {
        since_revision: second.revision,
        since_position: Some(second.position),
        ..Default::default()
    };
    let mut resumed: Watch = Box::pin(c.watch(opts).await.unwrap());
    let mut rest = Vec::new();
    while let Ok(Some(item)) =
        tokio::time::timeout(Duration::from_millis(500), resumed.next()).await
    {
        rest.push(item.unwrap());
    }
    let positions: Vec<(u64, u32)> = rest.iter().map(|e| (e.revision, e.position)).collect();
    assert_eq!(
        positions,
        (2..5).map(|p| (second.revision, p)).collect::<Vec<_>>(),
        "the desired lrp and 4 instances are 5 events; the last 3 follow"
    );
    assert!(rest
        .iter()
        .all(|e| matches!(e.event, Event::ActualLrpCreated { .. })));
    drop((resumed, c));
    server.stop().await;
}
