//! Carries a call's trace id (the `x-vcap-request-id` metadata, which the
//! gateway fills from the original client's `X-Vcap-Request-Id`) into the
//! events the call emits: the handler runs inside `trace::with_trace_id`.
//! Each call also runs in a `bbs grpc` span (exported over OpenTelemetry
//! when the process has it on, ADR 0018) that continues the caller's trace
//! when the request has a W3C `traceparent` header.

use std::task::{Context, Poll};

use diego_proto::convert::TRACE_ID_METADATA;
use tonic::body::Body;
use tonic::codegen::{http, BoxFuture, Service};
use tonic::server::NamedService;
use tracing::Instrument;

/// Longer ids are cut: the id is stored with every event of the call.
const MAX_TRACE_ID_BYTES: usize = 256;

/// Wraps a service and scopes each call with its trace id.
#[derive(Clone)]
pub(crate) struct Traced<S>(pub S);

impl<S: NamedService> NamedService for Traced<S> {
    const NAME: &'static str = S::NAME;
}

/// The trace id a request carries, or empty.
fn trace_id(req: &http::Request<Body>) -> String {
    let id = req
        .headers()
        .get(TRACE_ID_METADATA)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // header values are visible ascii, so any byte index is a char boundary
    id[..id.len().min(MAX_TRACE_ID_BYTES)].to_string()
}

fn call_span(req: &http::Request<Body>, trace_id: &str) -> tracing::Span {
    let span = tracing::info_span!("bbs grpc", rpc = %req.uri().path(), request_id = %trace_id);
    diego_proto::trace_context::continue_trace(&span, req.headers());
    span
}

impl<S> Service<http::Request<Body>> for Traced<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let id = trace_id(&req);
        let span = call_span(&req, &id);
        let fut = self.0.call(req);
        Box::pin(crate::trace::with_trace_id(id, fut).instrument(span))
    }
}
