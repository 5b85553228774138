//! Requests whose body does not decode. tonic answers them with `Internal`
//! (the gRPC convention), but the original answers a body that does not
//! parse with InvalidRequest "the request received is invalid" (spec §2.1),
//! and a client must be able to tell its own bad bytes from a server fault.

use std::convert::Infallible;
use std::task::{Context, Poll};

use diego_model::{ErrorCode, ModelError};
use diego_proto::status::to_status;
use tonic::body::Body;
use tonic::codegen::{http, BoxFuture, Service};
use tonic::server::NamedService;
use tonic::{Code, Status};

/// How tonic's message for a body prost cannot decode starts.
const DECODE_FAILURE: &str = "failed to decode Protobuf message";

/// Wraps a generated server and rewrites its decode failures.
#[derive(Clone)]
pub(crate) struct InvalidBodies<S>(pub S);

impl<S: NamedService> NamedService for InvalidBodies<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for InvalidBodies<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let fut = self.0.call(req);
        Box::pin(async move {
            let mut resp = fut.await?;
            // A request that fails to decode never reaches a handler, so
            // its status is in the headers of a trailers-only response.
            if let Some(s) = Status::from_header_map(resp.headers()) {
                if s.code() == Code::Internal && s.message().starts_with(DECODE_FAILURE) {
                    let e = ModelError::new(
                        ErrorCode::InvalidRequest,
                        format!("the request received is invalid: {}", s.message()),
                    );
                    if let Err(e) = to_status(&e).add_header(resp.headers_mut()) {
                        tracing::warn!(error = %e, "cannot rewrite a decode failure");
                    }
                }
            }
            Ok(resp)
        })
    }
}
