//! `diego bbs` (embedded store) and `diego gateway --bbs ...` as real
//! processes: a task through the original HTTP protocol (desire, get, list,
//! the task event stream with task_created), the original error types, then
//! the BBS killed (the event stream ends cleanly, calls fail inside 200s)
//! and started again on the same data dir (the gateway reconnects by itself
//! and the task is still there).

mod support;

#[path = "../../control-plane/gateway/tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Sse;
use diego_proto::models as w;
use prost::Message;
use support::free_port;

/// Kills the process if the test panics, so no server outlives it.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], log: &Path) -> Proc {
    let out = std::fs::File::create(log).unwrap();
    Proc(
        Command::new(env!("CARGO_BIN_EXE_diego"))
            .args(args)
            .env_remove("DIEGO_BBS")
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("diego starts"),
    )
}

fn bbs(dir: &Path, port: u16, log: &str) -> Proc {
    let data = dir.join("data");
    spawn(
        &[
            "bbs",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &dir.join(log),
    )
}

fn logs(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "log") {
            out += &format!(
                "--- {}\n{}\n",
                e.path().display(),
                std::fs::read_to_string(e.path()).unwrap_or_default()
            );
        }
    }
    out
}

/// Ping through the gateway: Some(available) once the gateway listens.
async fn ping(gateway: SocketAddr) -> Option<bool> {
    tokio::net::TcpStream::connect(gateway).await.ok()?;
    let r = common::post(gateway, "/v1/ping", vec![]).await;
    Some(w::PingResponse::decode(r.as_slice()).unwrap().available)
}

async fn wait_until_available(gateway: SocketAddr, dir: &Path, want: bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while ping(gateway).await != Some(want) {
        assert!(
            Instant::now() < deadline,
            "the gateway never answered ping with available={want}\n{}",
            logs(dir)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn desire_task(guid: &str) -> Vec<u8> {
    w::DesireTaskRequest {
        task_guid: guid.into(),
        domain: "e2e".into(),
        task_definition: Some(w::TaskDefinition {
            root_fs: "docker:///busybox".into(),
            memory_mb: 64,
            disk_mb: 64,
            action: Some(w::Action {
                run_action: Some(w::RunAction {
                    path: "/bin/true".into(),
                    user: "root".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
    .encode_to_vec()
}

async fn get_task(gateway: SocketAddr, guid: &str) -> w::TaskResponse {
    let body = w::TaskByGuidRequest {
        task_guid: guid.into(),
    }
    .encode_to_vec();
    let r = common::post(gateway, "/v1/tasks/get_by_task_guid.r3", body).await;
    w::TaskResponse::decode(r.as_slice()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_through_the_original_protocol_via_a_separate_gateway_process() {
    let dir = tempfile::tempdir().unwrap();
    let (bbs_port, gw_port) = (free_port(), free_port());
    let gateway: SocketAddr = format!("127.0.0.1:{gw_port}").parse().unwrap();
    // The gateway may start first: it waits for the BBS.
    let _gateway = spawn(
        &[
            "gateway",
            "--bbs",
            &format!("http://127.0.0.1:{bbs_port}"),
            "--gateway-listen",
            &gateway.to_string(),
        ],
        &dir.path().join("gateway.log"),
    );
    let mut server = bbs(dir.path(), bbs_port, "bbs-1.log");
    wait_until_available(gateway, dir.path(), true).await;

    let mut tasks =
        Sse::new(common::send(gateway, "POST", "/v1/events/tasks.r1", vec![], "e2e-sub").await);
    assert!(
        common::post(gateway, "/v1/tasks/desire.r2", desire_task("e2e-task"))
            .await
            .is_empty(),
        "desire failed\n{}",
        logs(dir.path())
    );

    let got = get_task(gateway, "e2e-task").await;
    assert_eq!(got.error, None);
    let task = got.task.unwrap();
    assert_eq!(
        (task.task_guid.as_str(), task.domain.as_str()),
        ("e2e-task", "e2e")
    );
    assert_eq!(task.task_definition.unwrap().root_fs, "docker:///busybox");

    let list = w::TasksRequest {
        domain: "e2e".into(),
        cell_id: String::new(),
    }
    .encode_to_vec();
    let listed = w::TasksResponse::decode(
        common::post(gateway, "/v1/tasks/list.r3", list)
            .await
            .as_slice(),
    )
    .unwrap();
    assert_eq!(listed.error, None);
    assert_eq!(
        listed
            .tasks
            .iter()
            .map(|t| t.task_guid.as_str())
            .collect::<Vec<_>>(),
        ["e2e-task"]
    );

    let (id, name, data) = tasks.next().await;
    assert_eq!((id, name.as_str()), (0, "task_created"));
    let created = w::TaskCreatedEvent::decode(data.as_slice()).unwrap();
    assert_eq!(created.task.unwrap().task_guid, "e2e-task");

    // The original's error types come back through gRPC unchanged.
    let dup = w::TaskLifecycleResponse::decode(
        common::post(gateway, "/v1/tasks/desire.r2", desire_task("e2e-task"))
            .await
            .as_slice(),
    )
    .unwrap();
    assert_eq!(
        dup.error.unwrap().r#type,
        w::error::Type::ResourceExists as i32
    );
    let missing = get_task(gateway, "no-such-task").await;
    assert_eq!(
        missing.error.unwrap().r#type,
        w::error::Type::ResourceNotFound as i32
    );

    // The BBS dies: the event stream ends cleanly, the gateway stays up and
    // says the BBS is unavailable.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    tasks.ended().await;
    wait_until_available(gateway, dir.path(), false).await;
    let down = w::TaskLifecycleResponse::decode(
        common::post(gateway, "/v1/tasks/desire.r2", desire_task("while-down"))
            .await
            .as_slice(),
    )
    .unwrap();
    assert_eq!(
        down.error.unwrap().r#type,
        w::error::Type::UnknownError as i32
    );

    // Started again on the same data dir: the gateway reconnects on its own,
    // the task is still there, and a new subscription sees new events.
    let _server = bbs(dir.path(), bbs_port, "bbs-2.log");
    wait_until_available(gateway, dir.path(), true).await;
    assert_eq!(get_task(gateway, "e2e-task").await.error, None);
    let mut again =
        Sse::new(common::send(gateway, "POST", "/v1/events/tasks.r1", vec![], "e2e-sub").await);
    assert!(
        common::post(gateway, "/v1/tasks/desire.r2", desire_task("e2e-task-2"))
            .await
            .is_empty()
    );
    // (the restarted auctioneer may change the first task before this)
    let created = loop {
        let (_, name, data) = again.next().await;
        if name == "task_created" {
            break w::TaskCreatedEvent::decode(data.as_slice()).unwrap();
        }
    };
    assert_eq!(created.task.unwrap().task_guid, "e2e-task-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_reaches_a_bbs_that_requires_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let out = Command::new(env!("CARGO_BIN_EXE_diego"))
        .args([
            "certs",
            "init",
            "--dir",
            certs.to_str().unwrap(),
            "--days",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = |f: &str| certs.join(f).to_str().unwrap().to_string();
    let (bbs_port, gw_port) = (free_port(), free_port());
    let gateway: SocketAddr = format!("127.0.0.1:{gw_port}").parse().unwrap();
    let data = dir.path().join("data");
    let _server = spawn(
        &[
            "bbs",
            "--listen",
            &format!("127.0.0.1:{bbs_port}"),
            "--data-dir",
            data.to_str().unwrap(),
            "--tls-ca-file",
            &c("ca.pem"),
            "--tls-cert-file",
            &c("bbs.pem"),
            "--tls-key-file",
            &c("bbs-key.pem"),
        ],
        &dir.path().join("bbs.log"),
    );
    let _gateway = spawn(
        &[
            "gateway",
            "--bbs",
            &format!("https://127.0.0.1:{bbs_port}"),
            "--bbs-tls-ca-file",
            &c("ca.pem"),
            "--bbs-tls-cert-file",
            &c("gateway.pem"),
            "--bbs-tls-key-file",
            &c("gateway-key.pem"),
            "--gateway-listen",
            &gateway.to_string(),
        ],
        &dir.path().join("gateway.log"),
    );
    wait_until_available(gateway, dir.path(), true).await;
    assert!(
        common::post(gateway, "/v1/tasks/desire.r2", desire_task("over-tls"))
            .await
            .is_empty(),
        "desire over mutual tls failed\n{}",
        logs(dir.path())
    );
    assert_eq!(get_task(gateway, "over-tls").await.error, None);
}
