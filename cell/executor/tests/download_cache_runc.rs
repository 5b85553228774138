//! The download cache on a real container (runc or crun + CNI, cell number 95):
//! two tasks download the same droplet with a cache_key; the second is a 304
//! and its container still gets the files, owned by vcap. Skipped with a
//! printed reason without root or a runtime.

#[path = "common/cache_server.rs"]
#[allow(dead_code)]
mod cache_server;
mod common;

use std::sync::Arc;

use cache_server::{cache_server, Artifact};
use common::{failure, tgz, wait_state};
use diego_backend_oci::{OciBackend, OciConfig};
use diego_executor::*;
use diego_model::*;

/// Test cell number 95: subnet 10.255.105.0/24, host ports 61000 + (95 % 18) * 250.
const CELL_NUMBER: u8 = 95;

fn backend() -> Option<Arc<OciBackend>> {
    if let Err(reason) = OciBackend::available() {
        eprintln!("skipping real container test: {reason}");
        return None;
    }
    let mut cfg = OciConfig::new("it-download-cache", 10 + CELL_NUMBER);
    let base = 61_000 + (u32::from(CELL_NUMBER) % 18) * 250;
    cfg.net.host_port_range = (base, base + 249);
    Some(OciBackend::new(cfg))
}

async fn task(exec: &Executor, guid: &str, url: &str) -> Container {
    let req = AllocationRequest {
        guid: guid.into(),
        memory_mb: 64,
        disk_mb: 100,
        ..Default::default()
    };
    assert!(exec.allocate(vec![req]).is_empty());
    let action = Action::Serial(SerialAction {
        actions: vec![
            Action::Download(DownloadAction {
                artifact: "droplet".into(),
                from: url.into(),
                to: "/home/vcap".into(),
                cache_key: "droplets/app-guid".into(),
                user: "vcap".into(),
                ..Default::default()
            }),
            Action::run(
                "/bin/sh",
                &[
                    "-c",
                    "stat -c %U /home/vcap/app/run.sh > /tmp/result; sh /home/vcap/app/run.sh >> /tmp/result",
                ],
            ),
        ],
        ..Default::default()
    });
    let mut req = RunRequest::new(Lifecycle::Task, action);
    req.result_file = "/tmp/result".into();
    exec.run(guid, req).await.unwrap();
    wait_state(exec, guid, ContainerState::Completed, 30_000).await
}

#[tokio::test]
async fn a_cached_droplet_reaches_a_real_container_after_a_304() {
    let Some(b) = backend() else {
        return;
    };
    for guid in b.list().await.unwrap() {
        b.destroy(&guid).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = ExecutorConfig {
        download_cache_dir: Some(dir.path().join("download-cache")),
        download_cache_max_bytes: 64 << 20,
        ..ExecutorConfig::default()
    };
    let exec = Executor::new(b.clone(), cfg);
    let server = cache_server(0).await;
    let droplet = tgz(&[("app/run.sh", b"echo droplet v1\n")]);
    server.set(
        "/droplet.tgz",
        Artifact {
            body: droplet.clone(),
            etag: "\"v1\"".into(),
            ..Default::default()
        },
    );
    let url = server.url("/droplet.tgz");
    for guid in ["dl-cache-1", "dl-cache-2"] {
        let c = task(&exec, guid, &url).await;
        assert_eq!(failure(&c), None, "{guid}");
        assert_eq!(
            c.result.as_deref(),
            Some("vcap\ndroplet v1\n"),
            "{guid}: files extracted as vcap"
        );
        exec.delete(guid).await.unwrap();
    }
    assert_eq!(server.requests(), 2);
    assert_eq!(server.not_modified(), 1, "the second download was a 304");
    assert_eq!(server.body_bytes(), droplet.len() as u64);
    b.remove_cell_network().await.unwrap();
}
