//! One request: route lookup, body read with a limit, the trace span, and
//! the response shapes the Go client expects.

use std::convert::Infallible;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tracing::Instrument;

use crate::api::BbsApi;
use crate::routes::{route, Route};
use crate::{handlers, sse, MAX_BODY_BYTES};

pub(crate) type Body = BoxBody<Bytes, Infallible>;

pub(crate) const PROTOBUF: &str = "application/x-protobuf";
const REQUEST_ID: &str = "x-vcap-request-id";

pub(crate) async fn handle(
    bbs: Arc<dyn BbsApi>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let Some(r) = route(req.method().as_str(), req.uri().path()) else {
        return Ok(not_found());
    };
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let span = tracing::info_span!("bbs_gateway", route = r.name, request_id = %request_id);
    diego_proto::trace_context::continue_trace(&span, req.headers());
    // The BBS records the request id on the events this call causes, as
    // the original copies it into their trace_id.
    let bbs = if request_id.is_empty() {
        bbs
    } else {
        bbs.traced(&request_id)
    };
    async move {
        // An unreadable or oversized body is treated as one that does not
        // parse: nothing past decoding runs, so nothing is stored.
        let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
        {
            Ok(b) => Some(b.to_bytes()),
            Err(e) => {
                tracing::info!(error = %e, "request body refused");
                None
            }
        };
        Ok(dispatch(bbs, r, body).await)
    }
    .instrument(span)
    .await
}

async fn dispatch(bbs: Arc<dyn BbsApi>, r: &'static Route, body: Option<Bytes>) -> Response<Body> {
    if let Some(stream) = r.stream {
        return sse::respond(bbs.as_ref(), stream, body).await;
    }
    protobuf(handlers::call(bbs.as_ref(), r.name, body).await)
}

/// The original's `writeResponse`: status 200, protobuf, Content-Length.
pub(crate) fn protobuf(bytes: Vec<u8>) -> Response<Body> {
    let len = bytes.len();
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", PROTOBUF)
        .header("content-length", len)
        .body(Full::new(Bytes::from(bytes)).boxed())
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR))
}

/// The router's default for unknown paths and methods: not protobuf, so the
/// Go client reports `EndpointNotFoundErr` and falls back to r0 routes.
pub(crate) fn not_found() -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")).boxed());
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

pub(crate) fn plain(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::new()).boxed());
    *resp.status_mut() = status;
    resp
}
