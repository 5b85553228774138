//! The conditional GET and streaming the body to a temp file while hashing it.

use std::path::{Path, PathBuf};

use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;
use sha2::digest::DynDigest;
use sha2::Digest;
use tokio::io::AsyncWriteExt;

use super::store;

/// What the server answered.
pub(crate) enum Answer {
    NotModified,
    /// A 200 whose body is in `temp` (the caller commits or removes it).
    Body(Body),
}

pub(crate) struct Body {
    pub temp: TempFile,
    pub size: u64,
    pub etag: String,
    pub last_modified: String,
    pub sha256: String,
}

/// A temp file removed on drop unless it was taken (renamed into the cache).
pub(crate) struct TempFile(Option<PathBuf>);

impl TempFile {
    pub fn path(&self) -> &Path {
        self.0.as_deref().expect("temp file not taken yet")
    }
    /// The caller now owns the file (it renamed it, or removes it itself).
    pub fn take(mut self) -> PathBuf {
        self.0.take().expect("temp file not taken yet")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            store::remove_quietly(&path);
        }
    }
}

/// The validators of the entry being revalidated.
#[derive(Default)]
pub(crate) struct Validators<'a> {
    pub etag: &'a str,
    pub last_modified: &'a str,
}

/// GET `url`, conditional on `validators`; a 200 body streams into a temp
/// file in `dir` and must match `checksum` (algorithm, hex) when one is given.
/// Errors are the text after Diego's `failed to download <url>: `.
pub(crate) async fn get(
    http: &reqwest::Client,
    url: &str,
    validators: Validators<'_>,
    checksum: (&str, &str),
    dir: &Path,
) -> Result<Answer, String> {
    let mut requested = requested_digest(checksum.0)?;
    let mut request = http.get(url);
    if !validators.etag.is_empty() {
        request = request.header(IF_NONE_MATCH, validators.etag);
    }
    if !validators.last_modified.is_empty() {
        request = request.header(IF_MODIFIED_SINCE, validators.last_modified);
    }
    let mut response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let conditional = !validators.etag.is_empty() || !validators.last_modified.is_empty();
    if status == StatusCode::NOT_MODIFIED && conditional {
        return Ok(Answer::NotModified);
    }
    if !status.is_success() {
        return Err(format!("status {status}"));
    }
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
    let temp = TempFile(Some(store::temp_path(dir, "data")));
    let mut file = tokio::fs::File::create(temp.path())
        .await
        .map_err(|e| format!("download cache: {e}"))?;
    let mut sha256 = sha2::Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        Digest::update(&mut sha256, &chunk);
        if let Some(d) = requested.as_mut() {
            d.update(&chunk);
        }
        size += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("download cache: {e}"))?;
    }
    // durable before the rename that commits it
    file.sync_all()
        .await
        .map_err(|e| format!("download cache: {e}"))?;
    drop(file);
    if let Some(d) = requested {
        let actual = hex::encode(d.finalize());
        check(checksum, &actual)?;
    }
    Ok(Answer::Body(Body {
        temp,
        size,
        etag,
        last_modified,
        sha256: hex::encode(Digest::finalize(sha256)),
    }))
}

fn requested_digest(algorithm: &str) -> Result<Option<Box<dyn DynDigest + Send>>, String> {
    Ok(match algorithm.to_ascii_lowercase().as_str() {
        "" => None,
        "md5" => Some(Box::new(md5::Md5::new())),
        "sha1" => Some(Box::new(sha1::Sha1::new())),
        "sha256" => Some(Box::new(sha2::Sha256::new())),
        other => return Err(format!("unsupported checksum algorithm: {other}")),
    })
}

/// Same message as `archive::verify_checksum`.
pub(crate) fn check((algorithm, expected_hex): (&str, &str), actual: &str) -> Result<(), String> {
    if actual.eq_ignore_ascii_case(expected_hex.trim()) {
        Ok(())
    } else {
        Err(format!(
            "checksum mismatch: expected {algorithm} {expected_hex}, got {actual}"
        ))
    }
}
