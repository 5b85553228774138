//! The container state machine, resource accounting, events, logs and the reaper.

mod common;

use std::time::Duration;

use common::*;
use diego_backend_fake::FakeBackend;
use diego_executor::*;
use diego_model::{Action, SerialAction};

#[tokio::test]
async fn allocation_accounts_memory_disk_and_slots() {
    let (exec, _) = executor();
    let req = |guid: &str, memory_mb| AllocationRequest {
        guid: guid.into(),
        memory_mb,
        disk_mb: 10,
        ..Default::default()
    };
    let failures = exec.allocate(vec![req("a", 1000), req("b", 100), req("a", 1)]);
    assert_eq!(
        failures,
        vec![
            (
                "b".to_string(),
                "insufficient resources: memory".to_string()
            ),
            ("a".to_string(), "container already exists".to_string())
        ]
    );
    assert_eq!(
        exec.remaining(),
        Resources {
            memory_mb: 24,
            disk_mb: 2038,
            containers: 9
        }
    );
    exec.delete("a").await.unwrap();
    assert_eq!(exec.remaining(), exec.total());
    let many: Vec<_> = (0..11).map(|i| req(&format!("c{i}"), 1)).collect();
    let failures = exec.allocate(many);
    assert_eq!(
        failures,
        vec![(
            "c10".to_string(),
            "insufficient resources: containers".to_string()
        )]
    );
}

#[tokio::test]
async fn lifecycle_events_in_order() {
    let (exec, _) = executor();
    let mut events = exec.subscribe();
    alloc(&exec, "g");
    exec.run(
        "g",
        RunRequest::new(Lifecycle::Lrp, sh("sleep 0.1; exit 0")),
    )
    .await
    .unwrap();
    let mut kinds = Vec::new();
    while kinds.last() != Some(&ContainerEventKind::Completed) {
        let e = tokio::time::timeout(Duration::from_secs(2), events.recv())
            .await
            .unwrap()
            .unwrap();
        kinds.push(e.kind);
    }
    assert_eq!(
        kinds,
        vec![
            ContainerEventKind::Reserved,
            ContainerEventKind::Running,
            ContainerEventKind::Completed
        ]
    );
    let c = exec.get("g").unwrap();
    assert!(!c.run_result.unwrap().failed);
    assert_eq!(c.net.external_ip, "10.0.0.9");
    let again = exec
        .run("g", RunRequest::new(Lifecycle::Lrp, sh("exit 0")))
        .await;
    assert!(matches!(
        again,
        Err(ExecutorError::InvalidTransition { .. })
    ));
    assert!(matches!(
        exec.run("nope", RunRequest::new(Lifecycle::Lrp, sh("exit 0")))
            .await,
        Err(ExecutorError::NotFound(_))
    ));
}

#[tokio::test]
async fn reservations_expire() {
    let backend = FakeBackend::new();
    let exec = Executor::new(
        backend,
        ExecutorConfig {
            reserved_expiration_ms: 100,
            ..config()
        },
    );
    alloc(&exec, "r");
    let c = wait_state(&exec, "r", ContainerState::Completed, 2000).await;
    assert_eq!(failure(&c).as_deref(), Some("expired container"));
    // Expired containers keep their resources until the rep deletes them.
    assert_eq!(exec.remaining().containers, 9);
}

#[tokio::test]
async fn create_failure_is_retryable() {
    let (exec, backend) = executor();
    backend.fail_create("x");
    alloc(&exec, "x");
    exec.run("x", RunRequest::new(Lifecycle::Task, sh("exit 0")))
        .await
        .unwrap();
    let r = exec.get("x").unwrap().run_result.unwrap();
    assert!(r.failed && r.retryable, "{r:?}");
    assert!(r.failure_reason.starts_with("failed to create container"));
}

#[tokio::test]
async fn stop_before_run_completes_stopped() {
    let (exec, _) = executor();
    alloc(&exec, "s");
    exec.stop("s").await.unwrap();
    let r = exec.get("s").unwrap().run_result.unwrap();
    assert!(r.stopped && !r.failed);
    assert!(exec
        .run("s", RunRequest::new(Lifecycle::Task, sh("exit 0")))
        .await
        .is_err());
}

#[tokio::test]
async fn task_result_file_is_read_after_completion() {
    let (exec, _) = executor();
    alloc(&exec, "t");
    let mut req = RunRequest::new(Lifecycle::Task, sh("echo 42 > /tmp/result"));
    req.result_file = "/tmp/result".into();
    exec.run("t", req).await.unwrap();
    let c = wait_state(&exec, "t", ContainerState::Completed, 2000).await;
    assert_eq!(c.result.as_deref(), Some("42\n"));
    assert_eq!(
        exec.read_file("t", "/tmp/result", 10).await.unwrap(),
        b"42\n"
    );
    assert!(matches!(
        exec.read_file("t", "/tmp/result", 1).await,
        Err(ExecutorError::FileTooLarge { .. })
    ));

    alloc(&exec, "u");
    let mut req = RunRequest::new(Lifecycle::Task, sh("exit 0"));
    req.result_file = "/tmp/missing".into();
    exec.run("u", req).await.unwrap();
    let c = wait_state(&exec, "u", ContainerState::Completed, 2000).await;
    assert!(failure(&c)
        .unwrap()
        .starts_with("failed to read result file /tmp/missing"));
}

#[tokio::test]
async fn serial_is_ready_when_its_last_child_is() {
    let (exec, _) = executor();
    alloc(&exec, "l");
    let tree = Action::Serial(SerialAction {
        actions: vec![sh("sleep 0.3"), sh("serve")],
        ..Default::default()
    });
    exec.run("l", RunRequest::new(Lifecycle::Lrp, tree))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(exec.get("l").unwrap().state, ContainerState::Created);
    let c = wait_state(&exec, "l", ContainerState::Running, 2000).await;
    assert!(c.routable);
}

#[tokio::test]
async fn setup_failure_completes_without_running() {
    let (exec, _) = executor();
    alloc(&exec, "s");
    let mut req = RunRequest::new(Lifecycle::Lrp, sh("serve"));
    req.setup = Some(sh("exit 6"));
    exec.run("s", req).await.unwrap();
    let c = wait_state(&exec, "s", ContainerState::Completed, 2000).await;
    assert_eq!(failure(&c).as_deref(), Some("Exit status 6"));
}

#[tokio::test]
async fn reaper_completes_vanished_and_destroys_unknown() {
    let (exec, backend) = executor();
    alloc(&exec, "v");
    exec.run("v", RunRequest::new(Lifecycle::Lrp, sh("serve")))
        .await
        .unwrap();
    wait_state(&exec, "v", ContainerState::Running, 1000).await;
    backend.vanish("v");
    backend
        .create(ContainerSpec {
            guid: "orphan".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    exec.reap().await.unwrap();
    let c = exec.get("v").unwrap();
    assert_eq!(failure(&c).as_deref(), Some("missing garden container"));
    assert!(backend.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn delete_destroys_and_forgets() {
    let (exec, backend) = executor();
    alloc(&exec, "d");
    exec.run("d", RunRequest::new(Lifecycle::Lrp, sh("echo up; serve")))
        .await
        .unwrap();
    wait_state(&exec, "d", ContainerState::Running, 1000).await;
    exec.delete("d").await.unwrap();
    assert!(exec.get("d").is_none());
    assert!(backend.list().await.unwrap().is_empty());
    assert!(exec.logs("d").is_empty());
    assert!(matches!(
        exec.delete("d").await,
        Err(ExecutorError::NotFound(_))
    ));
}

#[tokio::test]
async fn logs_are_buffered_tailed_and_rate_limited() {
    let backend = FakeBackend::new();
    let cfg = ExecutorConfig {
        max_log_lines_per_second: 3,
        log_buffer_lines: 2,
        ..config()
    };
    let exec = Executor::new(backend, cfg);
    alloc(&exec, "g");
    let mut tail = exec.tail("g");
    let mut req = RunRequest::new(Lifecycle::Task, sh("echo 1; echo 2 >&2; echo 3; echo 4"));
    req.log_source = "CELL".into();
    exec.run("g", req).await.unwrap();
    wait_state(&exec, "g", ContainerState::Completed, 2000).await;
    let first = tail.recv().await.unwrap();
    assert_eq!(
        (first.source.as_str(), first.line.as_str(), first.stream),
        ("CELL", "1", Stream::Stdout)
    );
    assert_eq!(tail.recv().await.unwrap().stream, Stream::Stderr);
    let kept: Vec<String> = exec.logs("g").into_iter().map(|l| l.line).collect();
    assert_eq!(kept, vec!["2", "3"]);
    assert_eq!(exec.dropped_log_lines("g"), 1);
}
