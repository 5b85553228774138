//! End-to-end figures on the real stack (issue 6): the control plane on
//! loopback and two cells running runc containers, in one process.
//!
//! `cargo run --release -p diego-node --example up_bench -- [--tasks 50] [--instances 100]`
//! (needs root and runc). Prints p50/p99 for: a one-line echo task from
//! desire to completed; each instance of a 100-instance LRP from desire to
//! RUNNING; an instance from crash to RUNNING again; and the time for a
//! killed cell's instances to be replaced.

use std::time::{Duration, Instant};

use diego_model::{ActualState, Presence, Task, TaskState};
use diego_node::{CellConfig, ControlPlane, ControlPlaneConfig, LocalCell};
use diego_rep::RepConfig;
use diego_sdk::{ActualFilter, Client};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    if v.is_empty() {
        return Duration::ZERO;
    }
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn report(what: &str, v: Vec<Duration>) {
    println!(
        "{what:<44} n={:<4} p50 {:>8.1} ms  p99 {:>8.1} ms",
        v.len(),
        pct(v.clone(), 0.5).as_secs_f64() * 1e3,
        pct(v, 0.99).as_secs_f64() * 1e3
    );
}

async fn cell(api: &str, id: &str, zone: &str, n: u8, dir: &std::path::Path) -> LocalCell {
    let mut cfg = CellConfig::new(id, zone, api, n);
    cfg.state_dir = dir.join(id);
    // Room for every instance on one cell (the cell-loss step needs it).
    cfg.memory_mb = 65_536;
    let mut rep = RepConfig::new(id, zone, "");
    rep.presence_ttl_ms = 3_000;
    rep.presence_interval_ms = 500;
    cfg.rep = Some(rep);
    LocalCell::start(cfg)
        .await
        .expect("cell starts (root and runc needed)")
}

fn task(guid: &str) -> Task {
    serde_json::from_value(serde_json::json!({
        "task_guid": guid, "domain": "bench", "rootfs": "preloaded:busybox", "memory_mb": 16,
        "action": {"run": {"path": "/bin/echo", "args": ["hello"], "user": "root"}}
    }))
    .expect("valid task")
}

fn lrp(pg: &str, n: usize) -> diego_model::DesiredLrp {
    serde_json::from_value(serde_json::json!({
        "process_guid": pg, "domain": "bench", "rootfs": "preloaded:busybox", "instances": n,
        "memory_mb": 64, "disk_mb": 16, "metric_tags": {}, "ports": [8080],
        "action": {"run": {"path": "/bin/sh", "args": ["-c", "exec httpd -f -p 8080 -h /tmp"], "user": "root"}},
        "check_definition": {"checks": [{"tcp_check": {"port": 8080}}]},
        "start_timeout_ms": 60000
    }))
    .expect("valid lrp")
}

async fn running(c: &Client, pg: &str) -> Vec<diego_model::ActualLrp> {
    let f = ActualFilter {
        process_guid: pg.into(),
        ..Default::default()
    };
    c.actual_lrps(f)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.presence == Presence::Ordinary && a.state == ActualState::Running)
        .collect()
}

#[tokio::main]
async fn main() {
    let tasks = arg("--tasks", 50);
    let instances = arg("--instances", 100);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = ControlPlaneConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("bbs"));
    cfg.converge_interval_ms = 1_000;
    let cp = ControlPlane::start(cfg).await.expect("control plane");
    let api = cp.api_url();
    let c1 = cell(&api, "bench-1", "z1", 40, dir.path()).await;
    let c2 = cell(&api, "bench-2", "z2", 41, dir.path()).await;
    let client = Client::connect(&api, None).await.expect("client");

    // Tasks, one at a time: desire -> completed.
    let mut lat = Vec::new();
    for i in 0..tasks {
        let t = task(&format!("t{i}"));
        let start = Instant::now();
        client
            .desire_task(&t.task_guid, "bench", t.definition)
            .await
            .expect("desire");
        loop {
            if client
                .task(&t.task_guid)
                .await
                .map(|t| t.state == TaskState::Completed)
                .unwrap_or(false)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lat.push(start.elapsed());
    }
    report("task desire -> completed (echo)", lat);

    // An LRP of N instances: per-instance desire -> RUNNING.
    let start = Instant::now();
    client
        .desire_lrp(lrp("big", instances))
        .await
        .expect("desire lrp");
    let mut seen = std::collections::HashSet::new();
    let mut lat = Vec::new();
    while seen.len() < instances {
        for a in running(&client, "big").await {
            if seen.insert(a.key.index) {
                lat.push(start.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = start.elapsed();
    report(
        &format!("lrp of {instances}: each instance desire -> RUNNING"),
        lat,
    );
    println!(
        "{:<44} {:.2} s",
        format!("lrp of {instances}: all RUNNING"),
        all.as_secs_f64()
    );

    // Crash -> running again (first crashes restart at once).
    let mut lat = Vec::new();
    for i in 0..5 {
        // A different instance each time: each one's first crash restarts at once.
        let Some(victim) = running(&client, "big")
            .await
            .into_iter()
            .find(|a| a.key.index == i)
        else {
            continue;
        };
        let cell = if victim.instance_key.cell_id == "bench-1" {
            &c1
        } else {
            &c2
        };
        let start = Instant::now();
        // kill -9 of the app process, as a crash would look.
        let kill = diego_executor::ProcessSpec {
            path: "/bin/sh".into(),
            args: vec!["-c".into(), "kill -9 $(pidof httpd)".into()],
            user: "root".into(),
            ..Default::default()
        };
        if let Ok(p) = cell
            .backend
            .spawn(&victim.instance_key.instance_guid, kill)
            .await
        {
            let _ = p.process.wait().await;
        }
        loop {
            let now = running(&client, "big").await;
            if now
                .iter()
                .any(|a| a.key.index == victim.key.index && a.instance_key != victim.instance_key)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        lat.push(start.elapsed());
    }
    report("crash -> RUNNING again", lat);

    // Kill a cell: its instances come back on the other.
    let on_c2 = running(&client, "big")
        .await
        .iter()
        .filter(|a| a.instance_key.cell_id == "bench-2")
        .count();
    let start = Instant::now();
    c2.kill().await;
    loop {
        let r = running(&client, "big").await;
        if r.len() == instances && r.iter().all(|a| a.instance_key.cell_id == "bench-1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "{:<44} {:.2} s ({on_c2} instances; presence ttl 3 s)",
        "cell killed -> replacements RUNNING",
        start.elapsed().as_secs_f64()
    );
    client.remove_desired_lrp("big").await.ok();
    tokio::time::sleep(Duration::from_secs(2)).await;
    c1.stop().await;
    cp.stop().await;
}
