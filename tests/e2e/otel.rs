//! Spans leave the process over OTLP/HTTP when the standard OpenTelemetry
//! variables say where to: `diego bbs` with `OTEL_EXPORTER_OTLP_ENDPOINT`
//! pointing at a collector (here a loopback HTTP listener that keeps what
//! it is sent) exports its spans, named after the role, and a gRPC call
//! that carries a W3C `traceparent` is a span of the caller's trace. Its
//! convergence and auction metrics go to the same collector.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diego_proto::bbs::v1::bbs_client::BbsClient;
use diego_proto::bbs::v1::PingRequest;
use support::free_port;

struct Bbs(Child);

impl Drop for Bbs {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One OTLP/HTTP export request: (path, content type, body).
type Export = (String, String, Vec<u8>);

/// Accepts HTTP/1.1 POSTs, answers 200 with an empty protobuf body.
fn collector() -> (String, Arc<Mutex<Vec<Export>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Export>>> = Arc::default();
    let keep = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let keep = keep.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let (mut length, mut kind) = (0usize, String::new());
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).unwrap();
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        let (name, value) = header.split_once(':').unwrap_or((header, ""));
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => length = value.trim().parse().unwrap_or(0),
                            "content-type" => kind = value.trim().to_string(),
                            _ => {}
                        }
                    }
                    let mut body = vec![0u8; length];
                    reader.read_exact(&mut body).unwrap();
                    keep.lock().unwrap().push((path, kind, body));
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if conn.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_role_exports_its_spans_and_metrics_over_otlp_http() {
    let (url, seen) = collector();
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _bbs = Bbs(Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(["bbs", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--converge-interval-ms", "300"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &url)
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "300")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("diego bbs starts"));
    // a cell on the fake backend, started before its bbs listens (it waits
    // for it): its rep exports the bulk sync and capacity
    let _cell = Bbs(Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(["cell", "--fake-backend", "--cell-id", "otel-cell"])
        .args(["--bbs", &format!("http://127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &url)
        .env("OTEL_METRIC_EXPORT_INTERVAL", "300")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("diego cell starts"));
    // a ping from a caller whose trace is 0af76519...
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut client = loop {
            match BbsClient::connect(api.clone()).await {
                Ok(c) => break c,
                Err(e) => assert!(Instant::now() < deadline, "bbs did not start: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let mut req = tonic::Request::new(PingRequest {});
        req.metadata_mut()
            .insert("traceparent", TRACEPARENT.parse().unwrap());
        client.ping(req).await.expect("ping");
        // a task no cell can run: the auctioneer runs a batch and fails it
        let sdk = diego_sdk::Client::connect(&api, None).await.expect("sdk");
        let def = diego_model::TaskDefinition {
            root_fs: "preloaded:busybox".into(),
            action: Some(diego_model::Action::run("/bin/true", &[])),
            memory_mb: 16,
            ..Default::default()
        };
        sdk.desire_task("nowhere", "d", def).await.expect("desire");
    });
    let caller_trace = hex_bytes(&TRACEPARENT[3..35]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut convergence, mut grpc) = (false, false);
    let (mut convergence_metrics, mut auction_metrics) = (false, false);
    let (mut request_metrics, mut rep_metrics) = (false, false);
    loop {
        for (path, kind, body) in seen.lock().unwrap().iter() {
            if path == "/v1/metrics" && contains(body, "diego-bbs") {
                convergence_metrics |= contains(body, "diego.convergence.duration")
                    && contains(body, "diego.convergence.lrps")
                    && contains(body, "suspect_running");
                auction_metrics |= contains(body, "diego.auctioneer.task_auctions")
                    && contains(body, "diego.auctioneer.batch.duration");
                request_metrics |= contains(body, "diego.bbs.requests")
                    && contains(body, "diego.bbs.request.duration")
                    && contains(body, "DesireTask");
            }
            if path == "/v1/metrics" && contains(body, "diego-rep") {
                rep_metrics |= contains(body, "diego.rep.bulk_sync.duration")
                    && contains(body, "diego.rep.capacity.total")
                    && contains(body, "otel-cell");
            }
            if path != "/v1/traces" || !contains(body, "diego-bbs") {
                continue;
            }
            assert_eq!(kind, "application/x-protobuf");
            convergence |= contains(body, "convergence pass");
            grpc |= contains(body, "bbs grpc")
                && contains(body, "/diego.bbs.v1.Bbs/Ping")
                && body.windows(16).any(|w| w == caller_trace.as_slice());
        }
        let metrics = convergence_metrics && auction_metrics && request_metrics && rep_metrics;
        if convergence && grpc && metrics {
            return;
        }
        // one lock for the message: two in one expression would deadlock
        let paths: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _, _)| p.clone())
            .collect();
        assert!(
            Instant::now() < deadline,
            "spans or metrics missing (convergence {convergence}, grpc in the caller's trace {grpc}, convergence metrics {convergence_metrics}, auction metrics {auction_metrics}, request metrics {request_metrics}, rep metrics {rep_metrics}); got {} exports ({} of metrics)",
            paths.len(),
            paths.iter().filter(|p| *p == "/v1/metrics").count(),
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// POST /v1/ping to the gateway with a `traceparent`; the answer's status line.
fn ping_gateway(port: u16, traceparent: &str) -> Option<String> {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let request = format!(
        "POST /v1/ping HTTP/1.1\r\nHost: gw\r\ntraceparent: {traceparent}\r\n\
         content-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    conn.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    let _ = BufReader::new(conn).read_line(&mut answer);
    Some(answer)
}

/// One trace across processes: a request to the gateway that carries a
/// `traceparent` is a span of that trace in `diego-gateway`, and the gRPC
/// call the gateway makes for it is a span of the same trace in `diego-bbs`.
#[test]
fn a_trace_crosses_the_gateway_and_the_bbs() {
    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (url, seen) = collector();
    let dir = tempfile::tempdir().unwrap();
    let (api_port, gw_port) = (free_port(), free_port());
    let _bbs = Bbs(Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(["bbs", "--listen", &format!("127.0.0.1:{api_port}")])
        .arg("--data-dir")
        .arg(dir.path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &url)
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("diego bbs starts"));
    let _gateway = Bbs(Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(["gateway", "--bbs", &format!("http://127.0.0.1:{api_port}")])
        .args(["--gateway-listen", &format!("127.0.0.1:{gw_port}")])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &url)
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("diego gateway starts"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ping_gateway(gw_port, PARENT).is_some_and(|a| a.contains(" 200")) {
        assert!(Instant::now() < deadline, "the gateway did not answer");
        std::thread::sleep(Duration::from_millis(200));
    }
    let trace = hex_bytes(&PARENT[3..35]);
    let has_trace = |body: &[u8]| body.windows(16).any(|w| w == trace.as_slice());
    loop {
        let (mut gateway, mut bbs) = (false, false);
        for (path, _, body) in seen.lock().unwrap().iter() {
            if path != "/v1/traces" || !has_trace(body) {
                continue;
            }
            gateway |= contains(body, "diego-gateway") && contains(body, "bbs_gateway");
            bbs |= contains(body, "diego-bbs") && contains(body, "/diego.bbs.v1.Bbs/Ping");
        }
        if gateway && bbs {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "spans of the trace missing: gateway {gateway}, bbs {bbs}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
