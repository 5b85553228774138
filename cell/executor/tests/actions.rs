//! Every action's success, failure, cancel and timeout paths on the fake backend.

mod common;

use std::time::Duration;

use common::*;
use diego_executor::{ContainerState, Lifecycle, RunRequest};
use diego_model::*;

fn serial(actions: Vec<Action>) -> Action {
    Action::Serial(SerialAction {
        actions,
        ..Default::default()
    })
}
fn parallel(actions: Vec<Action>) -> Action {
    Action::Parallel(ParallelAction {
        actions,
        ..Default::default()
    })
}
fn codependent(actions: Vec<Action>) -> Action {
    Action::Codependent(CodependentAction {
        actions,
        ..Default::default()
    })
}
fn timeout(action: Action, timeout_ms: i64) -> Action {
    Action::Timeout(TimeoutAction {
        action: Box::new(action),
        deprecated_timeout_ns: 0,
        log_source: String::new(),
        timeout_ms,
    })
}

#[tokio::test]
async fn run_success_and_exit_status() {
    let (ok, exec, _) = run_task(sh("echo hello; exit 0")).await;
    assert_eq!(failure(&ok), None);
    assert!(log_text(&exec, "t").contains(&"APP:hello".to_string()));
    let (bad, exec, _) = run_task(sh("echo oops >&2; exit 3")).await;
    assert_eq!(failure(&bad).as_deref(), Some("Exit status 3"));
    assert!(log_text(&exec, "t").contains(&"APP:Exited with status 3".to_string()));
}

#[tokio::test]
async fn run_out_of_memory_has_suffix() {
    let (c, _, _) = run_task(sh("oom")).await;
    assert_eq!(
        failure(&c).as_deref(),
        Some("Exit status 137 (out of memory)")
    );
}

#[tokio::test]
async fn run_env_has_networking_vars_and_action_env_wins() {
    let mut run = RunAction {
        path: "/bin/sh".into(),
        args: vec!["-c".into(), "env".into()],
        user: "vcap".into(),
        ..Default::default()
    };
    run.env = vec![EnvVar {
        name: "A".into(),
        value: "action".into(),
    }];
    let (exec, backend) = executor();
    alloc(&exec, "t");
    let mut req = RunRequest::new(Lifecycle::Task, Action::Run(run));
    req.env = vec![
        EnvVar {
            name: "A".into(),
            value: "container".into(),
        },
        EnvVar {
            name: "B".into(),
            value: "b".into(),
        },
    ];
    req.ports = vec![8080];
    exec.run("t", req).await.unwrap();
    wait_state(&exec, "t", ContainerState::Completed, 2000).await;
    let logs = log_text(&exec, "t");
    for want in [
        "APP:A=action",
        "APP:B=b",
        "APP:CF_INSTANCE_IP=10.0.0.9",
        "APP:CF_INSTANCE_PORT=61010",
    ] {
        assert!(
            logs.contains(&want.to_string()),
            "missing {want} in {logs:?}"
        );
    }
    assert!(logs
        .iter()
        .any(|l| l.starts_with("APP:CF_INSTANCE_PORTS=[{\"external\":61010,\"internal\":8080}]")));
    assert_eq!(backend.spawned("t")[0].user, "vcap");
}

#[tokio::test]
async fn run_cancel_sends_term_then_kill() {
    let (exec, backend) = executor();
    alloc(&exec, "a");
    exec.run("a", RunRequest::new(Lifecycle::Lrp, sh("sleep 100")))
        .await
        .unwrap();
    wait_state(&exec, "a", ContainerState::Running, 1000).await;
    exec.stop("a").await.unwrap();
    let c = exec.get("a").unwrap();
    assert!(c.run_result.clone().unwrap().stopped);
    assert_eq!(failure(&c), None);
    assert_eq!(backend.live_processes("a"), 0);

    // A process that ignores SIGTERM is killed after the grace interval.
    alloc(&exec, "b");
    exec.run(
        "b",
        RunRequest::new(Lifecycle::Lrp, sh("trap '' TERM; sleep 100")),
    )
    .await
    .unwrap();
    wait_state(&exec, "b", ContainerState::Running, 1000).await;
    let started = std::time::Instant::now();
    exec.stop("b").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "killed before the grace interval"
    );
    assert_eq!(backend.live_processes("b"), 0);
}

#[tokio::test]
async fn serial_stops_at_first_failure() {
    let (ok, _, _) = run_task(serial(vec![sh("exit 0"), sh("echo two")])).await;
    assert_eq!(failure(&ok), None);
    let (bad, _, backend) =
        run_task(serial(vec![sh("exit 0"), sh("exit 4"), sh("echo never")])).await;
    assert_eq!(failure(&bad).as_deref(), Some("Exit status 4"));
    assert_eq!(backend.spawned("t").len(), 2);
}

#[tokio::test]
async fn parallel_joins_failures() {
    let (ok, _, backend) = run_task(parallel(vec![sh("sleep 0.05"), sh("exit 0")])).await;
    assert_eq!(failure(&ok), None);
    assert_eq!(backend.spawned("t").len(), 2);
    let (bad, _, _) = run_task(parallel(vec![
        sh("exit 1"),
        sh("exit 0"),
        sh("sleep 0.05; exit 2"),
    ]))
    .await;
    assert_eq!(
        failure(&bad).as_deref(),
        Some("Exit status 1; Exit status 2")
    );
}

#[tokio::test]
async fn codependent_first_exit_cancels_the_rest() {
    let (c, _, backend) = run_task(codependent(vec![sh("sleep 100"), sh("exit 0")])).await;
    assert_eq!(failure(&c).as_deref(), Some("codependent step exited"));
    assert_eq!(backend.live_processes("t"), 0);
    let (c, _, _) = run_task(codependent(vec![sh("sleep 100"), sh("exit 5")])).await;
    assert_eq!(failure(&c).as_deref(), Some("Exit status 5"));
}

#[tokio::test]
async fn timeout_interrupts_and_passes_fast_actions() {
    let (ok, _, _) = run_task(timeout(sh("sleep 0.01"), 2000)).await;
    assert_eq!(failure(&ok), None);
    let (late, _, backend) = run_task(timeout(sh("sleep 100"), 200)).await;
    assert_eq!(failure(&late).as_deref(), Some("exceeded 200ms timeout"));
    assert_eq!(backend.live_processes("t"), 0);
    let (bad, _, _) = run_task(timeout(sh("exit 7"), 2000)).await;
    assert_eq!(failure(&bad).as_deref(), Some("Exit status 7"));
}

#[tokio::test]
async fn try_swallows_failure_but_not_success() {
    let try_of = |a| {
        Action::Try(TryAction {
            action: Box::new(a),
            log_source: String::new(),
        })
    };
    let (c, _, backend) = run_task(serial(vec![try_of(sh("exit 9")), sh("echo after")])).await;
    assert_eq!(failure(&c), None);
    assert_eq!(backend.spawned("t").len(), 2);
    let (c, _, _) = run_task(try_of(sh("exit 0"))).await;
    assert_eq!(failure(&c), None);
}

#[tokio::test]
async fn emit_progress_logs_messages() {
    let progress = |a| {
        Action::EmitProgress(EmitProgressAction {
            action: Box::new(a),
            start_message: "starting".into(),
            success_message: "done".into(),
            failure_message_prefix: "it broke".into(),
            log_source: "STG".into(),
        })
    };
    let (c, exec, _) = run_task(progress(sh("echo work"))).await;
    assert_eq!(failure(&c), None);
    assert_eq!(
        log_text(&exec, "t"),
        vec!["STG:starting", "STG:work", "STG:done"]
    );
    let (c, exec, _) = run_task(progress(sh("exit 2"))).await;
    assert_eq!(failure(&c).as_deref(), Some("Exit status 2"));
    assert!(log_text(&exec, "t").contains(&"STG:it broke: Exit status 2".to_string()));
}

#[tokio::test]
async fn cancel_interrupts_every_composite() {
    let trees = [
        serial(vec![sh("sleep 100")]),
        parallel(vec![sh("sleep 100"), sh("sleep 100")]),
        codependent(vec![sh("sleep 100"), sh("sleep 100")]),
        timeout(sh("sleep 100"), 100_000),
    ];
    for (i, tree) in trees.into_iter().enumerate() {
        let (exec, backend) = executor();
        let guid = format!("c{i}");
        alloc(&exec, &guid);
        exec.run(&guid, RunRequest::new(Lifecycle::Task, tree))
            .await
            .unwrap();
        wait_state(&exec, &guid, ContainerState::Running, 1000).await;
        exec.stop(&guid).await.unwrap();
        let r = exec.get(&guid).unwrap().run_result.unwrap();
        assert!(r.stopped && !r.failed, "tree {i}: {r:?}");
        assert_eq!(backend.live_processes(&guid), 0, "tree {i}");
    }
}

/// A Run action's volume-mounted files are in place before its process
/// starts: an absolute path as given, a relative one under the service
/// bindings root.
#[tokio::test]
async fn run_places_its_volume_mounted_files_first() {
    let mut action = sh("cat /etc/app/config; cat /etc/cf-service-bindings/db/password");
    if let Action::Run(run) = &mut action {
        run.volume_mounted_files = vec![
            diego_model::File {
                path: "/etc/app/config".into(),
                content: "mode=prod".into(),
            },
            diego_model::File {
                path: "db/password".into(),
                content: "s3cret".into(),
            },
        ];
    }
    let (c, exec, _backend) = run_task(action).await;
    assert_eq!(failure(&c), None);
    let logs = log_text(&exec, "t");
    assert!(logs.contains(&"APP:mode=prod".to_string()), "{logs:?}");
    assert!(logs.contains(&"APP:s3cret".to_string()), "{logs:?}");
}

/// The work's own volume-mounted files (a task's or an LRP's, not one Run
/// action's) are in the container before its setup runs, so every process
/// sees them.
#[tokio::test]
async fn container_volume_mounted_files_are_placed_before_setup() {
    let (exec, _backend) = executor();
    alloc(&exec, "t");
    let mut req = RunRequest::new(Lifecycle::Task, sh("cat /etc/cf-service-bindings/db/uri"));
    req.setup = Some(sh("cat /etc/app.conf"));
    req.volume_mounted_files = vec![
        File {
            path: "db/uri".into(),
            content: "mysql://db".into(),
        },
        File {
            path: "/etc/app.conf".into(),
            content: "mode=prod".into(),
        },
    ];
    exec.run("t", req).await.unwrap();
    let c = wait_state(&exec, "t", ContainerState::Completed, 5000).await;
    assert_eq!(failure(&c), None);
    let logs = log_text(&exec, "t");
    assert!(logs.contains(&"APP:mode=prod".to_string()), "{logs:?}");
    assert!(logs.contains(&"APP:mysql://db".to_string()), "{logs:?}");
}
