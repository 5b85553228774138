//! The event streams as Server-Sent Events: `id:` (a per-connection counter
//! from 0), `event:` (the original's name), `data:` (base64 of the protobuf
//! event). Streams start from now, with no replay, as the original's do.
//! Each is fed by one gRPC watch on the BBS; when the watch breaks (the BBS
//! went away, a failover) the response ends cleanly and the Go client
//! reconnects, getting a fresh watch.

use std::convert::Infallible;

use base64::Engine;
use bytes::Bytes;
use diego_proto::compat::{sse_event, Stream, Version};
use diego_proto::models as w;
use futures::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::{Response, StatusCode};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::api::BbsApi;
use crate::http::{plain, Body};

/// One SSE record, as go-sse's `Event.Write` frames it.
pub fn frame(id: u64, name: &str, data: &[u8]) -> Bytes {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    Bytes::from(format!("id: {id}\nevent: {name}\ndata: {b64}\n\n"))
}

pub(crate) async fn respond(
    bbs: &dyn BbsApi,
    (stream, version): (Stream, Version),
    body: Option<Bytes>,
) -> Response<Body> {
    // The task stream ignores its body; the LRP streams answer a body that
    // does not parse with a 500, as the original does.
    let cell_id = match stream {
        Stream::Tasks => String::new(),
        _ => match body.as_deref().map(w::EventsByCellId::decode) {
            Some(Ok(w::EventsByCellId { cell_id })) => cell_id,
            _ => return plain(StatusCode::INTERNAL_SERVER_ERROR),
        },
    };
    let kinds = match stream {
        Stream::Tasks => vec!["task".to_string()],
        _ => vec!["desired_lrp".to_string(), "actual_lrp".to_string()],
    };
    let mut events = match bbs.watch(kinds).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e.message, "event subscription failed");
            return plain(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(64);
    tokio::spawn(async move {
        let mut id = 0u64;
        loop {
            let item = tokio::select! {
                item = events.next() => item,
                _ = tx.closed() => return,
            };
            let item = match item {
                Some(Ok(item)) => item,
                Some(Err(e)) => {
                    // Ending the response makes the Go client reconnect.
                    tracing::warn!(error = %e.message, "bbs watch broke; ending the event stream");
                    return;
                }
                None => return,
            };
            // The original's trace_id: the request id of the call that
            // caused the event, which the BBS keeps in its change log.
            let Some(ev) = sse_event(&item.event, stream, version, &cell_id, &item.trace_id) else {
                continue;
            };
            if tx
                .send(Ok(Frame::data(frame(id, ev.name, &ev.data))))
                .await
                .is_err()
            {
                return;
            }
            id += 1;
        }
    });
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(ReceiverStream::new(rx))));
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        hyper::header::HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(
        "cache-control",
        hyper::header::HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(
        "connection",
        hyper::header::HeaderValue::from_static("keep-alive"),
    );
    resp
}
