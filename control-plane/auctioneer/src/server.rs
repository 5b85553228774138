//! The auctioneer API (`diego.auctioneer.v1`) over a running `Auctioneer`:
//! what `diego auctioneer` serves while it holds the auctioneer lock
//! (ADR 0013). Requests are checked by the proto crate's conversions, so a
//! malformed one is an `INVALID_ARGUMENT` naming the field, and nothing of
//! it is queued.

// tonic's handlers must return `Result<_, Status>`, which is large by design.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use diego_bbs::grpc::{DecisionLog, ServeOptions};
use diego_proto::auctioneer::v1 as pb;
use diego_proto::auctioneer::v1::auctioneer_server::{
    Auctioneer as AuctioneerService, AuctioneerServer,
};
use diego_proto::bbs::v1 as bbs_pb;
use diego_proto::convert::auctioneer::{lrp_starts, task_starts};
use diego_proto::status::to_status;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

use crate::Auctioneer;

/// Requests are small (one entry per LRP or task); this bounds what one
/// caller can make the auctioneer decode and queue.
const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone)]
pub struct AuctioneerGrpc {
    auctioneer: Auctioneer,
    decisions: Arc<DecisionLog>,
}

impl AuctioneerGrpc {
    /// `decisions` is the log the auctioneer's result sink records into.
    pub fn new(auctioneer: Auctioneer, decisions: Arc<DecisionLog>) -> Self {
        AuctioneerGrpc {
            auctioneer,
            decisions,
        }
    }
}

#[tonic::async_trait]
impl AuctioneerService for AuctioneerGrpc {
    async fn request_lrp_auctions(
        &self,
        r: Request<pb::RequestLrpAuctionsRequest>,
    ) -> Result<Response<pb::RequestLrpAuctionsResponse>, Status> {
        let lrps = lrp_starts(r.into_inner()).map_err(|e| to_status(&e))?;
        tracing::debug!(instances = lrps.len(), "lrp auctions requested");
        self.auctioneer.submit(lrps, Vec::new());
        Ok(Response::new(pb::RequestLrpAuctionsResponse {}))
    }

    async fn request_task_auctions(
        &self,
        r: Request<pb::RequestTaskAuctionsRequest>,
    ) -> Result<Response<pb::RequestTaskAuctionsResponse>, Status> {
        let tasks = task_starts(r.into_inner()).map_err(|e| to_status(&e))?;
        tracing::debug!(tasks = tasks.len(), "task auctions requested");
        self.auctioneer.submit(Vec::new(), tasks);
        Ok(Response::new(pb::RequestTaskAuctionsResponse {}))
    }

    async fn placement_decisions(
        &self,
        r: Request<bbs_pb::PlacementDecisionsRequest>,
    ) -> Result<Response<bbs_pb::PlacementDecisionsResponse>, Status> {
        self.decisions
            .answer(r.into_inner())
            .map(Response::new)
            .map_err(|e| to_status(&e))
    }
}

/// Serves the auctioneer API until `shutdown` resolves; with `opts.tls` over
/// TLS, and with `opts.client_ca` only to callers it signed (mutual TLS).
pub async fn serve(
    grpc: AuctioneerGrpc,
    listener: tokio::net::TcpListener,
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let mut builder = Server::builder();
    if let Some((cert, key)) = opts.tls {
        let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
        if let Some(ca) = opts.client_ca {
            tls = tls.client_ca_root(Certificate::from_pem(ca));
        }
        builder = builder.tls_config(tls)?;
    }
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    builder
        .add_service(AuctioneerServer::new(grpc).max_decoding_message_size(MAX_REQUEST_BYTES))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
