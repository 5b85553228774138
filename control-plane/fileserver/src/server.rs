//! The HTTP side: routes to the blob store, one hyper connection task per client.

use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::{BlobStore, Digest, FileServerError};

/// A blob store behind HTTP.
#[derive(Clone)]
pub struct FileServer {
    store: Arc<BlobStore>,
}

/// Past this an upload is refused (413): app bits and droplets, not disk images.
pub const DEFAULT_MAX_BLOB_BYTES: u64 = 1 << 30;

impl FileServer {
    pub fn open(data_dir: &Path) -> Result<Self, FileServerError> {
        Self::with_max_blob_bytes(data_dir, DEFAULT_MAX_BLOB_BYTES)
    }

    pub fn with_max_blob_bytes(
        data_dir: &Path,
        max_blob_bytes: u64,
    ) -> Result<Self, FileServerError> {
        Ok(Self {
            store: Arc::new(BlobStore::open(data_dir, max_blob_bytes)?),
        })
    }

    pub fn store(&self) -> &BlobStore {
        &self.store
    }
}

/// Serves until `shutdown` resolves; open connections are then closed gracefully.
pub async fn serve(
    server: FileServer,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), FileServerError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted.map_err(FileServerError::io("accept"))?,
            _ = &mut shutdown => break,
        };
        let store = server.store.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(store.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                res = conn.as_mut() => if let Err(e) = res {
                    tracing::debug!(error = %e, "file server connection ended");
                },
                _ = stop.changed() => conn.as_mut().graceful_shutdown(),
            }
        });
    }
    let _ = stop_tx.send(true);
    Ok(())
}

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

fn error_response(e: &FileServerError) -> Response<Full<Bytes>> {
    let status = match e {
        FileServerError::BadDigest(_) | FileServerError::ChecksumMismatch { .. } => {
            StatusCode::BAD_REQUEST
        }
        FileServerError::NotFound(_) => StatusCode::NOT_FOUND,
        FileServerError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        FileServerError::Http(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    respond(status, format!("{e}\n"))
}

async fn handle(
    store: Arc<BlobStore>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let response = match (method.clone(), path.as_str()) {
        (Method::POST | Method::PUT, "/blobs" | "/blobs/") => receive(&store, req, None).await,
        (Method::PUT, p) if p.starts_with("/blobs/") => match Digest::parse(&p[7..]) {
            Ok(expected) => receive(&store, req, Some(expected)).await,
            Err(e) => Err(e),
        },
        (Method::GET | Method::HEAD, p) if p.starts_with("/blobs/") => {
            let if_none_match = req
                .headers()
                .get(hyper::header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            send(&store, &p[7..], method == Method::HEAD, if_none_match).await
        }
        (_, p) if p.starts_with("/blobs") => Ok(respond(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {method} not allowed on {p}\n"),
        )),
        (_, p) => Ok(respond(
            StatusCode::NOT_FOUND,
            format!("no route {p}: blobs are at /blobs/sha256:<hex>\n"),
        )),
    };
    let response = response.unwrap_or_else(|e| {
        tracing::debug!(error = %e, %method, path, "file server request refused");
        error_response(&e)
    });
    Ok(response)
}

async fn receive(
    store: &BlobStore,
    req: Request<Incoming>,
    expected: Option<Digest>,
) -> Result<Response<Full<Bytes>>, FileServerError> {
    let mut body = req.into_body();
    let mut incoming = store.begin().await?;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| FileServerError::Http(format!("read body: {e}")))?;
        if let Some(chunk) = frame.data_ref() {
            incoming.write(chunk).await?;
        }
    }
    let size = incoming.size();
    let (digest, new) = incoming.finish(expected).await?;
    tracing::debug!(%digest, size, new, "blob stored");
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = respond(
        status,
        format!("{{\"digest\":\"{digest}\",\"size\":{size}}}\n"),
    );
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// A blob never changes under its name, so a cell revalidating a cached
/// copy (`If-None-Match` with the ETag it was given) gets a 304 and no body.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

async fn send(
    store: &BlobStore,
    name: &str,
    head: bool,
    if_none_match: Option<String>,
) -> Result<Response<Full<Bytes>>, FileServerError> {
    let digest = Digest::parse(name)?;
    let value = |s: String| {
        hyper::header::HeaderValue::from_str(&s).expect("hex and digits are valid header values")
    };
    let etag = format!("\"{digest}\"");
    if if_none_match.is_some_and(|v| etag_matches(&v, &etag)) && store.contains(&digest) {
        let mut response = respond(StatusCode::NOT_MODIFIED, Vec::new());
        response.headers_mut().insert("etag", value(etag));
        return Ok(response);
    }
    let bytes = store.read(&digest).await?;
    let size = bytes.len();
    let mut response = respond(StatusCode::OK, if head { Vec::new() } else { bytes });
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert("x-checksum-sha256", value(digest.hex()));
    headers.insert("etag", value(etag));
    if head {
        headers.insert("content-length", value(size.to_string()));
    }
    Ok(response)
}

/// A file server running on its own task (what `diego up` starts).
pub struct Running {
    pub addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), FileServerError>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Opens the blob store under `data_dir`, binds `listen` and serves in the background.
pub async fn spawn(
    listen: std::net::SocketAddr,
    data_dir: &Path,
) -> Result<Running, FileServerError> {
    let server = FileServer::open(data_dir)?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(FileServerError::io(format!("bind {listen}")))?;
    let addr = listener
        .local_addr()
        .map_err(FileServerError::io("local address"))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(server, listener, async {
        let _ = stopped.await;
    }));
    Ok(Running { addr, stop, task })
}
