//! Shared helpers: an executor on the fake backend with fast timers, and a tiny HTTP server.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diego_backend_fake::FakeBackend;
use diego_executor::{
    AllocationRequest, Container, ContainerState, Executor, ExecutorConfig, Lifecycle, Resources,
    RunRequest,
};
use diego_model::Action;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub fn config() -> ExecutorConfig {
    ExecutorConfig {
        cell_id: "cell-1".into(),
        external_ip: "10.0.0.9".into(),
        total: Resources {
            memory_mb: 1024,
            disk_mb: 2048,
            containers: 10,
        },
        graceful_shutdown_interval_ms: 300,
        healthy_monitoring_interval_ms: 100,
        unhealthy_monitoring_interval_ms: 50,
        ..ExecutorConfig::default()
    }
}

pub fn executor() -> (Executor, Arc<FakeBackend>) {
    let backend = FakeBackend::new();
    (Executor::new(backend.clone(), config()), backend)
}

pub fn alloc(exec: &Executor, guid: &str) {
    let req = AllocationRequest {
        guid: guid.into(),
        memory_mb: 128,
        disk_mb: 256,
        ..Default::default()
    };
    assert!(exec.allocate(vec![req]).is_empty());
}

pub fn sh(script: &str) -> Action {
    Action::run("/bin/sh", &["-c", script])
}

pub async fn wait_state(
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
            "{guid} stuck in {:?}, wanted {state:?}",
            c.state
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `action` as a task to completion and returns the completed container.
pub async fn run_task(action: Action) -> (Container, Executor, Arc<FakeBackend>) {
    let (exec, backend) = executor();
    alloc(&exec, "t");
    exec.run("t", RunRequest::new(Lifecycle::Task, action))
        .await
        .unwrap();
    let c = wait_state(&exec, "t", ContainerState::Completed, 5000).await;
    (c, exec, backend)
}

pub fn failure(c: &Container) -> Option<String> {
    let r = c.run_result.as_ref().expect("completed");
    r.failed.then(|| r.failure_reason.clone())
}

pub fn log_text(exec: &Executor, guid: &str) -> Vec<String> {
    exec.logs(guid)
        .into_iter()
        .map(|l| format!("{}:{}", l.source, l.line))
        .collect()
}

/// GET serves `routes`; `/hang` never answers; POST bodies are recorded by path.
pub struct HttpServer {
    pub base: String,
    pub posted: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

pub async fn http_server(routes: HashMap<String, Vec<u8>>) -> HttpServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let posted: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
    let routes = Arc::new(routes);
    let record = posted.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let (routes, record) = (routes.clone(), record.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let header_end = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
                let mut words = head.split_whitespace();
                let (method, path) = (
                    words.next().unwrap_or("").to_string(),
                    words.next().unwrap_or("").to_string(),
                );
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                while buf.len() < header_end + length {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                if path == "/hang" {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
                let (status, body) = if method == "POST" {
                    record
                        .lock()
                        .unwrap()
                        .insert(path, buf[header_end..].to_vec());
                    ("200 OK", Vec::new())
                } else {
                    match routes.get(&path) {
                        Some(b) => ("200 OK", b.clone()),
                        None => ("404 Not Found", b"not found".to_vec()),
                    }
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
            });
        }
    });
    HttpServer { base, posted }
}

pub fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, *data).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}
