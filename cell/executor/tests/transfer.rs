//! Download and Upload against a loopback HTTP server.

mod common;

use std::collections::HashMap;

use common::*;
use diego_executor::{ContainerState, Lifecycle, RunRequest};
use diego_model::*;

fn download(from: String, checksum: (&str, &str)) -> Action {
    Action::Download(DownloadAction {
        artifact: "app".into(),
        from,
        to: "/home/vcap/app".into(),
        user: "vcap".into(),
        checksum_algorithm: checksum.0.into(),
        checksum_value: checksum.1.into(),
        ..Default::default()
    })
}

#[tokio::test]
async fn download_extracts_into_the_container() {
    let bits = tgz(&[("run.sh", b"echo hi\n")]);
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bits))
    };
    let server = http_server(HashMap::from([("/bits.tgz".to_string(), bits)])).await;
    let (c, exec, backend) = run_task(download(
        format!("{}/bits.tgz", server.base),
        ("sha256", &sha),
    ))
    .await;
    assert_eq!(failure(&c), None);
    assert_eq!(
        backend.file("t", "/home/vcap/app/run.sh").as_deref(),
        Some(&b"echo hi\n"[..])
    );
    let logs = log_text(&exec, "t");
    assert_eq!(logs[0], "APP:Downloading app...");
    assert!(logs[1].starts_with("APP:Downloaded app ("), "{logs:?}");
}

#[tokio::test]
async fn download_failures_are_clear() {
    let server = http_server(HashMap::from([(
        "/bits.tgz".to_string(),
        tgz(&[("a", b"a")]),
    )]))
    .await;
    let missing = format!("{}/missing.tgz", server.base);
    let (c, _, _) = run_task(download(missing.clone(), ("", ""))).await;
    assert_eq!(
        failure(&c),
        Some(format!(
            "failed to download {missing}: status 404 Not Found"
        ))
    );
    let (c, _, _) = run_task(download(format!("{}/bits.tgz", server.base), ("md5", "00"))).await;
    assert!(failure(&c).unwrap().contains("checksum mismatch"), "{c:?}");
    let (c, _, _) = run_task(download("http://127.0.0.1:1/x.tgz".into(), ("", ""))).await;
    assert!(failure(&c)
        .unwrap()
        .starts_with("failed to download http://127.0.0.1:1/x.tgz: "));
}

#[tokio::test]
async fn download_cancel_and_timeout() {
    let server = http_server(HashMap::new()).await;
    let hang = download(format!("{}/hang", server.base), ("", ""));
    let timed = Action::Timeout(TimeoutAction {
        action: Box::new(hang.clone()),
        deprecated_timeout_ns: 0,
        log_source: String::new(),
        timeout_ms: 150,
    });
    let (c, _, _) = run_task(timed).await;
    assert_eq!(failure(&c).as_deref(), Some("exceeded 150ms timeout"));

    let (exec, _) = executor();
    alloc(&exec, "d");
    exec.run("d", RunRequest::new(Lifecycle::Task, hang))
        .await
        .unwrap();
    wait_state(&exec, "d", ContainerState::Running, 1000).await;
    exec.stop("d").await.unwrap();
    assert!(exec.get("d").unwrap().run_result.unwrap().stopped);
}

#[tokio::test]
async fn upload_posts_the_file() {
    let server = http_server(HashMap::new()).await;
    let upload = |from: &str| {
        Action::Upload(UploadAction {
            artifact: "droplet".into(),
            from: from.into(),
            to: format!("{}/droplets/1", server.base),
            user: "vcap".into(),
            ..Default::default()
        })
    };
    let tree = Action::Serial(SerialAction {
        actions: vec![
            sh("echo droplet-bits > /home/vcap/droplet.tgz"),
            upload("droplet.tgz"),
        ],
        ..Default::default()
    });
    let (c, exec, _) = run_task(tree).await;
    assert_eq!(failure(&c), None);
    assert_eq!(
        server
            .posted
            .lock()
            .unwrap()
            .get("/droplets/1")
            .map(Vec::as_slice),
        Some(&b"droplet-bits\n"[..])
    );
    assert!(log_text(&exec, "t").contains(&"APP:Uploaded droplet (13B)".to_string()));

    let (c, _, _) = run_task(upload("/nope")).await;
    assert!(failure(&c)
        .unwrap()
        .starts_with("failed to read /nope for upload"));

    let slow = Action::Upload(UploadAction {
        from: "/f".into(),
        to: format!("{}/hang", server.base),
        ..Default::default()
    });
    let tree = Action::Timeout(TimeoutAction {
        action: Box::new(Action::Serial(SerialAction {
            actions: vec![sh("echo x > /f"), slow],
            ..Default::default()
        })),
        deprecated_timeout_ns: 0,
        log_source: String::new(),
        timeout_ms: 200,
    });
    let (c, _, _) = run_task(tree).await;
    assert_eq!(failure(&c).as_deref(), Some("exceeded 200ms timeout"));
}
