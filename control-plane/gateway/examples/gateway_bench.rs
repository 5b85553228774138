//! The gateway against direct gRPC to the same BBS, on an encrypted
//! embedded store in a temp dir. The gateway is a gRPC client of that BBS
//! (ADR 0014), so its figures include the extra loopback hop: DesireTask and
//! a 10,000-row ActualLRPs list (p50 of each, and the ratio), and SSE events
//! per second.
//!
//! cargo run --release -p diego-gateway --example gateway_bench

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use diego_bbs::grpc::{serve, BbsGrpc, DecisionLog, ServeOptions};
use diego_bbs::{codec, keys, Bbs, BbsConfig, NoAuctioneer, StaticCells, SystemClock};
use diego_model::{Action, ActualLrp, ActualLrpKey, ActualState, InstanceKey, Presence};
use diego_proto::bbs::v1 as pb;
use diego_proto::bbs::v1::bbs_client::BbsClient;
use diego_proto::models as w;
use diego_store::{open_local, AtRest, EmbeddedOptions, Op, Txn};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use prost::Message;

const TASKS: usize = 1_000;
const LIST_ROWS: usize = 10_000;
const LISTS: usize = 30;
const EVENTS: usize = 20_000;
const PRODUCERS: usize = 32;

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

async fn http(addr: std::net::SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn post(s: &mut SendRequest<Full<Bytes>>, path: &str, body: Vec<u8>) -> Bytes {
    let req = hyper::Request::post(path)
        .header("host", "bbs")
        .header("content-type", "application/x-protobuf")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = s.send_request(req).await.unwrap();
    resp.into_body().collect().await.unwrap().to_bytes()
}

fn task_def() -> w::TaskDefinition {
    w::TaskDefinition {
        root_fs: "preloaded:cflinuxfs4".into(),
        memory_mb: 64,
        action: Some(Action::run("/bin/true", &[]).into()),
        ..Default::default()
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_local(dir.path(), AtRest::Encrypted, EmbeddedOptions::default()).unwrap();
    let bbs = Bbs::new(
        store.clone(),
        Arc::new(SystemClock),
        Arc::new(NoAuctioneer),
        Arc::new(StaticCells::default()),
        BbsConfig::default(),
    );
    let grpc_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_url = format!("http://{}", grpc_l.local_addr().unwrap());
    let grpc = BbsGrpc::new(bbs.clone(), Arc::new(DecisionLog::default()));
    tokio::spawn(serve(
        grpc,
        grpc_l,
        ServeOptions::default(),
        std::future::pending(),
    ));
    let gw_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw_addr = gw_l.local_addr().unwrap();
    let gw_client = diego_sdk::Client::connect(&grpc_url, None).await.unwrap();
    tokio::spawn(diego_gateway::serve(
        Arc::new(gw_client),
        gw_l,
        std::future::pending(),
    ));
    let mut raw = BbsClient::connect(grpc_url)
        .await
        .unwrap()
        .max_decoding_message_size(usize::MAX);
    let mut gw = http(gw_addr).await;

    // DesireTask, alternating so both see the same store size.
    let def: diego_model::TaskDefinition =
        diego_proto::compat::task_definition_from(task_def(), "").unwrap();
    let (mut g_times, mut r_times) = (Vec::new(), Vec::new());
    for i in 0..TASKS {
        let body = w::DesireTaskRequest {
            task_guid: format!("gw-{i}"),
            domain: "bench".into(),
            task_definition: Some(task_def()),
        }
        .encode_to_vec();
        let t = Instant::now();
        let out = post(&mut gw, "/v1/tasks/desire.r2", body).await;
        g_times.push(t.elapsed());
        assert!(out.is_empty(), "gateway desire failed");
        let req = pb::DesireTaskRequest {
            task_guid: format!("grpc-{i}"),
            domain: "bench".into(),
            definition: Some(def.clone().into()),
        };
        let t = Instant::now();
        raw.desire_task(req).await.unwrap();
        r_times.push(t.elapsed());
    }
    let (g, r) = (p50(g_times), p50(r_times));
    println!("| DesireTask x{TASKS} p50 gateway | {} |", ms(g));
    println!("| DesireTask x{TASKS} p50 grpc | {} |", ms(r));
    println!(
        "| DesireTask gateway/grpc | {:.2} |",
        g.as_secs_f64() / r.as_secs_f64()
    );

    let now = bbs.clock().now_ns();
    let mut txn = Txn::default();
    for n in 0..LIST_ROWS {
        let pg = format!("bulk-{:03}", n / 100);
        let index = (n % 100) as i32;
        let row = ActualLrp {
            key: ActualLrpKey::new(&pg, index, "bench"),
            instance_key: InstanceKey::new(&format!("{pg}-{index}"), "cell-1"),
            state: ActualState::Running,
            since: now,
            routable: Some(true),
            ..Default::default()
        };
        txn.ops.push(Op::Put {
            key: keys::actual(&pg, index, Presence::Ordinary),
            value: codec::encode(&row),
        });
    }
    store.commit(txn).await.unwrap();
    let (mut g_times, mut r_times) = (Vec::new(), Vec::new());
    for _ in 0..LISTS {
        let t = Instant::now();
        let out = post(&mut gw, "/v1/actual_lrps/list", vec![]).await;
        g_times.push(t.elapsed());
        assert_eq!(
            w::ActualLrPsResponse::decode(out)
                .unwrap()
                .actual_lrps
                .len(),
            LIST_ROWS
        );
        let t = Instant::now();
        let n = raw
            .actual_lrps(pb::ActualLrpsRequest::default())
            .await
            .unwrap();
        r_times.push(t.elapsed());
        assert_eq!(n.into_inner().actual_lrps.len(), LIST_ROWS);
    }
    let (g, r) = (p50(g_times), p50(r_times));
    println!("| ActualLRPs list of {LIST_ROWS} p50 gateway | {} |", ms(g));
    println!("| ActualLRPs list of {LIST_ROWS} p50 grpc | {} |", ms(r));
    println!(
        "| ActualLRPs gateway/grpc | {:.2} |",
        g.as_secs_f64() / r.as_secs_f64()
    );

    // SSE: task events committed in process, read off the stream.
    let mut sub = http(gw_addr).await;
    let req = hyper::Request::post("/v1/events/tasks.r1")
        .header("host", "bbs")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let mut body = sub.send_request(req).await.unwrap().into_body();
    let t = Instant::now();
    // Concurrent producers so group commit, not fsync latency, sets the pace.
    for p in 0..PRODUCERS {
        let (producer, def) = (bbs.clone(), def.clone());
        tokio::spawn(async move {
            for i in (p..EVENTS).step_by(PRODUCERS) {
                producer
                    .desire_task(&format!("ev-{i}"), "bench", def.clone())
                    .await
                    .unwrap();
            }
        });
    }
    let mut seen = 0;
    while seen < EVENTS {
        let frame = body.frame().await.unwrap().unwrap();
        if let Ok(d) = frame.into_data() {
            seen += d.windows(7).filter(|w| *w == b"event: ").count();
        }
    }
    let rate = EVENTS as f64 / t.elapsed().as_secs_f64();
    println!(
        "| SSE task events through the gateway | {rate:.0} /s ({PRODUCERS} concurrent producers) |"
    );
}
