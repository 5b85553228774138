//! Task completion callbacks against a real HTTP server on loopback, with
//! the original's delivery rules (wire §1.11): 200 and 404 both delete the
//! task, 503 then 200 succeeds, three 503s leave it Resolving.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diego_bbs::{callbacks::deliver, spawn_callback_worker, CallbackConfig, Delivery};
use diego_model::TaskState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers each request with the next scripted status (the last repeats)
/// and records the bodies.
async fn callback_server(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/done", listener.local_addr().unwrap());
    let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = bodies.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let status = statuses[n.min(statuses.len() - 1)];
            n += 1;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // read headers and the content-length body
            loop {
                let got = conn.read(&mut chunk).await.unwrap_or(0);
                if got == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..got]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        seen.lock().unwrap().push(text[end + 4..].to_string());
                        break;
                    }
                }
            }
            let reply =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = conn.write_all(reply.as_bytes()).await;
        }
    });
    (url, bodies)
}

async fn completed_task(server: &common::Server, guid: &str, url: &str) -> diego_model::Task {
    let mut def = common::task_def();
    def.completion_callback_url = url.into();
    def.annotation = "note".into();
    let bbs = &server.bbs;
    bbs.desire_task(guid, "d", def).await.unwrap();
    bbs.start_task(guid, "c1").await.unwrap();
    bbs.complete_task(guid, "c1", true, "boom", "out")
        .await
        .unwrap();
    bbs.task_by_guid(guid).await.unwrap()
}

fn quick() -> CallbackConfig {
    CallbackConfig {
        timeout_ms: 2_000,
        ..Default::default()
    }
}

#[tokio::test]
async fn any_status_but_503_504_delivers_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::Server::start(dir.path()).await;
    let http = reqwest::Client::new();
    for status in [200u16, 404, 500] {
        let (url, bodies) = callback_server(vec![status]).await;
        let guid = format!("t-{status}");
        let task = completed_task(&server, &guid, &url).await;
        let outcome = deliver(&server.bbs, &http, &quick(), &task).await;
        assert_eq!(outcome, Delivery::Delivered { status });
        assert!(
            server.bbs.task_by_guid(&guid).await.is_err(),
            "deleted after {status}"
        );
        let body: serde_json::Value = serde_json::from_str(&bodies.lock().unwrap()[0]).unwrap();
        assert_eq!(body["task_guid"], guid.as_str());
        assert_eq!(body["failed"], true);
        assert_eq!(body["failure_reason"], "boom");
        assert_eq!(body["result"], "out");
        assert_eq!(body["annotation"], "note");
        assert!(body["created_at"].as_i64().unwrap() > 0);
    }
}

#[tokio::test]
async fn unavailable_is_retried_then_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::Server::start(dir.path()).await;
    let (url, bodies) = callback_server(vec![503, 504, 200]).await;
    let task = completed_task(&server, "retry", &url).await;
    let outcome = deliver(&server.bbs, &reqwest::Client::new(), &quick(), &task).await;
    assert_eq!(outcome, Delivery::Delivered { status: 200 });
    assert_eq!(bodies.lock().unwrap().len(), 3);
    assert!(server.bbs.task_by_guid("retry").await.is_err());
}

#[tokio::test]
async fn three_unavailable_answers_leave_the_task_resolving() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::Server::start(dir.path()).await;
    let (url, bodies) = callback_server(vec![503]).await;
    let task = completed_task(&server, "stuck", &url).await;
    let outcome = deliver(&server.bbs, &reqwest::Client::new(), &quick(), &task).await;
    assert!(matches!(outcome, Delivery::GaveUp { .. }), "{outcome:?}");
    assert_eq!(bodies.lock().unwrap().len(), 3, "three attempts");
    let t = server.bbs.task_by_guid("stuck").await.unwrap();
    assert_eq!(t.state, TaskState::Resolving);
    // a second worker finds it resolved already and leaves it alone
    let again = deliver(&server.bbs, &reqwest::Client::new(), &quick(), &t).await;
    assert_eq!(again, Delivery::NotOurs);
}

#[tokio::test]
async fn the_worker_delivers_every_completion_it_sees() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::Server::start(dir.path()).await;
    let (url, bodies) = callback_server(vec![200]).await;
    let (worker, _kicks) = spawn_callback_worker(server.bbs.clone(), quick());
    // let the worker's watch start before the completion
    tokio::time::sleep(Duration::from_millis(200)).await;
    completed_task(&server, "watched", &url).await;
    // a cancelled task with a callback is delivered too
    let mut def = common::task_def();
    def.completion_callback_url = url.clone();
    server.bbs.desire_task("cancelled", "d", def).await.unwrap();
    server.bbs.cancel_task("cancelled").await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while server.bbs.task_by_guid("watched").await.is_ok()
            || server.bbs.task_by_guid("cancelled").await.is_ok()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("both callbacks delivered and the tasks deleted");
    assert_eq!(bodies.lock().unwrap().len(), 2);
    worker.abort();
}
