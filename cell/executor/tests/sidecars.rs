//! LRP sidecars (spec §6.2): they run beside the action in the same
//! container, and the first process of them all to exit, even with status
//! 0, stops the others and ends the instance.

mod common;

use common::*;
use diego_executor::{ContainerState, Lifecycle, RunRequest};

#[tokio::test]
async fn a_sidecar_runs_beside_the_action_and_its_exit_ends_the_instance() {
    let (exec, backend) = executor();
    alloc(&exec, "s");
    let mut req = RunRequest::new(Lifecycle::Lrp, sh("sleep 100"));
    req.sidecars = vec![sh("sleep 0.2; exit 0")];
    exec.run("s", req).await.unwrap();
    wait_state(&exec, "s", ContainerState::Running, 2000).await;
    assert_eq!(
        backend.spawned("s").len(),
        2,
        "the action and its sidecar each run as a process"
    );
    wait_state(&exec, "s", ContainerState::Completed, 3000).await;
    assert_eq!(
        backend.live_processes("s"),
        0,
        "the action was stopped when its sidecar exited"
    );
}

#[tokio::test]
async fn without_sidecars_an_action_exiting_zero_leaves_the_instance_running() {
    // the contrast: no sidecar, a monitor, the action exits 0 (daemon style)
    let (exec, _backend) = executor();
    alloc(&exec, "d");
    let mut req = RunRequest::new(Lifecycle::Lrp, sh("exit 0"));
    req.monitor = Some(sh("exit 0"));
    exec.run("d", req).await.unwrap();
    wait_state(&exec, "d", ContainerState::Running, 2000).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        exec.get("d").unwrap().state,
        ContainerState::Running,
        "the monitor keeps a daemon-style instance running"
    );
}
