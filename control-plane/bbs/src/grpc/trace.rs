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

/// `/diego.bbs.v1.Bbs/DesireTask` -> `DesireTask`.
fn rpc_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

/// A failed unary call answers with its status in the response head
/// (trailers-only); a successful one carries it in trailers, which are not
/// read here: no status in the head means ok.
fn status_code(res: &http::Response<Body>) -> &str {
    res.headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("0")
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
        let rpc = rpc_name(req.uri().path());
        let started = std::time::Instant::now();
        let fut = self.0.call(req);
        Box::pin(
            async move {
                let res = crate::trace::with_trace_id(id, fut).await;
                let code = match &res {
                    Ok(r) => status_code(r),
                    Err(_) => "transport",
                };
                let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
                crate::metrics::requests().record(rpc, code, elapsed_ms);
                res
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_named_by_its_method_and_coded_by_its_response_head() {
        assert_eq!(rpc_name("/diego.bbs.v1.Bbs/DesireTask"), "DesireTask");
        let ok = http::Response::new(Body::empty());
        assert_eq!(status_code(&ok), "0", "no status in the head: ok");
        let not_found = http::Response::builder()
            .header("grpc-status", "5")
            .body(Body::empty())
            .unwrap();
        assert_eq!(status_code(&not_found), "5");
    }
}
