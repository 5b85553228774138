//! `diego up` killed with SIGKILL and started again keeps every desired LRP
//! and task, reconverges the instances and reruns no task (issue 6). Runs
//! the real binary; cells use runc where this machine can run containers.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diego_model::{ActualState, DesiredLrp, Presence, Task, TaskState};
use diego_sdk::{ActualFilter, Client};
use support::{free_port, root_with_runc};

fn can_run_containers() -> bool {
    std::env::var("DIEGO_TEST_BACKEND").as_deref() != Ok("fake") && root_with_runc()
}

/// Kills the process if the test panics, so no cluster outlives it.
struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn up(dir: &std::path::Path, port: u16) -> Up {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_diego"));
    cmd.args([
        "up",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--converge-interval-ms",
        "1000",
    ])
    .arg("--data-dir")
    .arg(dir)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if !can_run_containers() {
        eprintln!("note: cells on the fake backend (needs root and runc for real containers)");
        cmd.arg("--fake-cells");
    }
    Up(cmd.spawn().expect("diego up starts"))
}

async fn connect(api: &str) -> Client {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(c) = Client::connect(api, None).await {
            if c.ping().await.unwrap_or(false) && c.cells().await.map(|v| v.len()).unwrap_or(0) == 2
            {
                return c;
            }
        }
        assert!(Instant::now() < deadline, "diego up did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn lrp() -> DesiredLrp {
    serde_json::from_value(serde_json::json!({
        "process_guid": "survivor", "domain": "tests", "rootfs": "preloaded:busybox",
        "instances": 2, "memory_mb": 32, "disk_mb": 32, "metric_tags": {},
        "action": {"run": {"path": "/bin/sleep", "args": ["600"], "user": "root"}}
    }))
    .unwrap()
}

fn task(guid: &str, script: &str) -> Task {
    serde_json::from_value(serde_json::json!({
        "task_guid": guid, "domain": "tests", "rootfs": "preloaded:busybox", "memory_mb": 32,
        "action": {"run": {"path": "/bin/sh", "args": ["-c", script], "user": "root"}}
    }))
    .unwrap()
}

async fn running(c: &Client) -> usize {
    let f = ActualFilter {
        process_guid: "survivor".into(),
        ..Default::default()
    };
    let rows = c.actual_lrps(f).await.unwrap_or_default();
    rows.iter()
        .filter(|a| a.presence == Presence::Ordinary && a.state == ActualState::Running)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_and_restart_loses_nothing_and_reruns_no_task() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let api = format!("http://127.0.0.1:{port}");
    let mut first = up(dir.path(), port);
    let c = connect(&api).await;
    c.desire_lrp(lrp()).await.unwrap();
    let quick = task("quick", "echo done");
    c.desire_task("quick", "tests", quick.definition)
        .await
        .unwrap();
    let slow = task("slow", "sleep 600");
    c.desire_task("slow", "tests", slow.definition)
        .await
        .unwrap();
    wait("2 running instances", || async {
        (running(&c).await == 2).then_some(())
    })
    .await;
    wait("quick completed and slow running", || async {
        let q = c.task("quick").await.ok()?;
        let s = c.task("slow").await.ok()?;
        (q.state == TaskState::Completed && s.state == TaskState::Running).then_some(())
    })
    .await;
    let slow_cell = c.task("slow").await.unwrap().cell_id;

    first.0.kill().expect("sigkill");
    first.0.wait().unwrap();
    let mut second = up(dir.path(), port);
    let c = connect(&api).await;

    // Nothing acknowledged was lost.
    assert_eq!(c.desired_lrp("survivor").await.unwrap().instances, 2);
    let q = c.task("quick").await.unwrap();
    assert_eq!((q.state, q.failed), (TaskState::Completed, false));
    // The instances reconverge; the running task is failed, never re-run.
    wait("instances reconverged", || async {
        (running(&c).await == 2).then_some(())
    })
    .await;
    let s = wait("slow task resolved", || async {
        let s = c.task("slow").await.ok()?;
        (s.state == TaskState::Completed).then_some(s)
    })
    .await;
    assert!(s.failed, "the interrupted task must not succeed");
    assert!(
        s.failure_reason == "task container does not exist"
            || s.failure_reason == "cell disappeared before completion",
        "unexpected reason {:?} (was on {slow_cell})",
        s.failure_reason
    );
    assert_eq!(s.rejection_count, 0, "the task was not re-placed");

    // Clean stop: Ctrl-C stops every container.
    let _ = Command::new("kill")
        .args(["-INT", &second.0.id().to_string()])
        .status();
    let status = second.0.wait().unwrap();
    assert!(
        status.success(),
        "diego up exits cleanly on ctrl-c: {status}"
    );
}
