//! Blobs on disk: `<data_dir>/sha256/<hex>`, written to a temporary file and renamed, so a
//! reader never sees half a blob and a crash leaves at most a stray temporary file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use crate::FileServerError;

/// A blob's name: its sha256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Self {
        Digest(Sha256::digest(bytes).into())
    }

    /// Parses `sha256:<hex>` (or the bare hex).
    pub fn parse(s: &str) -> Result<Self, FileServerError> {
        let hex_part = s.strip_prefix("sha256:").unwrap_or(s);
        let mut out = [0u8; 32];
        if hex_part.len() != 64 || hex::decode_to_slice(hex_part, &mut out).is_err() {
            return Err(FileServerError::BadDigest(s.to_string()));
        }
        Ok(Digest(out))
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

pub struct BlobStore {
    dir: PathBuf,
    max_blob_bytes: u64,
    next_tmp: AtomicU64,
}

/// An upload in progress: hashed as it is written.
pub struct Incoming<'a> {
    store: &'a BlobStore,
    tmp: PathBuf,
    file: tokio::fs::File,
    hasher: Sha256,
    size: u64,
}

impl BlobStore {
    pub fn open(data_dir: &Path, max_blob_bytes: u64) -> Result<Self, FileServerError> {
        let dir = data_dir.join("sha256");
        std::fs::create_dir_all(&dir)
            .map_err(FileServerError::io(format!("create {}", dir.display())))?;
        Ok(Self {
            dir,
            max_blob_bytes,
            next_tmp: AtomicU64::new(0),
        })
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    pub async fn read(&self, digest: &Digest) -> Result<Vec<u8>, FileServerError> {
        match tokio::fs::read(self.path(digest)).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(FileServerError::NotFound(digest.to_string()))
            }
            Err(e) => Err(FileServerError::io(format!("read {digest}"))(e)),
        }
    }

    pub async fn begin(&self) -> Result<Incoming<'_>, FileServerError> {
        let n = self.next_tmp.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!(".incoming-{}-{n}", std::process::id()));
        let file = tokio::fs::File::create(&tmp)
            .await
            .map_err(FileServerError::io(format!("create {}", tmp.display())))?;
        Ok(Incoming {
            store: self,
            tmp,
            file,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Stores `bytes` whole; returns the digest and whether it was new.
    pub async fn put(&self, bytes: &[u8]) -> Result<(Digest, bool), FileServerError> {
        let mut incoming = self.begin().await?;
        incoming.write(bytes).await?;
        incoming.finish(None).await
    }
}

impl Incoming<'_> {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), FileServerError> {
        self.size += chunk.len() as u64;
        if self.size > self.store.max_blob_bytes {
            return Err(FileServerError::TooLarge {
                max_bytes: self.store.max_blob_bytes,
            });
        }
        self.hasher.update(chunk);
        self.file
            .write_all(chunk)
            .await
            .map_err(FileServerError::io("write blob"))
    }

    /// Publishes the blob under its digest, after checking it against `expected` if given.
    /// Returns the digest and whether the blob was new.
    pub async fn finish(
        mut self,
        expected: Option<Digest>,
    ) -> Result<(Digest, bool), FileServerError> {
        let digest = Digest(std::mem::take(&mut self.hasher).finalize().into());
        if let Some(expected) = expected.filter(|e| *e != digest) {
            return Err(FileServerError::ChecksumMismatch {
                expected: expected.to_string(),
                actual: digest.to_string(),
            });
        }
        self.file
            .sync_all()
            .await
            .map_err(FileServerError::io("sync blob"))?;
        let target = self.store.path(&digest);
        if target.is_file() {
            return Ok((digest, false));
        }
        tokio::fs::rename(&self.tmp, &target)
            .await
            .map_err(FileServerError::io(format!("publish {digest}")))?;
        Ok((digest, true))
    }
}

impl Drop for Incoming<'_> {
    fn drop(&mut self) {
        // Published blobs were renamed away; anything left is an abandoned upload.
        let _ = std::fs::remove_file(&self.tmp);
    }
}
