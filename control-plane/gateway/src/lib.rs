//! The compatibility gateway: the original BBS API (protobuf over HTTP/1.1,
//! errors inside 200 responses, SSE event streams) in front of the diego-rs
//! BBS, so Cloud Controller's bridge and the Go `bbs` client work unchanged
//! (spec §2, bbs-wire.md). It is a client of the BBS's gRPC API (`BbsApi`,
//! implemented over the Rust SDK), stateless, so it can sit in front of BBS
//! replicas (ADR 0014).
//!
//! Every route follows the original's pattern: read the body, decode it
//! (failure: `InvalidRequest` "the request received is invalid"), convert and
//! validate (failure: `InvalidRequest` naming the field), then execute. The
//! answer is always a 200 protobuf, because the Go client retries anything
//! else, non-idempotent calls included. Unknown routes get a plain 404.

mod api;
mod error;
mod grpc;
mod handlers;
mod http;
mod routes;
mod sse;

use std::future::Future;
use std::sync::Arc;

use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub use api::{BbsApi, Events};
pub use error::GatewayError;
pub use routes::{route, Route, ROUTES};

/// Bodies above this are refused as unparseable, before any decoding.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Serves the gateway on `listener` until `shutdown` resolves. Open event
/// streams end with the server.
pub async fn serve(
    bbs: Arc<dyn BbsApi>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), GatewayError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted.map_err(GatewayError::Accept)?,
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let bbs = bbs.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| http::handle(bbs.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                res = conn.as_mut() => if let Err(e) = res {
                    tracing::debug!(error = %e, "gateway connection ended");
                },
                _ = stop.changed() => conn.as_mut().graceful_shutdown(),
            }
        });
    }
    let _ = stop_tx.send(true);
    Ok(())
}

/// As `serve`, over TLS: `tls` decides whether client certificates are
/// required (diego-tls builds a mutual-TLS config; offer `http/1.1` in its
/// ALPN). Handshakes run on the connection's task, so a slow or refused
/// client never holds up the accept loop.
pub async fn serve_tls(
    bbs: Arc<dyn BbsApi>,
    listener: TcpListener,
    tls: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), GatewayError> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted.map_err(GatewayError::Accept)?,
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let bbs = bbs.clone();
        let mut stop = stop_rx.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let stream = match acceptor.accept(stream).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "gateway refused a tls handshake");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |req| http::handle(bbs.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                res = conn.as_mut() => if let Err(e) = res {
                    tracing::debug!(error = %e, "gateway connection ended");
                },
                _ = stop.changed() => conn.as_mut().graceful_shutdown(),
            }
        });
    }
    let _ = stop_tx.send(true);
    Ok(())
}
