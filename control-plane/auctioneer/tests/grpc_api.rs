//! The auctioneer API (`diego.auctioneer.v1`, ADR 0013) on loopback: a
//! malformed request is refused naming the field and queues nothing; a valid
//! one is placed and its decision served; mutual TLS is enforced.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diego_auction::Resources;
use diego_auctioneer::server::{serve, AuctioneerGrpc};
use diego_auctioneer::sim::{SimCell, SimReps};
use diego_auctioneer::{
    Auctioneer, AuctioneerClient, AuctioneerConfig, BoxFut, ClientTls, ResultSink,
};
use diego_bbs::grpc::{DecisionLog, ServeOptions};
use diego_bbs::LrpAuction;
use diego_model::{ActualLrpKey, SchedulingInfo, Task};
use diego_proto::auctioneer::v1 as pb;
use diego_proto::auctioneer::v1::auctioneer_client::AuctioneerClient as RawClient;
use diego_proto::bbs::v1 as bbs_pb;
use tokio::sync::watch;

const ROOTFS: &str = "preloaded:cflinuxfs4";

/// Records decisions into the log the API serves, and failures.
struct LogSink {
    decisions: Arc<DecisionLog>,
    failures: std::sync::Mutex<Vec<String>>,
}

impl ResultSink for LogSink {
    fn fail_lrp<'a>(&'a self, key: &'a ActualLrpKey, reason: &'a str) -> BoxFut<'a, ()> {
        let line = format!("lrp {}/{}: {reason}", key.process_guid, key.index);
        self.failures.lock().unwrap().push(line);
        Box::pin(async {})
    }
    fn reject_task<'a>(&'a self, task_guid: &'a str, reason: &'a str) -> BoxFut<'a, ()> {
        let line = format!("task {task_guid}: {reason}");
        self.failures.lock().unwrap().push(line);
        Box::pin(async {})
    }
    fn record(&self, work_id: String, summary: String, cell_lines: Vec<String>) {
        self.decisions.record(work_id, summary, cell_lines, 1);
    }
}

struct Served {
    url: String,
    auctioneer: Auctioneer,
    cell: Arc<SimCell>,
    sink: Arc<LogSink>,
    stop: watch::Sender<bool>,
    _runner: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self._runner.abort();
    }
}

/// An auctioneer over one simulated cell, served on a free loopback port.
async fn start(opts: ServeOptions, run_loop: bool) -> Served {
    let cell = SimCell::new(
        "cell-1",
        "z1",
        Resources::new(4096, 8192, 100),
        &["cflinuxfs4"],
    );
    let reps = Arc::new(SimReps::default());
    reps.add(cell.clone());
    let decisions = Arc::new(DecisionLog::default());
    let sink = Arc::new(LogSink {
        decisions: decisions.clone(),
        failures: Default::default(),
    });
    let auctioneer = Auctioneer::new(
        reps.clone(),
        reps,
        sink.clone(),
        AuctioneerConfig::default(),
    );
    let runner = if run_loop {
        auctioneer.spawn()
    } else {
        tokio::spawn(async {})
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{}", listener.local_addr().unwrap());
    let (stop, mut rx) = watch::channel(false);
    let grpc = AuctioneerGrpc::new(auctioneer.clone(), decisions);
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        serve(grpc, listener, opts, shutdown).await.unwrap();
    });
    Served {
        url,
        auctioneer,
        cell,
        sink,
        stop,
        _runner: runner,
    }
}

fn lrp(guid: &str, indices: Vec<i32>) -> pb::LrpStartRequest {
    pb::LrpStartRequest {
        process_guid: guid.into(),
        domain: "d".into(),
        indices,
        memory_mb: 64,
        disk_mb: 64,
        max_pids: 0,
        rootfs: ROOTFS.into(),
        placement_tags: vec![],
        volume_drivers: vec![],
    }
}

fn task(guid: &str) -> pb::TaskStartRequest {
    pb::TaskStartRequest {
        task_guid: guid.into(),
        domain: "d".into(),
        memory_mb: 64,
        disk_mb: 64,
        max_pids: 0,
        rootfs: ROOTFS.into(),
        placement_tags: vec![],
        volume_drivers: vec![],
    }
}

#[tokio::test]
async fn malformed_requests_are_refused_naming_the_field_and_queue_nothing() {
    // no batching loop: anything accepted would stay queued and show
    let s = start(ServeOptions::default(), false).await;
    let mut raw = RawClient::connect(s.url.clone()).await.unwrap();

    let lrp_cases: Vec<(Vec<pb::LrpStartRequest>, &str)> = vec![
        (
            vec![lrp("ok", vec![0]), lrp("", vec![0])],
            "lrps[1].process_guid is empty",
        ),
        (
            vec![pb::LrpStartRequest {
                domain: String::new(),
                ..lrp("web", vec![0])
            }],
            "lrps[0].domain is empty",
        ),
        (vec![lrp("web", vec![])], "lrps[0].indices is empty"),
        (
            vec![lrp("web", vec![0, 1, -1])],
            "lrps[0].indices[2] is negative (-1)",
        ),
        (
            vec![pb::LrpStartRequest {
                memory_mb: -5,
                ..lrp("web", vec![0])
            }],
            "lrps[0].memory_mb is negative (-5)",
        ),
        (
            vec![pb::LrpStartRequest {
                disk_mb: -1,
                ..lrp("web", vec![0])
            }],
            "lrps[0].disk_mb is negative (-1)",
        ),
        (
            vec![pb::LrpStartRequest {
                rootfs: String::new(),
                ..lrp("web", vec![0])
            }],
            "lrps[0].rootfs is empty",
        ),
    ];
    for (lrps, want) in lrp_cases {
        let err = raw
            .request_lrp_auctions(pb::RequestLrpAuctionsRequest { lrps })
            .await
            .expect_err(want);
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{want}");
        assert_eq!(err.message(), format!("invalid field: {want}"));
    }

    let task_cases: Vec<(pb::TaskStartRequest, &str)> = vec![
        (task(""), "tasks[1].task_guid is empty"),
        (
            pb::TaskStartRequest {
                max_pids: -2,
                ..task("t")
            },
            "tasks[1].max_pids is negative (-2)",
        ),
        (
            pb::TaskStartRequest {
                rootfs: String::new(),
                ..task("t")
            },
            "tasks[1].rootfs is empty",
        ),
    ];
    for (bad, want) in task_cases {
        let tasks = vec![task("fine"), bad];
        let err = raw
            .request_task_auctions(pb::RequestTaskAuctionsRequest { tasks })
            .await
            .expect_err(want);
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{want}");
        assert_eq!(err.message(), format!("invalid field: {want}"));
    }
    let bad_kind = raw
        .placement_decisions(bbs_pb::PlacementDecisionsRequest {
            kind: 99,
            guid: "x".into(),
            index: None,
        })
        .await
        .expect_err("unknown kind");
    assert_eq!(bad_kind.code(), tonic::Code::InvalidArgument);

    // not even the valid entries of a refused request were queued
    assert_eq!(s.auctioneer.pending(), (0, 0));

    // an empty request is valid and does nothing
    raw.request_task_auctions(pb::RequestTaskAuctionsRequest { tasks: vec![] })
        .await
        .unwrap();
    // a valid one is queued: the check above could have failed
    raw.request_lrp_auctions(pb::RequestLrpAuctionsRequest {
        lrps: vec![lrp("web", vec![0, 1])],
    })
    .await
    .unwrap();
    assert_eq!(s.auctioneer.pending(), (2, 0));
}

fn domain_task(guid: &str) -> Task {
    serde_json::from_value(serde_json::json!({
        "task_guid": guid, "domain": "d", "rootfs": ROOTFS, "memory_mb": 64, "disk_mb": 64,
        "action": {"run": {"path": "/bin/true", "user": "root"}}
    }))
    .unwrap()
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn requests_through_the_client_are_placed_and_decisions_served() {
    let s = start(ServeOptions::default(), true).await;
    let client = AuctioneerClient::lazy(&s.url, None, Duration::from_secs(5)).unwrap();
    let info = SchedulingInfo {
        process_guid: "web".into(),
        domain: "d".into(),
        instances: 3,
        memory_mb: 64,
        disk_mb: 64,
        root_fs: ROOTFS.into(),
        ..Default::default()
    };
    client
        .request_lrp_auctions(vec![LrpAuction {
            info,
            indices: vec![0, 2],
        }])
        .await
        .unwrap();
    client
        .request_task_auctions(vec![domain_task("t1"), domain_task("t2")])
        .await
        .unwrap();
    eventually("the work on the cell", || {
        let st = s.cell.snapshot();
        st.lrps.len() == 2 && st.task_guids.len() == 2
    })
    .await;
    let mut lrps: Vec<(String, i32)> = s
        .cell
        .snapshot()
        .lrps
        .into_iter()
        .map(|l| (l.process_guid, l.index))
        .collect();
    lrps.sort();
    assert_eq!(lrps, [("web".to_string(), 0), ("web".to_string(), 2)]);

    let task_decisions = client
        .placement_decisions(bbs_pb::PlacementDecisionsRequest {
            kind: bbs_pb::PlacementKind::Task as i32,
            guid: "t1".into(),
            index: None,
        })
        .await
        .unwrap()
        .decisions;
    assert_eq!(task_decisions.len(), 1, "{task_decisions:?}");
    assert!(
        task_decisions[0]
            .summary
            .starts_with("task t1: placed on cell-1"),
        "{:?}",
        task_decisions[0]
    );
    let lrp_decisions = client
        .placement_decisions(bbs_pb::PlacementDecisionsRequest {
            kind: bbs_pb::PlacementKind::Lrp as i32,
            guid: "web".into(),
            index: None,
        })
        .await
        .unwrap()
        .decisions;
    let ids: Vec<&str> = lrp_decisions.iter().map(|d| d.work_id.as_str()).collect();
    assert_eq!(ids, ["lrp/web/0", "lrp/web/2"]);

    // unplaceable work goes back as a failure with the reason
    let mut huge = domain_task("huge");
    huge.definition.memory_mb = 1_000_000;
    client.request_task_auctions(vec![huge]).await.unwrap();
    eventually("the failure", || {
        !s.sink.failures.lock().unwrap().is_empty()
    })
    .await;
    let failures = s.sink.failures.lock().unwrap().clone();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].starts_with("task huge: insufficient resources"),
        "{failures:?}"
    );
}

#[tokio::test]
async fn mutual_tls_refuses_callers_without_a_certificate_from_the_ca() {
    let ca = diego_tls::Ca::generate(2).unwrap();
    let leaf = |cn: &str| {
        ca.issue(&diego_tls::LeafSpec::new(
            cn,
            &[],
            diego_tls::KeyType::EcdsaP256,
            2,
        ))
        .unwrap()
    };
    let server = leaf("auctioneer");
    let bbs = leaf("bbs");
    let opts = ServeOptions {
        tls: Some((server.cert_pem.into(), server.key_pem.into())),
        client_ca: Some(ca.cert_pem().into()),
    };
    let s = start(opts, true).await;
    assert!(s.url.starts_with("https://"));

    let trusted = ClientTls {
        ca_pem: ca.cert_pem().into(),
        cert_pem: bbs.cert_pem.clone().into(),
        key_pem: bbs.key_pem.clone().into(),
    };
    let ok = AuctioneerClient::lazy(&s.url, Some(trusted), Duration::from_secs(5)).unwrap();
    ok.request_task_auctions(vec![domain_task("over-tls")])
        .await
        .unwrap();
    eventually("the task on the cell", || {
        s.cell
            .snapshot()
            .task_guids
            .contains(&"over-tls".to_string())
    })
    .await;

    // https without certificates: said before any call
    let err = AuctioneerClient::lazy(&s.url, None, Duration::from_secs(5))
        .err()
        .expect("https needs certificates");
    assert!(err.contains("has no tls certificates"), "{err}");

    // a certificate from another CA is refused by the server
    let other = diego_tls::Ca::generate(2).unwrap();
    let stranger = other
        .issue(&diego_tls::LeafSpec::new(
            "stranger",
            &[],
            diego_tls::KeyType::EcdsaP256,
            2,
        ))
        .unwrap();
    let foreign = ClientTls {
        ca_pem: ca.cert_pem().into(),
        cert_pem: stranger.cert_pem.into(),
        key_pem: stranger.key_pem.into(),
    };
    let refused = AuctioneerClient::lazy(&s.url, Some(foreign), Duration::from_secs(5)).unwrap();
    let err = refused
        .request_task_auctions(vec![domain_task("never")])
        .await
        .expect_err("a foreign certificate is refused");
    assert!(err.contains(&s.url), "{err}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!s.cell.snapshot().task_guids.contains(&"never".to_string()));
}
