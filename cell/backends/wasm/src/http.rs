//! A `wasi:http/incoming-handler` component served on the instance's host ports: HTTP/1.1 by
//! hyper, a fresh store and instance per request (the wasi-http model), at most
//! `max_connections` connections at once across the instance's ports.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use diego_executor::{OutputLine, Stream};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use wasmtime::Store;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

use crate::command::classify;
use crate::process::{stopped_status, Runner};
use crate::state::{arm_epoch, InstanceState};

/// Makes the store of one request (its own WASI context and memory limiter).
pub(crate) type StoreFactory = Arc<dyn Fn() -> Store<InstanceState> + Send + Sync>;

pub(crate) struct Served {
    pub(crate) pre: ProxyPre<InstanceState>,
    pub(crate) new_store: StoreFactory,
    pub(crate) max_connections: usize,
    pub(crate) request_timeout_ms: u64,
    pub(crate) host_log: mpsc::Sender<OutputLine>,
}

struct Shared {
    served: Served,
    runner_flags: Arc<crate::state::StopFlags>,
    runner_stop: tokio::sync::watch::Receiver<Option<diego_executor::Signal>>,
}

/// Serves until stopped; every listener is closed and every connection dropped before the
/// exit is reported.
pub(crate) fn spawn(served: Served, listeners: Vec<TcpListener>, mut runner: Runner) {
    let permits = Arc::new(Semaphore::new(served.max_connections.max(1)));
    let shared = Arc::new(Shared {
        served,
        runner_flags: runner.flags.clone(),
        runner_stop: runner.stop.clone(),
    });
    let (conn_tx, mut conn_rx) = mpsc::channel::<(TcpStream, OwnedSemaphorePermit)>(16);
    let mut acceptors = JoinSet::new();
    for listener in listeners {
        let (permits, conn_tx) = (permits.clone(), conn_tx.clone());
        acceptors.spawn(async move {
            loop {
                // The permit comes first: at the limit, connections wait in the kernel's
                // backlog instead of being accepted and starved.
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                match listener.accept().await {
                    Ok((stream, _)) => {
                        if conn_tx.send((stream, permit)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "wasm http accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
    }
    drop(conn_tx);
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        let signal = loop {
            tokio::select! {
                signal = runner.stopped() => break signal,
                conn = conn_rx.recv() => {
                    let Some((stream, permit)) = conn else { break diego_executor::Signal::Kill };
                    let shared = shared.clone();
                    connections.spawn(serve_connection(shared, stream, permit));
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        };
        acceptors.shutdown().await;
        connections.shutdown().await;
        drop(conn_rx);
        drop(shared);
        runner.finish(stopped_status(signal));
    });
}

async fn serve_connection(shared: Arc<Shared>, stream: TcpStream, _permit: OwnedSemaphorePermit) {
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(shared, req).await) }
    });
    if let Err(e) = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(error = %e, "wasm http connection ended");
    }
}

fn error_response(status: u16) -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = hyper::StatusCode::from_u16(status).expect("a valid status");
    response
}

async fn handle(
    shared: Arc<Shared>,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<HyperOutgoingBody> {
    let served = &shared.served;
    let mut store = (served.new_store)();
    arm_epoch(&mut store, shared.runner_flags.clone());
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let prepared = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)
        .and_then(|req| {
            let out = store.data_mut().http().new_response_outparam(sender)?;
            Ok((req, out))
        });
    let (req, out) = match prepared {
        Ok(parts) => parts,
        Err(e) => {
            tracing::debug!(error = %e, "bad request for wasm http component");
            return error_response(400);
        }
    };
    let pre = served.pre.clone();
    let limit = Duration::from_millis(served.request_timeout_ms.max(1));
    let host_log = served.host_log.clone();
    let flags = shared.runner_flags.clone();
    let stop = shared.runner_stop.clone();
    // Its own task, so the guest can keep streaming the body after the headers are sent.
    let task = tokio::spawn(async move {
        let call = async {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await
        };
        let outcome = tokio::time::timeout(limit, call).await;
        let out_of_memory = store.data().limiter.hit.load(Ordering::SeqCst);
        drop(store);
        let message = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(error)) => {
                let stopped = if flags.cancelled.load(Ordering::SeqCst) {
                    *stop.borrow()
                } else {
                    None
                };
                let (status, message) = classify(&error, out_of_memory, stopped);
                message.or_else(|| Some(format!("request ended with exit status {}", status.code)))
            }
            Err(_) => Some(format!("request timed out after {} ms", limit.as_millis())),
        };
        if let Some(line) = message {
            let line = OutputLine {
                stream: Stream::Stderr,
                line,
            };
            let _ = host_log.send(line).await;
        }
    });
    match receiver.await {
        Ok(Ok(response)) => response,
        Ok(Err(code)) => {
            tracing::debug!(error = ?code, "wasm http component answered with an error");
            error_response(500)
        }
        Err(_) => {
            // The guest never set a response: it trapped, timed out or returned without one.
            let _ = task.await;
            error_response(500)
        }
    }
}
