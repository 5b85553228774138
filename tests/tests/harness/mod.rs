//! An in-process cluster on the real stack: the control plane (embedded
//! store, BBS over gRPC on loopback, auctioneer, converger) and cells on runc
//! when this machine can run containers (root + runc), else on the fake
//! backend. Intervals are short so scenarios finish quickly; waits have a
//! deadline only so a broken build fails instead of hanging.

#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use diego_model::{ActualLrp, ActualState, Presence, Task, TaskState};
use diego_node::{BackendKind, CellConfig, ControlPlane, ControlPlaneConfig, LocalCell};
use diego_rep::RepConfig;
use diego_sdk::{ActualFilter, Client};

/// Cells of concurrent tests need distinct subnets and host port ranges.
static NEXT_CELL_NUMBER: AtomicU8 = AtomicU8::new(20);

pub fn backend() -> BackendKind {
    match std::env::var("DIEGO_TEST_BACKEND").as_deref() {
        Ok("fake") => BackendKind::Fake,
        _ => match diego_backend_oci::OciBackend::available() {
            Ok(()) => BackendKind::Oci,
            Err(why) => {
                eprintln!("note: running on the fake backend: {why}");
                BackendKind::Fake
            }
        },
    }
}

pub struct Cluster {
    pub cp: Option<ControlPlane>,
    pub cells: Vec<Option<LocalCell>>,
    pub client: Client,
    pub backend: BackendKind,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    pub async fn start(cells: usize) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg =
            ControlPlaneConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("bbs"));
        cfg.converge_interval_ms = 1_000;
        let cp = ControlPlane::start(cfg)
            .await
            .expect("control plane starts");
        let client = Client::connect(&cp.api_url(), None)
            .await
            .expect("client connects");
        let backend = backend();
        let mut c = Cluster {
            cp: Some(cp),
            cells: Vec::new(),
            client,
            backend,
            dir,
        };
        for i in 0..cells {
            c.add_cell(&format!("cell-{}", i + 1), &format!("z{}", i % 2 + 1))
                .await;
        }
        c
    }

    pub fn api_url(&self) -> String {
        self.cp.as_ref().expect("control plane running").api_url()
    }

    pub async fn add_cell(&mut self, id: &str, zone: &str) {
        let n = NEXT_CELL_NUMBER.fetch_add(1, Ordering::SeqCst);
        let mut cfg = CellConfig::new(id, zone, &self.api_url(), n);
        cfg.backend = self.backend;
        cfg.memory_mb = 2048;
        cfg.state_dir = self.dir.path().join("cells").join(id);
        let mut rep = RepConfig::new(id, zone, "");
        rep.presence_ttl_ms = 3_000;
        rep.presence_interval_ms = 500;
        rep.polling_interval_ms = 2_000;
        cfg.rep = Some(rep);
        let cell = LocalCell::start(cfg).await.expect("cell starts");
        self.cells.push(Some(cell));
    }

    pub fn cell(&self, id: &str) -> &LocalCell {
        self.cells
            .iter()
            .flatten()
            .find(|c| c.rep.cell_id() == id)
            .expect("cell exists")
    }

    /// Takes a cell out of the cluster as if its machine died.
    pub async fn kill_cell(&mut self, id: &str) {
        let pos = self
            .cells
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.rep.cell_id() == id))
            .expect("cell exists");
        if let Some(cell) = self.cells[pos].take() {
            cell.kill().await;
        }
    }

    pub async fn stop(mut self) {
        for c in self.cells.iter_mut() {
            if let Some(c) = c.take() {
                c.stop().await;
            }
        }
        if let Some(cp) = self.cp.take() {
            cp.stop().await;
        }
    }

    pub async fn actuals(&self, pg: &str) -> Vec<ActualLrp> {
        let f = ActualFilter {
            process_guid: pg.into(),
            ..Default::default()
        };
        self.client.actual_lrps(f).await.expect("list actuals")
    }

    pub async fn running(&self, pg: &str) -> Vec<ActualLrp> {
        self.actuals(pg)
            .await
            .into_iter()
            .filter(|a| a.presence == Presence::Ordinary && a.state == ActualState::Running)
            .collect()
    }

    pub async fn task(&self, guid: &str) -> Task {
        self.client.task(guid).await.expect("task exists")
    }

    pub async fn wait_task(&self, guid: &str, state: TaskState) -> Task {
        wait_for(&format!("task {guid} {state:?}"), 90, || async {
            let t = self.task(guid).await;
            (t.state == state).then_some(t)
        })
        .await
    }

    pub async fn wait_running(&self, pg: &str, n: usize) -> Vec<ActualLrp> {
        wait_for(&format!("{n} running instances of {pg}"), 90, || async {
            let r = self.running(pg).await;
            (r.len() == n && self.actuals(pg).await.len() == n).then_some(r)
        })
        .await
    }

    /// Containers on every live cell.
    pub fn containers(&self) -> Vec<diego_executor::Container> {
        self.cells
            .iter()
            .flatten()
            .flat_map(|c| c.rep.executor().list())
            .collect()
    }
}

/// Polls `check` until it gives a value; panics after `secs`.
pub async fn wait_for<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn task_json(guid: &str, script: &str) -> Task {
    serde_json::from_value(serde_json::json!({
        "task_guid": guid,
        "domain": "tests",
        "rootfs": "preloaded:busybox",
        "memory_mb": 32,
        "disk_mb": 32,
        "action": {"run": {"path": "/bin/sh", "args": ["-c", script], "user": "root"}},
        "result_file": "/tmp/result"
    }))
    .expect("a valid task")
}

pub fn lrp_json(pg: &str, instances: i32) -> diego_model::DesiredLrp {
    serde_json::from_value(serde_json::json!({
        "process_guid": pg,
        "domain": "tests",
        "rootfs": "preloaded:busybox",
        "instances": instances,
        "memory_mb": 32,
        "disk_mb": 32,
        "ports": [8080],
        "metric_tags": {},
        "action": {"run": {"path": "/bin/sh", "args": ["-c",
            "mkdir -p /tmp/www && echo \"hello from $INSTANCE_INDEX\" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"],
            "user": "root"}},
        "check_definition": {"checks": [{"http_check": {"port": 8080, "path": "/"}}]},
        "start_timeout_ms": 60000
    }))
    .expect("a valid lrp")
}
