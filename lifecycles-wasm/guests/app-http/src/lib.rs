//! A `wasi:http/incoming-handler` app: `GET /` answers 200 `hello from wasm` and logs the
//! request on stdout; `/env/NAME` answers the value of the environment variable NAME (404 when
//! unset); `/hog` allocates until refused (the request fails, the app keeps serving).

use std::io::Write as _;

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasip2::http::proxy::export!(App);

struct App;

fn respond(out: ResponseOutparam, status: u16, body: &str) {
    let response = OutgoingResponse::new(Fields::new());
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(mut stream) = outgoing.write() {
        let _ = stream.write_all(body.as_bytes());
        let _ = stream.flush();
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

impl wasip2::exports::http::incoming_handler::Guest for App {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        println!("request {path}");
        if let Some(name) = path.strip_prefix("/env/") {
            return match std::env::var(name) {
                Ok(value) => respond(out, 200, &value),
                Err(_) => respond(out, 404, "unset"),
            };
        }
        if path == "/hog" {
            let mut chunks: Vec<Vec<u8>> = Vec::new();
            loop {
                chunks.push(vec![1u8; 1 << 20]);
            }
        }
        respond(out, 200, "hello from wasm\n");
    }
}
