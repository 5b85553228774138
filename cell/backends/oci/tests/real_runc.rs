//! Real containers on runc + CNI; skipped with a printed reason without root or runc.

use std::sync::Arc;
use std::time::Duration;

use diego_backend_oci::{OciBackend, OciConfig};
use diego_executor::*;
use diego_model::*;

fn backend(cell: &str, subnet_index: u8) -> Option<Arc<OciBackend>> {
    if let Err(reason) = OciBackend::available() {
        eprintln!("skipping real runc test: {reason}");
        return None;
    }
    let mut cfg = OciConfig::new(cell, subnet_index);
    cfg.net.host_port_range = (
        61000 + subnet_index as u32 * 20,
        61019 + subnet_index as u32 * 20,
    );
    Some(OciBackend::new(cfg))
}

fn executor(backend: Arc<OciBackend>) -> Executor {
    let cfg = ExecutorConfig {
        total: Resources {
            memory_mb: 4096,
            disk_mb: 8192,
            containers: 20,
        },
        graceful_shutdown_interval_ms: 1000,
        unhealthy_monitoring_interval_ms: 100,
        healthy_monitoring_interval_ms: 500,
        ..ExecutorConfig::default()
    };
    Executor::new(backend, cfg)
}

fn sh(script: &str) -> Action {
    Action::run("/bin/sh", &["-c", script])
}

fn alloc(exec: &Executor, guid: &str, memory_mb: u64) {
    let req = AllocationRequest {
        guid: guid.into(),
        memory_mb,
        disk_mb: 100,
        ..Default::default()
    };
    assert!(exec.allocate(vec![req]).is_empty());
}

async fn wait_state(
    exec: &Executor,
    guid: &str,
    state: ContainerState,
    within_ms: u64,
) -> Container {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(within_ms);
    loop {
        let c = exec.get(guid).expect("container exists");
        if c.state == state {
            return c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{guid} stuck in {:?} ({:?}), wanted {state:?}",
            c.state,
            c.run_result
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn failure(c: &Container) -> Option<String> {
    let r = c.run_result.as_ref().expect("completed");
    r.failed.then(|| r.failure_reason.clone())
}

#[tokio::test]
async fn task_writes_a_result_file() {
    let Some(b) = backend("it-task", 201) else {
        return;
    };
    let exec = executor(b);
    alloc(&exec, "task-1", 64);
    let mut req = RunRequest::new(
        Lifecycle::Task,
        sh("echo hello from $(whoami) > /tmp/result; echo done"),
    );
    req.result_file = "/tmp/result".into();
    exec.run("task-1", req).await.unwrap();
    let c = wait_state(&exec, "task-1", ContainerState::Completed, 20_000).await;
    assert_eq!(failure(&c), None);
    assert_eq!(c.result.as_deref(), Some("hello from root\n"));
    assert!(exec.logs("task-1").iter().any(|l| l.line == "done"));
    exec.delete("task-1").await.unwrap();
}

#[tokio::test]
async fn httpd_lrp_becomes_running_and_answers_on_loopback() {
    let Some(b) = backend("it-httpd", 202) else {
        return;
    };
    let exec = executor(b);
    alloc(&exec, "web-1", 64);
    let mut run = RunAction {
        path: "/bin/sh".into(),
        args: vec!["-c".into(), "mkdir -p /tmp/www && echo hi-$INSTANCE_INDEX > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www".into()],
        user: "vcap".into(),
        ..Default::default()
    };
    run.env = vec![EnvVar {
        name: "INSTANCE_INDEX".into(),
        value: "3".into(),
    }];
    let mut req = RunRequest::new(Lifecycle::Lrp, Action::Run(run));
    req.ports = vec![8080];
    req.start_timeout_ms = 10_000;
    req.check_definition = Some(CheckDefinition {
        checks: vec![Check {
            http_check: Some(HttpCheck {
                port: 8080,
                path: "/".into(),
                ..Default::default()
            }),
            tcp_check: None,
        }],
        ..Default::default()
    });
    exec.run("web-1", req).await.unwrap();
    let c = wait_state(&exec, "web-1", ContainerState::Running, 20_000).await;
    let host_port = c.net.ports[0].host_port;
    let body = http_get(&format!("127.0.0.1:{host_port}")).await;
    assert!(body.contains("hi-3"), "{body}");
    exec.delete("web-1").await.unwrap();
}

async fn http_get(addr: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to host port");
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn memory_hog_is_out_of_memory() {
    let Some(b) = backend("it-oom", 203) else {
        return;
    };
    let exec = executor(b);
    alloc(&exec, "oom-1", 16);
    // 64 MiB of zeros held in a shell variable blows a 16 MiB limit.
    let req = RunRequest::new(
        Lifecycle::Task,
        sh("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#x}"),
    );
    exec.run("oom-1", req).await.unwrap();
    let c = wait_state(&exec, "oom-1", ContainerState::Completed, 30_000).await;
    let reason = failure(&c).expect("failed");
    assert!(reason.ends_with("(out of memory)"), "{reason}");
    exec.delete("oom-1").await.unwrap();
}

#[tokio::test]
async fn never_healthy_instance() {
    let Some(b) = backend("it-never", 204) else {
        return;
    };
    let exec = executor(b);
    alloc(&exec, "nh-1", 32);
    let mut req = RunRequest::new(Lifecycle::Lrp, sh("sleep 1000"));
    req.ports = vec![8080];
    req.start_timeout_ms = 1000;
    req.check_definition = Some(CheckDefinition {
        checks: vec![Check {
            tcp_check: Some(TcpCheck {
                port: 8080,
                ..Default::default()
            }),
            http_check: None,
        }],
        ..Default::default()
    });
    exec.run("nh-1", req).await.unwrap();
    let c = wait_state(&exec, "nh-1", ContainerState::Completed, 20_000).await;
    let reason = failure(&c).unwrap();
    assert!(
        reason.starts_with(
            "Instance never healthy after 1s: Failed to make TCP connection to port 8080"
        ),
        "{reason}"
    );
    exec.delete("nh-1").await.unwrap();
}
