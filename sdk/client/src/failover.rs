//! A channel over several BBS replicas that follows the active one.
//!
//! Only the active BBS listens (standbys do not bind their port), so a
//! request that cannot even connect to one address has certainly not been
//! seen by it and is safe to send to the next. Requests that reached a
//! server are never repeated: a retry could apply a write twice. While no
//! replica listens (a failover in progress) the request waits, trying each
//! address with backoff, for up to `failover_budget`.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use tonic::body::Body;
use tonic::transport::Channel;

type BoxError = Box<dyn StdError + Send + Sync>;

#[derive(Clone)]
pub struct FailoverChannel {
    channels: Arc<[Channel]>,
    /// The replica that answered last; tried first.
    current: Arc<AtomicUsize>,
    failover_budget: Duration,
    /// Sent as `x-vcap-request-id` on every request (see `Client::with_trace_id`).
    trace_id: Option<http::HeaderValue>,
}

const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_millis(500);

impl FailoverChannel {
    pub fn new(channels: Vec<Channel>, failover_budget: Duration) -> Self {
        FailoverChannel {
            channels: channels.into(),
            current: Arc::new(AtomicUsize::new(0)),
            failover_budget,
            trace_id: None,
        }
    }

    /// The same replicas (and the same current one), sending `trace_id`.
    pub fn traced(&self, trace_id: http::HeaderValue) -> Self {
        FailoverChannel {
            trace_id: Some(trace_id),
            ..self.clone()
        }
    }
}

/// Whether the request failed before any byte reached a server.
fn never_connected(error: &(dyn StdError + 'static)) -> bool {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<tonic::ConnectError>().is_some() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        cause = e.source();
    }
    false
}

impl tower_service::Service<http::Request<Body>> for FailoverChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // each call clones a ready-checked channel itself
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let this = self.clone();
        let (mut parts, body) = request.into_parts();
        // the caller's span, here where it is still the current one
        diego_proto::trace_context::inject_current(&mut parts.headers);
        Box::pin(async move {
            if let Some(id) = &this.trace_id {
                parts
                    .headers
                    .insert(diego_proto::convert::TRACE_ID_METADATA, id.clone());
            }
            // unary and server-streaming requests: the body is one message,
            // already complete, so it can be replayed to another replica
            let bytes = body.collect().await?.to_bytes();
            let started = Instant::now();
            let mut pause = FIRST_PAUSE;
            let n = this.channels.len();
            loop {
                let first = this.current.load(Ordering::Relaxed);
                let mut last_error: Option<BoxError> = None;
                for step in 0..n {
                    let i = (first + step) % n;
                    let req = http::Request::from_parts(
                        parts.clone(),
                        Body::new(http_body_util::Full::new(bytes.clone())),
                    );
                    let mut channel = this.channels[i].clone();
                    let sent = async {
                        tower_service_ready(&mut channel).await?;
                        tower_service::Service::call(&mut channel, req).await
                    };
                    match sent.await {
                        Ok(resp) => {
                            this.current.store(i, Ordering::Relaxed);
                            return Ok(resp);
                        }
                        Err(e) if never_connected(&e) => last_error = Some(e.into()),
                        Err(e) => return Err(e.into()),
                    }
                }
                if started.elapsed() >= this.failover_budget {
                    return Err(last_error.unwrap_or_else(|| "no bbs address given".into()));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
        })
    }
}

async fn tower_service_ready(channel: &mut Channel) -> Result<(), tonic::transport::Error> {
    std::future::poll_fn(|cx| tower_service::Service::poll_ready(channel, cx)).await
}
