//! WASM apps and OCI containers side by side on one real cell: the control plane on the
//! embedded store, a runc cell (cell number 70) with the wasm backend, LRPs desired over gRPC.
//! Needs root and runc, like every runc test.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use diego_model::{ActualLrp, ActualState, DesiredLrp};
use diego_node::{CellConfig, ControlPlane, ControlPlaneConfig, LocalCell};
use diego_rep::RepConfig;
use diego_sdk::{ActualFilter, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CELL_NUMBER: u8 = 70;

fn guests_dir() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("../../target"))
        .join("wasm-guests");
    let status = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .args(["-p", "diego-app-http", "-p", "diego-healthcheck"])
        .current_dir(manifest_dir.join("../../lifecycles-wasm/guests"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("run cargo for the guests");
    assert!(status.success(), "building the guests failed");
    target.join("wasm32-wasip2/release")
}

/// `app.wasm` in a tgz, as a Download action fetches it.
fn app_tgz(wasm: &[u8]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(wasm.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "app.wasm", wasm).unwrap();
    let mut gz = tar.into_inner().unwrap();
    gz.flush().unwrap();
    gz.finish().unwrap()
}

/// A one-file HTTP server for the app's download.
async fn serve_file(body: Vec<u8>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    addr
}

fn wasm_lrp(pg: &str, url: &str) -> DesiredLrp {
    serde_json::from_value(serde_json::json!({
        "process_guid": pg,
        "domain": "tests",
        "rootfs": "wasm:",
        "instances": 1,
        "memory_mb": 64,
        "disk_mb": 32,
        "ports": [8080],
        "metric_tags": {},
        "setup": {"download": {"from": url, "to": "/app", "user": "vcap"}},
        "action": {"run": {"path": "/app/app.wasm", "user": "vcap",
            "env": [{"name": "GREETING", "value": "from the lrp"}]}},
        "check_definition": {"checks": [{"http_check": {"port": 8080, "path": "/"}}]},
        "start_timeout_ms": 60000
    }))
    .expect("a valid lrp")
}

fn oci_lrp(pg: &str) -> DesiredLrp {
    serde_json::from_value(serde_json::json!({
        "process_guid": pg,
        "domain": "tests",
        "rootfs": "preloaded:busybox",
        "instances": 1,
        "memory_mb": 32,
        "disk_mb": 32,
        "ports": [8080],
        "metric_tags": {},
        "action": {"run": {"path": "/bin/sh", "args": ["-c",
            "mkdir -p /tmp/www && echo hello from busybox > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"],
            "user": "root"}},
        "check_definition": {"checks": [{"http_check": {"port": 8080, "path": "/"}}]},
        "start_timeout_ms": 60000
    }))
    .expect("a valid lrp")
}

async fn running(client: &Client, pg: &str) -> Option<ActualLrp> {
    let filter = ActualFilter {
        process_guid: pg.into(),
        ..Default::default()
    };
    let actuals = client.actual_lrps(filter).await.ok()?;
    actuals
        .into_iter()
        .find(|a| a.state == ActualState::Running)
}

async fn wait_running(client: &Client, pg: &str) -> ActualLrp {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(actual) = running(client, pg).await {
            return actual;
        }
        assert!(Instant::now() < deadline, "{pg} never became RUNNING");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn http_get(host: &str, port: u32, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect((host, port as u16))
        .await
        .expect("connect");
    let request = format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_app_and_a_container_run_side_by_side_on_one_cell() {
    let guests = guests_dir();
    let dir = tempfile::tempdir().unwrap();
    let cp_cfg = ControlPlaneConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("bbs"));
    let cp = ControlPlane::start(cp_cfg).await.expect("control plane");
    let client = Client::connect(&cp.api_url(), None).await.unwrap();

    let mut cfg = CellConfig::new("cell-wasm", "z1", &cp.api_url(), CELL_NUMBER);
    cfg.state_dir = dir.path().join("cell");
    cfg.healthcheck_wasm = Some(guests.join("diego_healthcheck.wasm"));
    let mut rep = RepConfig::new("cell-wasm", "z1", "");
    rep.presence_interval_ms = 500;
    cfg.rep = Some(rep);
    let cell = LocalCell::start(cfg).await.expect("cell starts");

    // The cell advertises the wasm provider, so the auction can place `wasm:` work on it.
    let presence = cell.rep.presence();
    assert!(
        presence.rootfs_providers.iter().any(|p| p.name == "wasm"),
        "{:?}",
        presence.rootfs_providers
    );

    let wasm = std::fs::read(guests.join("diego_app_http.wasm")).unwrap();
    let server = serve_file(app_tgz(&wasm)).await;
    let url = format!("http://{server}/app.tgz");
    client.desire_lrp(wasm_lrp("wasm-web", &url)).await.unwrap();
    client.desire_lrp(oci_lrp("oci-web")).await.unwrap();

    let wasm_actual = wait_running(&client, "wasm-web").await;
    let oci_actual = wait_running(&client, "oci-web").await;
    assert_eq!(wasm_actual.instance_key.cell_id, "cell-wasm");
    assert_eq!(oci_actual.instance_key.cell_id, "cell-wasm");

    let net = &wasm_actual.net_info;
    assert_eq!(net.ports[0].container_port, 8080);
    let body = http_get(&net.address, net.ports[0].host_port, "/").await;
    assert!(body.starts_with("HTTP/1.0 200"), "{body}");
    assert!(body.contains("hello from wasm"), "{body}");
    let body = http_get(&net.address, net.ports[0].host_port, "/env/GREETING").await;
    assert!(body.ends_with("from the lrp"), "{body}");
    let net = &oci_actual.net_info;
    let body = http_get(&net.address, net.ports[0].host_port, "/").await;
    assert!(body.contains("hello from busybox"), "{body}");

    // Removing the wasm app tears its instance down: the port stops listening.
    let wasm_port = wasm_actual.net_info.ports[0].host_port;
    client.remove_desired_lrp("wasm-web").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", wasm_port as u16))
        .await
        .is_ok()
    {
        assert!(Instant::now() < deadline, "the wasm app still listens");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.remove_desired_lrp("oci-web").await.unwrap();
    cell.stop().await;
    cp.stop().await;
}
