//! A small client for the file server (plain `http://` only, as the server), for `diego push`
//! and tests: one connection per request, which is plenty for uploading an app.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

use crate::{Digest, FileServerError};

/// `<base>/blobs/sha256:<hex>`: what a Download action fetches.
pub fn blob_url(base_url: &str, digest: &Digest) -> String {
    format!("{}/blobs/{digest}", base_url.trim_end_matches('/'))
}

/// `<base>/blobs`: where an Upload action posts.
pub fn upload_url(base_url: &str) -> String {
    format!("{}/blobs", base_url.trim_end_matches('/'))
}

fn authority(base_url: &str) -> Result<String, FileServerError> {
    let rest = base_url.strip_prefix("http://").ok_or_else(|| {
        FileServerError::Http(format!(
            "file server url {base_url:?} must start with http://"
        ))
    })?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(FileServerError::Http(format!(
            "file server url {base_url:?} has no host"
        )));
    }
    Ok(authority.to_string())
}

async fn request(
    base_url: &str,
    method: Method,
    path: &str,
    body: Bytes,
) -> Result<(StatusCode, Bytes), FileServerError> {
    let authority = authority(base_url)?;
    let http = |e: hyper::Error| FileServerError::Http(format!("{authority}: {e}"));
    let stream = tokio::net::TcpStream::connect(&authority)
        .await
        .map_err(FileServerError::io(format!("connect {authority}")))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", &authority)
        .body(Full::new(body))
        .map_err(|e| FileServerError::Http(e.to_string()))?;
    let response = sender.send_request(req).await.map_err(http)?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(http)?;
    Ok((status, body.to_bytes()))
}

fn check(status: StatusCode, body: &Bytes) -> Result<(), FileServerError> {
    if status.is_success() {
        return Ok(());
    }
    Err(FileServerError::Status {
        status: status.as_u16(),
        body: String::from_utf8_lossy(body).trim().to_string(),
    })
}

/// Uploads `bytes`; returns their digest (computed here and checked by the server).
pub async fn upload(base_url: &str, bytes: Vec<u8>) -> Result<Digest, FileServerError> {
    let digest = Digest::of(&bytes);
    let path = format!("/blobs/{digest}");
    let (status, body) = request(base_url, Method::PUT, &path, Bytes::from(bytes)).await?;
    check(status, &body)?;
    Ok(digest)
}

/// Fetches a blob and verifies it against its name.
pub async fn download(base_url: &str, digest: &Digest) -> Result<Vec<u8>, FileServerError> {
    let path = format!("/blobs/{digest}");
    let (status, body) = request(base_url, Method::GET, &path, Bytes::new()).await?;
    if status == StatusCode::NOT_FOUND {
        return Err(FileServerError::NotFound(digest.to_string()));
    }
    check(status, &body)?;
    let actual = Digest::of(&body);
    if actual != *digest {
        return Err(FileServerError::ChecksumMismatch {
            expected: digest.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(body.to_vec())
}

/// Whether the server holds the blob.
pub async fn exists(base_url: &str, digest: &Digest) -> Result<bool, FileServerError> {
    let path = format!("/blobs/{digest}");
    let (status, body) = request(base_url, Method::HEAD, &path, Bytes::new()).await?;
    if status == StatusCode::NOT_FOUND {
        return Ok(false);
    }
    check(status, &body)?;
    Ok(true)
}
