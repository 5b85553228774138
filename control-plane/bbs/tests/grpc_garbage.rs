//! Bytes that are not a protobuf message, sent as a gRPC request body: the
//! server answers InvalidRequest (spec §2.1: "the request received is
//! invalid") instead of an internal error, and keeps serving.

use std::sync::Arc;

use diego_bbs::grpc::{serve, BbsGrpc, DecisionLog, ServeOptions};
use diego_bbs::{Bbs, NoAuctioneer, StaticCells, SystemClock};
use diego_proto::bbs::v1 as pb;
use diego_proto::bbs::v1::bbs_client::BbsClient;
use diego_store::EmbeddedStore;
use prost::bytes::{Buf, BufMut};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// Asserts the status, its error type and that the message has `needle`.
#[track_caller]
fn refused<T: std::fmt::Debug>(r: Result<T, Status>, code: Code, ty: &str, needle: &str) {
    let s = r.expect_err("request should be refused");
    assert_eq!(s.code(), code, "{s:?}");
    let named = s
        .metadata()
        .get("diego-error-type")
        .and_then(|v| v.to_str().ok());
    assert_eq!(named, Some(ty), "{s:?}");
    assert!(s.message().contains(needle), "{needle:?} not in {s:?}");
}

/// Sends bytes as they are, so a request can be something no client would build.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

#[tokio::test]
async fn garbage_bytes_are_an_invalid_request_not_a_crash() {
    let store = Arc::new(EmbeddedStore::in_memory(Default::default()).unwrap());
    let bbs = Bbs::new(
        store,
        Arc::new(SystemClock),
        Arc::new(NoAuctioneer),
        Arc::new(StaticCells::default()),
        Default::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let grpc = BbsGrpc::new(bbs, Arc::new(DecisionLog::default()));
    tokio::spawn(serve(
        grpc,
        listener,
        ServeOptions::default(),
        std::future::pending(),
    ));

    let channel = Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    // Field 1 claims a 127-byte string that is not there; then bytes with an
    // invalid wire type; then a truncated varint.
    let bodies: [&[u8]; 3] = [&[0x0a, 0x7f, 1, 2], &[0xff; 16], &[0x08, 0xff, 0xff]];
    for path in ["/diego.bbs.v1.Bbs/DesireTask", "/diego.bbs.v1.Bbs/Watch"] {
        for body in bodies {
            let mut g = tonic::client::Grpc::new(channel.clone());
            g.ready().await.unwrap();
            let r = if path.ends_with("Watch") {
                let path = PathAndQuery::from_static("/diego.bbs.v1.Bbs/Watch");
                g.server_streaming(Request::new(body.to_vec()), path, Raw)
                    .await
                    .map(|_| ())
            } else {
                let path = PathAndQuery::from_static("/diego.bbs.v1.Bbs/DesireTask");
                g.unary(Request::new(body.to_vec()), path, Raw)
                    .await
                    .map(|_| ())
            };
            refused(
                r,
                Code::InvalidArgument,
                "InvalidRequest",
                "the request received is invalid",
            );
        }
    }
    let mut b = BbsClient::new(channel);
    assert!(
        b.ping(pb::PingRequest {})
            .await
            .unwrap()
            .into_inner()
            .available
    );
    let tasks = b.tasks(pb::TasksRequest::default()).await.unwrap();
    assert!(tasks.into_inner().tasks.is_empty());
}
