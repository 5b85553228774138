//! A control plane on loopback with simulated cells behind real rep gRPC
//! servers. Shared by the gRPC auction test and the `auction_e2e` example.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use diego_auction::Resources;
use diego_auctioneer::sim::{SimCell, SimRepServer};
use diego_model::{DesiredLrp, TaskDefinition};
use diego_node::{ControlPlane, ControlPlaneConfig};
use diego_sdk::Client;
use tokio::task::JoinHandle;

pub const STACK: &str = "cflinuxfs4";
pub const ROOTFS: &str = "preloaded:cflinuxfs4";
pub const DOMAIN: &str = "sim";

/// Long enough that no presence expires during a run.
const PRESENCE_TTL_MS: i64 = 3_600_000;

pub struct SimCluster {
    pub control: ControlPlane,
    pub client: Client,
    pub cells: Vec<Arc<SimCell>>,
    servers: Vec<JoinHandle<()>>,
}

impl SimCluster {
    /// A control plane in `dir` and `n` cells of `total` spread over `zones`
    /// (`cell-<i>` in zone `z<i mod zones + 1>`), registered with the BBS.
    pub async fn start(dir: &Path, n: usize, zones: usize, total: Resources) -> SimCluster {
        let mut config = ControlPlaneConfig::new("127.0.0.1:0".parse().unwrap(), dir.into());
        // Simulated cells never claim what they are given, so periodic
        // convergence would re-auction it as stale; these runs measure the
        // auction path alone.
        config.converge_interval_ms = 3_600_000;
        let control = ControlPlane::start(config)
            .await
            .expect("control plane starts");
        let client = Client::connect(&control.api_url(), None)
            .await
            .expect("sdk connects");
        let mut cells = Vec::new();
        let mut servers = Vec::new();
        for i in 0..n {
            let zone = format!("z{}", i % zones + 1);
            let (cell, server) =
                SimRepServer::spawn_loopback(&format!("cell-{i}"), &zone, total, &[STACK])
                    .await
                    .expect("a simulated rep listens");
            client
                .report_cell(cell.presence.clone(), PRESENCE_TTL_MS)
                .await
                .expect("the bbs takes the presence");
            cells.push(cell);
            servers.push(server);
        }
        SimCluster {
            control,
            client,
            cells,
            servers,
        }
    }

    /// LRP instances each cell holds, keyed by cell id.
    pub fn lrps_per_cell(&self) -> BTreeMap<String, usize> {
        self.cells
            .iter()
            .map(|c| (c.presence.cell_id.clone(), c.snapshot().lrps.len()))
            .collect()
    }

    pub fn placed(&self) -> (usize, usize) {
        self.cells.iter().fold((0, 0), |(l, t), c| {
            let s = c.snapshot();
            (l + s.lrps.len(), t + s.task_guids.len())
        })
    }

    pub async fn stop(self) {
        for s in &self.servers {
            s.abort();
        }
        self.control.stop().await;
    }
}

pub fn lrp(process_guid: &str, instances: i32, memory_mb: i32) -> DesiredLrp {
    serde_json::from_value(serde_json::json!({
        "process_guid": process_guid,
        "domain": DOMAIN,
        "rootfs": ROOTFS,
        "instances": instances,
        "memory_mb": memory_mb,
        "disk_mb": 64,
        "metric_tags": {},
        "action": {"run": {"path": "/bin/true", "user": "vcap"}},
    }))
    .expect("a valid desired lrp")
}

pub fn task(memory_mb: i32, rootfs: &str) -> TaskDefinition {
    serde_json::from_value(serde_json::json!({
        "rootfs": rootfs,
        "memory_mb": memory_mb,
        "disk_mb": 64,
        "action": {"run": {"path": "/bin/true", "user": "vcap"}},
    }))
    .expect("a valid task definition")
}

/// Polls `check` every 20 ms until it yields a value; panics after `secs`.
pub async fn eventually<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("gave up waiting for {what} after {secs} s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
