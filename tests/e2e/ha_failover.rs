//! The HA control plane with real processes (issue 8 item 4): 3 etcd
//! members, 3 `diego bbs` replicas (one active, two standing by; each runs
//! the auctioneer and converger only while active) and 2 `diego cell`
//! processes, all on loopback. Cells run work on the fake backend so the
//! test exercises the control plane, not runc.
//!
//! 1. kill -9 the active BBS under a steady write load: a standby takes
//!    over, every acknowledged write is there, no task starts twice;
//! 2. SIGSTOP the active BBS past its lock TTL, SIGCONT it: a write sent to
//!    it is refused (fenced) and nothing lands;
//! 3. kill an etcd member: the cluster keeps working.
//!
//! A second run (ADR 0013) splits the auctioneer out: the replicas run with
//! `--auctioneer remote` and a `diego auctioneer` process places the work;
//! kill -9 it and start another: placement goes on.

mod support;

#[path = "../../control-plane/store-etcd/tests/common/mod.rs"]
mod etcd;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diego_model::{ActualState, DesiredLrp, DesiredLrpUpdate, Event, Task, TaskState};
use diego_sdk::{ActualFilter, Client, WatchOptions};
use futures::StreamExt;
use support::eventually;

const LOCK_TTL_MS: u64 = 3_000;

/// A child process killed (SIGKILL) when the test ends, whatever happens.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill {sig} {}", self.pid());
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // a stopped process must be continued before it can die cleanly
        let _ = Command::new("kill")
            .args(["-CONT", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        self.kill9();
    }
}

fn spawn(args: &[String], log: PathBuf) -> Proc {
    let out = std::fs::File::create(&log).expect("log file");
    let err = out.try_clone().expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("diego starts");
    Proc { child, log }
}

struct Replica {
    proc: Proc,
    url: String,
}

fn replica(dir: &Path, i: usize, store: &str) -> Replica {
    replica_with(dir, i, store, &[])
}

/// A replica with extra flags (`--auctioneer remote`).
fn replica_with(dir: &Path, i: usize, store: &str, extra: &[&str]) -> Replica {
    let port = etcd::free_port();
    let data = dir.join(format!("bbs{i}"));
    std::fs::create_dir_all(&data).unwrap();
    // every replica must open records the others wrote: the same key,
    // given as the original BBS takes it (label and passphrase)
    let args: Vec<String> = [
        "bbs",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--store",
        store,
        "--data-dir",
        data.to_str().unwrap(),
        "--lock-ttl-ms",
        &LOCK_TTL_MS.to_string(),
        "--converge-interval-ms",
        "2000",
        "--encryption-key",
        "ha-2026:a passphrase every replica is given",
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect();
    Replica {
        proc: spawn(&args, dir.join(format!("bbs{i}.log"))),
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// Waits until `auctioneer` says it serves at `url` (it holds the lock).
async fn active_auctioneer(auctioneer: &Proc, url: &str, what: &str) {
    eventually(what, Duration::from_secs(30), || async {
        let log = auctioneer.log();
        log.contains(&format!("auctioneer api: {url} (active"))
            .then_some(())
    })
    .await;
}

fn cell(dir: &Path, id: &str, bbs: &str) -> Proc {
    let args: Vec<String> = [
        "cell",
        "--bbs",
        bbs,
        "--cell-id",
        id,
        "--fake-backend",
        "--data-dir",
        dir.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    spawn(&args, dir.join(format!("{id}.log")))
}

/// The one replica that answers, if exactly one does.
async fn active(replicas: &[Replica]) -> Option<usize> {
    let mut serving = Vec::new();
    for (i, r) in replicas.iter().enumerate() {
        let probe = async {
            let c = Client::connect(&r.url, None).await.ok()?;
            c.ping().await.ok()
        };
        if let Ok(Some(true)) = tokio::time::timeout(Duration::from_millis(500), probe).await {
            serving.push(i);
        }
    }
    match serving.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

fn echo_task(guid: &str) -> Task {
    serde_json::from_value(serde_json::json!({
        "task_guid": guid, "domain": "ha", "rootfs": "preloaded:busybox", "memory_mb": 8,
        "action": {"run": {"path": "/bin/sh", "args": ["-c", "echo ok"], "user": "root"}}
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_keeps_every_acknowledged_write_and_fences_the_old_leader() {
    let mut cluster = etcd::Cluster::start(3);
    let dir = tempfile::tempdir().unwrap();
    let store = format!(
        "etcd://{}",
        cluster
            .members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect::<Vec<_>>()
            .join(",")
    );

    // the first replica creates the store key; the others copy it
    let mut replicas = vec![replica(dir.path(), 0, &store)];
    eventually(
        "the first replica to be active",
        Duration::from_secs(60),
        || active(&replicas),
    )
    .await;
    replicas.push(replica(dir.path(), 1, &store));
    replicas.push(replica(dir.path(), 2, &store));
    let all = replicas
        .iter()
        .map(|r| r.url.clone())
        .collect::<Vec<_>>()
        .join(",");
    let _cells = [
        cell(dir.path(), "cell-a", &all),
        cell(dir.path(), "cell-b", &all),
    ];
    let client = Client::connect(&all, None).await.unwrap();
    eventually("both cells present", Duration::from_secs(60), || async {
        (client.cells().await.ok()?.len() == 2).then_some(())
    })
    .await;
    // the standbys stand by: exactly one replica serves
    let first = active(&replicas).await.expect("exactly one active replica");

    // --- 1. kill -9 the active replica under a steady write load
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let killed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let first_write_after_kill: Arc<Mutex<Option<Duration>>> = Arc::default();
    let writer = {
        let (acked, stop, client) = (acked.clone(), stop.clone(), client.clone());
        let (killed_at, after) = (killed_at.clone(), first_write_after_kill.clone());
        tokio::spawn(async move {
            let mut i = 0;
            let mut refused = 0;
            while !stop.load(Ordering::Relaxed) {
                let guid = format!("load-{i}");
                i += 1;
                match client
                    .desire_task(&guid, "ha", echo_task(&guid).definition)
                    .await
                {
                    Ok(()) => {
                        acked.lock().unwrap().push(guid);
                        let killed = *killed_at.lock().unwrap();
                        if let Some(k) = killed {
                            after.lock().unwrap().get_or_insert_with(|| k.elapsed());
                        }
                    }
                    // in flight on the killed replica: not acknowledged
                    Err(_) => refused += 1,
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            refused
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    *killed_at.lock().unwrap() = Some(Instant::now());
    replicas[first].proc.kill9();
    let second = eventually("a standby to take over", Duration::from_secs(30), || {
        active(&replicas)
    })
    .await;
    assert_ne!(second, first);
    eventually("writes to resume", Duration::from_secs(30), || async {
        *first_write_after_kill.lock().unwrap()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let refused = writer.await.unwrap();
    let acked = acked.lock().unwrap().clone();
    let failover = first_write_after_kill.lock().unwrap().unwrap();
    println!(
        "failover: kill -9 -> first acknowledged write {failover:?}; {} writes acknowledged, {refused} refused",
        acked.len()
    );
    assert!(acked.len() > 10, "the load ran: {} acked", acked.len());

    // nothing acknowledged is lost; every task runs to completion once
    for guid in &acked {
        client
            .task(guid)
            .await
            .unwrap_or_else(|e| panic!("acknowledged task {guid} lost: {e}"));
    }
    eventually(
        "every task to complete",
        Duration::from_secs(120),
        || async {
            let tasks = client.tasks("ha", "").await.ok()?;
            let done = tasks
                .iter()
                .filter(|t| t.state == TaskState::Completed)
                .count();
            (done >= acked.len()).then_some(())
        },
    )
    .await;
    let starts = task_starts(&client).await;
    for guid in &acked {
        assert_eq!(
            starts.get(guid),
            Some(&1),
            "task {guid} started {:?} times",
            starts.get(guid)
        );
    }

    // --- 2. SIGSTOP the active replica past its lock ttl, then SIGCONT
    let paused = second;
    replicas[paused].proc.signal("-STOP");
    let third = eventually(
        "a standby to take over from the paused one",
        Duration::from_secs(30),
        || async {
            let others: Vec<usize> = (0..replicas.len())
                .filter(|i| *i != paused && *i != first)
                .collect();
            for i in others {
                let c = Client::connect(&replicas[i].url, None).await.ok()?;
                if c.ping().await.ok()? {
                    return Some(i);
                }
            }
            None
        },
    )
    .await;
    // a request already queued at the paused replica when it wakes up
    let stale = Client::connect(&replicas[paused].url, None).await;
    let probe = tokio::spawn(async move {
        let c = stale.ok()?;
        Some(
            c.desire_task("fenced-probe", "ha", echo_task("fenced-probe").definition)
                .await,
        )
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    replicas[paused].proc.signal("-CONT");
    let outcome = tokio::time::timeout(Duration::from_secs(30), probe)
        .await
        .expect("the woken replica answers or closes")
        .unwrap();
    println!("write sent to the paused replica: {outcome:?}");
    assert!(
        !matches!(outcome, Some(Ok(()))),
        "a deposed replica acknowledged a write"
    );
    assert!(
        client.task("fenced-probe").await.is_err(),
        "a write sent to the deposed replica landed"
    );
    eventually(
        "the woken replica to stand down",
        Duration::from_secs(15),
        || async {
            let log = replicas[paused].proc.log();
            log.contains("lost the bbs lock").then_some(())
        },
    )
    .await;
    assert_eq!(
        active(&replicas).await,
        Some(third),
        "only the new leader serves"
    );

    // --- 3. kill an etcd member: the cluster keeps working
    cluster.members[1].kill();
    client
        .desire_task(
            "after-member-loss",
            "ha",
            echo_task("after-member-loss").definition,
        )
        .await
        .expect("writes go on with 2 of 3 etcd members");
    eventually("the task to complete", Duration::from_secs(60), || async {
        let t = client.task("after-member-loss").await.ok()?;
        (t.state == TaskState::Completed).then_some(())
    })
    .await;
}

/// How many times each task went to RUNNING, read from the change log.
async fn task_starts(client: &Client) -> BTreeMap<String, usize> {
    let opts = WatchOptions {
        kinds: vec!["task".into()],
        since_revision: 1,
        ..Default::default()
    };
    let mut stream = Box::pin(client.watch(opts).await.expect("watch"));
    let mut starts = BTreeMap::new();
    // the log replays, then the stream goes quiet
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(3), stream.next()).await {
        let ev = item.expect("event");
        if let Event::TaskChanged { before, after } = ev.event {
            if before.state != TaskState::Running && after.state == TaskState::Running {
                *starts.entry(after.task_guid.clone()).or_insert(0) += 1;
            }
        }
    }
    starts
}

/// A `diego auctioneer` on a fixed loopback port (it publishes the address
/// in its lock before binding it).
fn auctioneer(dir: &Path, name: &str, store: &str, bbs: &str) -> (Proc, String) {
    let port = etcd::free_port();
    let args: Vec<String> = [
        "auctioneer",
        "--store",
        store,
        "--bbs",
        bbs,
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--lock-ttl-ms",
        &LOCK_TTL_MS.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let url = format!("http://127.0.0.1:{port}");
    (spawn(&args, dir.join(format!("{name}.log"))), url)
}

fn server_lrp(guid: &str, instances: i32) -> DesiredLrp {
    // an unknown program runs until signalled on the fake backend
    serde_json::from_value(serde_json::json!({
        "process_guid": guid, "domain": "ha", "rootfs": "preloaded:busybox",
        "instances": instances, "memory_mb": 8, "disk_mb": 8, "metric_tags": {},
        "action": {"run": {"path": "/bin/server", "user": "root"}}
    }))
    .unwrap()
}

async fn tasks_completed(client: &Client, guids: &[String]) -> Option<()> {
    for g in guids {
        let t = client.task(g).await.ok()?;
        if t.state != TaskState::Completed {
            return None;
        }
    }
    Some(())
}

async fn running_instances(client: &Client, guid: &str) -> usize {
    let filter = ActualFilter {
        process_guid: guid.into(),
        ..Default::default()
    };
    client
        .actual_lrps(filter)
        .await
        .map(|all| {
            all.iter()
                .filter(|a| a.state == ActualState::Running)
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_auctioneer_places_work_and_a_new_one_takes_over_after_kill_9() {
    let cluster = etcd::Cluster::start(3);
    let dir = tempfile::tempdir().unwrap();
    let store = format!(
        "etcd://{}",
        cluster
            .members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect::<Vec<_>>()
            .join(",")
    );
    let remote = ["--auctioneer", "remote"];
    let mut replicas = vec![replica_with(dir.path(), 0, &store, &remote)];
    eventually(
        "the first replica to be active",
        Duration::from_secs(60),
        || active(&replicas),
    )
    .await;
    replicas.push(replica_with(dir.path(), 1, &store, &remote));
    replicas.push(replica_with(dir.path(), 2, &store, &remote));
    let all = replicas
        .iter()
        .map(|r| r.url.clone())
        .collect::<Vec<_>>()
        .join(",");
    let (mut first_auctioneer, first_url) = auctioneer(dir.path(), "auctioneer1", &store, &all);
    let _cells = [
        cell(dir.path(), "cell-a", &all),
        cell(dir.path(), "cell-b", &all),
    ];
    let client = Client::connect(&all, None).await.unwrap();
    eventually("both cells present", Duration::from_secs(60), || async {
        (client.cells().await.ok()?.len() == 2).then_some(())
    })
    .await;
    active_auctioneer(&first_auctioneer, &first_url, "the auctioneer to be active").await;

    // --- tasks and an LRP are placed through the separate auctioneer
    let mut guids = Vec::new();
    for i in 0..6 {
        let guid = format!("remote-{i}");
        client
            .desire_task(&guid, "ha", echo_task(&guid).definition)
            .await
            .unwrap();
        guids.push(guid);
    }
    client.desire_lrp(server_lrp("web", 2)).await.unwrap();
    eventually("the tasks to complete", Duration::from_secs(60), || {
        tasks_completed(&client, &guids)
    })
    .await;
    eventually(
        "2 web instances running",
        Duration::from_secs(60),
        || async { (running_instances(&client, "web").await == 2).then_some(()) },
    )
    .await;
    // `diego why` on the bbs is answered from the auctioneer's log: the
    // decisions were made in the other process
    let why = client
        .placement_decisions("task", "remote-0", None)
        .await
        .unwrap();
    assert!(
        why.iter()
            .any(|(_, summary, _)| summary.contains("placed on cell-")),
        "{why:?}"
    );
    let why_lrp = client
        .placement_decisions("lrp", "web", None)
        .await
        .unwrap();
    assert!(why_lrp.len() >= 2, "{why_lrp:?}");
    // --- kill -9 the auctioneer and start another: placement goes on
    first_auctioneer.kill9();
    let killed_at = Instant::now();
    let (second_auctioneer, second_url) = auctioneer(dir.path(), "auctioneer2", &store, &all);
    let mut after = Vec::new();
    for i in 0..4 {
        let guid = format!("after-kill-{i}");
        client
            .desire_task(&guid, "ha", echo_task(&guid).definition)
            .await
            .unwrap();
        after.push(guid);
    }
    let scale = DesiredLrpUpdate {
        instances: Some(3),
        ..Default::default()
    };
    client.update_desired_lrp("web", scale).await.unwrap();
    active_auctioneer(
        &second_auctioneer,
        &second_url,
        "the new auctioneer to take the lock",
    )
    .await;
    let takeover = killed_at.elapsed();
    eventually(
        "the tasks desired after the kill to complete",
        Duration::from_secs(90),
        || tasks_completed(&client, &after),
    )
    .await;
    eventually(
        "3 web instances running",
        Duration::from_secs(90),
        || async { (running_instances(&client, "web").await == 3).then_some(()) },
    )
    .await;
    println!(
        "auctioneer failover: kill -9 -> new holder active after {takeover:?}; placement resumed"
    );
    let why = client
        .placement_decisions("task", "after-kill-0", None)
        .await
        .unwrap();
    assert!(!why.is_empty(), "the new auctioneer's log is served");

    // every task ran once, across the failover
    let starts = task_starts(&client).await;
    for guid in guids.iter().chain(&after) {
        assert_eq!(
            starts.get(guid),
            Some(&1),
            "task {guid} started {:?} times",
            starts.get(guid)
        );
    }
}
