//! A gateway over a temporary store, and a bare HTTP/1.1 client.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use diego_bbs::{Bbs, BbsConfig, NoAuctioneer, StaticCells, SystemClock};
use diego_store::{open_local, AtRest, EmbeddedOptions};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

pub struct Gateway {
    pub addr: SocketAddr,
    pub bbs: Bbs,
    _dir: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

impl Gateway {
    pub async fn start() -> Gateway {
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
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(diego_gateway::serve(bbs.clone(), listener, async {
            let _ = stopped.await;
        }));
        Gateway {
            addr,
            bbs,
            _dir: dir,
            _stop: stop,
        }
    }

    pub async fn send(&self, method: &str, path: &str, body: Vec<u8>) -> Response<Incoming> {
        let stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "bbs")
            .header("content-type", "application/x-protobuf")
            .header("x-vcap-request-id", "trace-1")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        sender.send_request(req).await.unwrap()
    }

    /// A protobuf route: checks the original's response shape, returns the body.
    pub async fn post(&self, path: &str, body: Vec<u8>) -> Vec<u8> {
        let resp = self.send("POST", path, body).await;
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
}
