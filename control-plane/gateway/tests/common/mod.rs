//! A gateway in front of a real BBS on loopback gRPC (over a temporary
//! store), and a bare HTTP/1.1 client.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use diego_bbs::grpc::{serve, BbsGrpc, DecisionLog, ServeOptions};
use diego_bbs::{Bbs, BbsConfig, NoAuctioneer, StaticCells, SystemClock};
use diego_store::{open_local, AtRest, EmbeddedOptions};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// A BBS serving its gRPC API on loopback (no auctioneer: LRP instances
/// stay UNCLAIMED until a test claims them).
pub struct BbsServer {
    pub url: String,
    pub bbs: Bbs,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl BbsServer {
    pub async fn start() -> BbsServer {
        let dir = tempfile::tempdir().unwrap();
        let store = open_local(dir.path(), AtRest::Plaintext, EmbeddedOptions::default()).unwrap();
        let bbs = Bbs::new(
            store,
            Arc::new(SystemClock),
            Arc::new(NoAuctioneer),
            Arc::new(StaticCells::default()),
            BbsConfig::default(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let grpc = BbsGrpc::new(bbs.clone(), Arc::new(DecisionLog::default()));
        let served = tokio::spawn(async move {
            serve(grpc, listener, ServeOptions::default(), async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        BbsServer {
            url,
            bbs,
            _dir: dir,
            stop: Some(stop),
            served: Some(served),
        }
    }

    /// Stops serving (open watches end) and waits until the port is closed.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            let _ = served.await;
        }
    }
}

pub struct Gateway {
    pub addr: SocketAddr,
    pub server: BbsServer,
    _stop: oneshot::Sender<()>,
}

impl Gateway {
    pub async fn start() -> Gateway {
        let server = BbsServer::start().await;
        let url = server.url.clone();
        Gateway::in_front_of(server, &url).await
    }

    /// A gateway reaching `server` at `api` (the server's own url, or a proxy's).
    pub async fn in_front_of(server: BbsServer, api: &str) -> Gateway {
        let client = diego_sdk::Client::connect(api, None).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(diego_gateway::serve(Arc::new(client), listener, async {
            let _ = stopped.await;
        }));
        Gateway {
            addr,
            server,
            _stop: stop,
        }
    }

    pub async fn send(&self, method: &str, path: &str, body: Vec<u8>) -> Response<Incoming> {
        send(self.addr, method, path, body, TRACE_ID).await
    }

    pub async fn post(&self, path: &str, body: Vec<u8>) -> Vec<u8> {
        post(self.addr, path, body).await
    }
}

/// A TCP proxy that a test can cut, breaking every connection through it
/// and refusing new ones: a BBS that went away, as the gateway sees it.
pub struct Proxy {
    pub url: String,
    accept: tokio::task::JoinHandle<()>,
    conns: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(target_url: &str) -> Proxy {
        let target: SocketAddr = target_url.trim_start_matches("http://").parse().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let conns: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let tracked = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().unwrap().push(conn);
            }
        });
        Proxy { url, accept, conns }
    }

    /// Drops every connection and the listener.
    pub fn cut(&self) {
        self.accept.abort();
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

/// The X-Vcap-Request-Id every request here carries.
pub const TRACE_ID: &str = "trace-1";

/// One request on a fresh connection, as the original's clients send them.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Vec<u8>,
    trace_id: &str,
) -> Response<Incoming> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "bbs")
        .header("content-type", "application/x-protobuf")
        .header("x-vcap-request-id", trace_id)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    sender.send_request(req).await.unwrap()
}

/// A protobuf route: checks the original's response shape, returns the body.
pub async fn post(addr: SocketAddr, path: &str, body: Vec<u8>) -> Vec<u8> {
    let resp = send(addr, "POST", path, body, TRACE_ID).await;
    assert_eq!(resp.status(), 200, "{path}");
    assert_eq!(resp.headers()["content-type"], "application/x-protobuf");
    let len: usize = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    assert_eq!(len, bytes.len());
    bytes
}

/// Reads SSE records (id, event, decoded data) off a streaming response.
pub struct Sse {
    body: Incoming,
    buf: String,
}

impl Sse {
    pub fn new(resp: Response<Incoming>) -> Sse {
        assert_eq!(resp.status(), 200);
        Sse {
            body: resp.into_body(),
            buf: String::new(),
        }
    }

    /// The next record; panics if none arrives within 10 s (a hang guard).
    pub async fn next(&mut self) -> (u64, String, Vec<u8>) {
        use base64::Engine;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let record: String = self.buf.drain(..end + 2).collect();
                let mut id = None;
                let mut name = String::new();
                let mut data = Vec::new();
                for line in record.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.parse().unwrap());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        name = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = base64::engine::general_purpose::STANDARD.decode(v).unwrap();
                    }
                }
                return (id.expect("an id line"), name, data);
            }
            let frame = tokio::time::timeout(std::time::Duration::from_secs(10), self.body.frame())
                .await
                .expect("an event within 10s")
                .expect("the stream is open")
                .unwrap();
            if let Ok(data) = frame.into_data() {
                self.buf.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    }

    /// Waits (up to 10 s) for the response to end, skipping any records
    /// still in flight; panics if the connection broke instead of the
    /// stream ending cleanly.
    pub async fn ended(&mut self) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .expect("the stream ends within 10s");
            match frame {
                None => return,
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("the stream broke instead of ending: {e}"),
            }
        }
    }
}
