//! Health monitoring: check definitions, the legacy monitor, readiness (spec §6.4).

mod common;

use std::time::Duration;

use common::*;
use diego_backend_fake::FakeBackend;
use diego_executor::*;
use diego_model::{Check, CheckDefinition, TcpCheck};

fn tcp(port: u32) -> Check {
    Check {
        tcp_check: Some(TcpCheck {
            port,
            connect_timeout_ms: 100,
            interval_ms: 0,
        }),
        http_check: None,
    }
}

fn lrp(checks: Vec<Check>, readiness: Vec<Check>) -> RunRequest {
    let mut req = RunRequest::new(Lifecycle::Lrp, sh("serve"));
    req.ports = vec![8080];
    req.start_timeout_ms = 500;
    req.check_definition = Some(CheckDefinition {
        checks,
        log_source: String::new(),
        readiness_checks: readiness,
    });
    req
}

#[tokio::test]
async fn healthy_then_unhealthy() {
    let (exec, backend) = executor();
    alloc(&exec, "h");
    exec.run("h", lrp(vec![tcp(8080)], vec![])).await.unwrap();
    let c = wait_state(&exec, "h", ContainerState::Running, 1000).await;
    assert!(c.routable);
    backend.set_healthy("h", false);
    let c = wait_state(&exec, "h", ContainerState::Completed, 2000).await;
    assert_eq!(
        failure(&c).as_deref(),
        Some("Instance became unhealthy: Failed to make TCP connection to port 8080: connection refused")
    );
    let logs = log_text(&exec, "h");
    for want in [
        "HEALTH:Starting health monitoring of container",
        "HEALTH:Container became healthy",
        "HEALTH:Container became unhealthy",
    ] {
        assert!(logs.contains(&want.to_string()), "{want} not in {logs:?}");
    }
    assert_eq!(backend.live_processes("h"), 0);
}

/// A startup check that fails once retries long before the unhealthy
/// interval (one minute here): the pause starts at `startup_first_retry_ms`
/// and doubles, so an app that binds its port just after spawn is running
/// promptly instead of one whole unhealthy interval later.
#[tokio::test]
async fn a_failing_startup_check_is_retried_soon() {
    let backend = FakeBackend::new();
    let cfg = ExecutorConfig {
        unhealthy_monitoring_interval_ms: 60_000,
        startup_first_retry_ms: 20,
        ..config()
    };
    let exec = Executor::new(backend.clone(), cfg);
    backend.set_healthy("s", false);
    alloc(&exec, "s");
    let mut req = lrp(vec![tcp(8080)], vec![]);
    req.start_timeout_ms = 0;
    exec.run("s", req).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(exec.get("s").unwrap().state, ContainerState::Created);
    backend.set_healthy("s", true);
    // three retries (20 + 40 + 80 ms from the start) cover this; the old
    // fixed poll would next look after 60 s
    wait_state(&exec, "s", ContainerState::Running, 5_000).await;
}

#[tokio::test]
async fn never_healthy_after_start_timeout() {
    let (exec, backend) = executor();
    backend.set_healthy("n", false);
    alloc(&exec, "n");
    exec.run("n", lrp(vec![tcp(8080)], vec![])).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(exec.get("n").unwrap().state, ContainerState::Created);
    let c = wait_state(&exec, "n", ContainerState::Completed, 2000).await;
    assert_eq!(
        failure(&c).as_deref(),
        Some("Instance never healthy after 500ms: Failed to make TCP connection to port 8080: connection refused")
    );
}

#[tokio::test]
async fn action_exit_zero_keeps_the_monitor_running() {
    let (exec, _) = executor();
    alloc(&exec, "z");
    let mut req = lrp(vec![tcp(8080)], vec![]);
    // A daemonising start command exits 0; health comes from another live process here.
    req.action = diego_model::Action::Parallel(diego_model::ParallelAction {
        actions: vec![sh("exit 0"), sh("serve")],
        ..Default::default()
    });
    exec.run("z", req).await.unwrap();
    wait_state(&exec, "z", ContainerState::Running, 1000).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(exec.get("z").unwrap().state, ContainerState::Running);
}

#[tokio::test]
async fn readiness_flips_routable_and_reemits_running() {
    let (exec, backend) = executor();
    let mut events = exec.subscribe();
    backend.set_healthy("r", false);
    alloc(&exec, "r");
    exec.run("r", lrp(vec![], vec![tcp(8080)])).await.unwrap();
    let c = wait_state(&exec, "r", ContainerState::Running, 1000).await;
    assert!(!c.routable);
    backend.set_healthy("r", true);
    let mut routable_seen = Vec::new();
    while routable_seen.len() < 3 {
        let e = tokio::time::timeout(Duration::from_secs(2), events.recv())
            .await
            .unwrap()
            .unwrap();
        if e.kind == ContainerEventKind::Running {
            routable_seen.push(e.container.routable);
            if routable_seen.len() == 2 {
                backend.set_healthy("r", false);
            }
        }
    }
    assert_eq!(routable_seen, vec![false, true, false]);
    // Readiness failures never crash the instance.
    assert_eq!(exec.get("r").unwrap().state, ContainerState::Running);
}

#[tokio::test]
async fn legacy_monitor_action() {
    let (exec, backend) = executor();
    alloc(&exec, "m");
    let mut req = RunRequest::new(Lifecycle::Lrp, sh("serve"));
    req.monitor = Some(sh("cat /tmp/healthy"));
    req.start_timeout_ms = 2000;
    exec.run("m", req).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(exec.get("m").unwrap().state, ContainerState::Created);
    backend.write_file("m", "/tmp/healthy", b"ok").unwrap();
    wait_state(&exec, "m", ContainerState::Running, 1000).await;
    backend.remove_file("m", "/tmp/healthy");
    let c = wait_state(&exec, "m", ContainerState::Completed, 2000).await;
    assert_eq!(
        failure(&c).as_deref(),
        Some("Instance became unhealthy: Exit status 1")
    );

    alloc(&exec, "never");
    let mut req = RunRequest::new(Lifecycle::Lrp, sh("serve"));
    req.monitor = Some(sh("exit 1"));
    req.start_timeout_ms = 200;
    exec.run("never", req).await.unwrap();
    let c = wait_state(&exec, "never", ContainerState::Completed, 2000).await;
    assert_eq!(
        failure(&c).as_deref(),
        Some("Instance never healthy after 200ms: Exit status 1")
    );
}

#[tokio::test]
async fn native_checker_tcp_and_http() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port() as u32;
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let ok = String::from_utf8_lossy(&buf[..n]).starts_with("GET /ok ");
            let status = if ok {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let _ = s
                .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                .await;
        }
    });
    let target = CheckTarget {
        guid: "x".into(),
        internal_ip: "127.0.0.1".into(),
        ports: vec![],
    };
    let http = |path: &str| Check {
        tcp_check: None,
        http_check: Some(diego_model::HttpCheck {
            port,
            request_timeout_ms: 500,
            path: path.into(),
            interval_ms: 0,
        }),
    };
    let checker = NativeHealthChecker;
    assert_eq!(checker.check(&target, &tcp(port)).await, Ok(()));
    assert_eq!(checker.check(&target, &http("/ok")).await, Ok(()));
    assert_eq!(
        checker.check(&target, &http("/bad")).await,
        Err(format!(
            "Failed to make HTTP request to '/bad' on port {port}: received status code 503"
        ))
    );
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port() as u32;
    assert_eq!(
        checker.check(&target, &tcp(closed)).await,
        Err(format!(
            "Failed to make TCP connection to port {closed}: connection refused"
        ))
    );
}
