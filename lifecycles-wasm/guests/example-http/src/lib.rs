//! The example WASM app pushed by `diego push examples/apps/wasm-http` (after copying this
//! component there): a `wasi:http/proxy` component that answers every request with 200 and a
//! short page naming the path it was asked for.

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        let page = format!("<h1>hello from a wasm http app</h1><p>you asked for {path}</p>\n");
        let headers = Fields::from_list(&[(
            "content-type".to_string(),
            b"text/html; charset=utf-8".to_vec(),
        )])
        .expect("a valid header");
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("the body is taken once");
        ResponseOutparam::set(response_out, Ok(response));
        let stream = body.write().expect("the stream is taken once");
        // A failed write means the client went away; nothing is left to tell it.
        let _ = stream.blocking_write_and_flush(page.as_bytes());
        drop(stream);
        let _ = OutgoingBody::finish(body, None);
    }
}

wasip2::http::proxy::export!(Hello);
