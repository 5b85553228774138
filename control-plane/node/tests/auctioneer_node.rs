//! The auctioneer as its own role (ADR 0013), in-process over a real etcd:
//! a BBS with the remote auctioneer, two auctioneer nodes (one serves, one
//! stands by without listening) and a cell on the fake backend; bad
//! configurations are refused before anything starts. The cell refuses work
//! from the deposed holder's fencing token (ADR 0022), also after it restarts.

#[path = "../../store-etcd/tests/common/mod.rs"]
mod etcd;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use diego_auctioneer::{GrpcReps, RepClient};
use diego_model::{Task, TaskState};
use diego_node::{
    AuctioneerMode, AuctioneerNode, AuctioneerNodeConfig, AuctioneerState, BackendKind, CellConfig,
    ControlPlane, ControlPlaneConfig, LocalCell, StoreSpec,
};
use diego_rep::RepConfig;
use diego_sdk::Client;

fn node_config(listen: SocketAddr, endpoints: Vec<String>, bbs: &str) -> AuctioneerNodeConfig {
    AuctioneerNodeConfig {
        listen,
        advertise_url: None,
        etcd_endpoints: endpoints,
        prefix: "/diego".into(),
        bbs_url: bbs.into(),
        tls: None,
        auctioneer: Default::default(),
        lock_ttl: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn bad_configurations_are_refused_with_the_reason() {
    let endpoints = vec!["http://127.0.0.1:1".to_string()];
    let err = AuctioneerNode::start(node_config(
        "127.0.0.1:0".parse().unwrap(),
        endpoints.clone(),
        "http://127.0.0.1:1",
    ))
    .await
    .err()
    .expect("port 0 refused")
    .to_string();
    assert!(err.contains("--listen needs a fixed port"), "{err}");

    let err = AuctioneerNode::start(node_config(
        "0.0.0.0:9016".parse().unwrap(),
        endpoints,
        "http://127.0.0.1:1",
    ))
    .await
    .err()
    .expect("a wildcard address is not callable")
    .to_string();
    assert!(err.contains("give --advertise-url"), "{err}");

    assert!(AuctioneerMode::parse("remote").is_ok());
    let err = AuctioneerMode::parse("elsewhere").unwrap_err();
    assert!(
        err.contains("\"elsewhere\" is not in-process or remote"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ControlPlaneConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().into());
    cfg.auctioneer_mode = AuctioneerMode::Remote;
    let err = ControlPlane::start(cfg)
        .await
        .err()
        .expect("remote needs etcd")
        .to_string();
    assert!(err.contains("use --store etcd://"), "{err}");
}

fn task(guid: &str) -> Task {
    serde_json::from_value(serde_json::json!({
        "task_guid": guid, "domain": "d", "rootfs": "preloaded:busybox", "memory_mb": 8,
        "action": {"run": {"path": "/bin/sh", "args": ["-c", "echo ok"], "user": "root"}}
    }))
    .unwrap()
}

async fn completed(client: &Client, guid: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(t) = client.task(guid).await {
            if t.state == TaskState::Completed {
                return;
            }
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_active(node: &AuctioneerNode, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let AuctioneerState::Active { url, .. } = node.state() {
            return url;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_holder_places_work_and_a_standby_takes_over() {
    let cluster = etcd::Cluster::single();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ControlPlaneConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("bbs"));
    cfg.store = StoreSpec::Etcd {
        endpoints: cluster.endpoints(),
        prefix: "/diego".into(),
    };
    cfg.auctioneer_mode = AuctioneerMode::Remote;
    cfg.converge_interval_ms = 1_000;
    let cp = ControlPlane::start(cfg).await.unwrap();
    let api = cp.api_url();
    let client = Client::connect(&api, None).await.unwrap();

    // no auctioneer yet: the desire is still acknowledged, the request is
    // dropped with a warning and convergence asks again later
    client
        .desire_task("early", "d", task("early").definition)
        .await
        .unwrap();

    let listen = |p: u16| -> SocketAddr { format!("127.0.0.1:{p}").parse().unwrap() };
    let (port_a, port_b) = (etcd::free_port(), etcd::free_port());
    let a = AuctioneerNode::start(node_config(listen(port_a), cluster.endpoints(), &api))
        .await
        .unwrap();
    let active_url = wait_active(&a, "the first auctioneer to be active").await;
    assert_eq!(active_url, format!("http://127.0.0.1:{port_a}"));
    let b = AuctioneerNode::start(node_config(listen(port_b), cluster.endpoints(), &api))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.state(), AuctioneerState::Standby);
    // a standby does not listen, so nobody can reach a non-holder
    assert!(std::net::TcpStream::connect(listen(port_b)).is_err());

    let mut cell_cfg = CellConfig::new("cell-1", "z1", &api, 1);
    cell_cfg.backend = BackendKind::Fake;
    cell_cfg.state_dir = dir.path().join("cell-1");
    let mut rep_cfg = RepConfig::new("cell-1", "z1", "");
    rep_cfg.fencing_token_file = Some(dir.path().join("cell-1").join("fencing-token"));
    cell_cfg.rep = Some(rep_cfg);
    let cell = LocalCell::start(cell_cfg.clone()).await.unwrap();

    completed(
        &client,
        "early",
        "the early task, re-requested by convergence",
    )
    .await;
    client
        .desire_task("t1", "d", task("t1").definition)
        .await
        .unwrap();
    completed(&client, "t1", "t1 placed by the first auctioneer").await;
    let AuctioneerState::Active { token: token_a, .. } = a.state() else {
        panic!("the first auctioneer is no longer active: {:?}", a.state());
    };
    let why = client
        .placement_decisions("task", "t1", None)
        .await
        .unwrap();
    assert!(
        why.iter()
            .any(|(_, summary, _)| summary.starts_with("task t1: placed on cell-1")),
        "{why:?}"
    );

    // a clean stop gives the lock up: the standby serves at once
    a.stop().await;
    let url = wait_active(&b, "the standby to take over").await;
    assert_eq!(url, format!("http://127.0.0.1:{port_b}"));
    assert!(std::net::TcpStream::connect(listen(port_a)).is_err());
    client
        .desire_task("t2", "d", task("t2").definition)
        .await
        .unwrap();
    completed(&client, "t2", "t2 placed by the second auctioneer").await;
    let why = client
        .placement_decisions("task", "t2", None)
        .await
        .unwrap();
    assert!(!why.is_empty(), "the new holder's decisions are served");

    // the cell has seen the new holder's token: the old one's work is fenced
    let AuctioneerState::Active { token: token_b, .. } = b.state() else {
        panic!("the second auctioneer is not active: {:?}", b.state());
    };
    assert!(token_b > token_a, "tokens grow: {token_a} then {token_b}");
    let presence = client.cells().await.unwrap().remove(0);
    let deposed = GrpcReps::new(5_000).with_fencing_token(token_a);
    let refused = deposed
        .perform(&presence, vec![], vec![])
        .await
        .expect_err("a perform with the deposed auctioneer's token");
    assert!(
        refused.contains("fenced")
            && refused.contains(&token_a.to_string())
            && refused.contains(&token_b.to_string()),
        "{refused}"
    );
    let holder = GrpcReps::new(5_000).with_fencing_token(token_b);
    holder
        .perform(&presence, vec![], vec![])
        .await
        .expect("the holder's token is admitted");

    // a restarted cell remembers the token: the deposed holder stays fenced
    cell.stop().await;
    let cell = LocalCell::start(cell_cfg).await.unwrap();
    let presence = client
        .cells()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.cell_id == "cell-1")
        .expect("the restarted cell's presence");
    let refused = deposed
        .perform(&presence, vec![], vec![])
        .await
        .expect_err("the deposed token after the cell restarted");
    assert!(refused.contains("fenced"), "{refused}");
    holder
        .perform(&presence, vec![], vec![])
        .await
        .expect("the holder's token is admitted after the restart");

    cell.stop().await;
    b.stop().await;
    cp.stop().await;
}
