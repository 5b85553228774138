//! The crate's one error type.

#[derive(Debug, thiserror::Error)]
pub enum FileServerError {
    #[error("malformed digest {0:?}: expected sha256:<64 hex digits>")]
    BadDigest(String),
    #[error("blob {0} not found")]
    NotFound(String),
    #[error("checksum mismatch: the body hashes to {actual}, not {expected}")]
    ChecksumMismatch { expected: String, actual: String },
    #[error("blob too large: more than {max_bytes} bytes")]
    TooLarge { max_bytes: u64 },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("http: {0}")]
    Http(String),
    /// The server answered with an error status.
    #[error("file server answered {status}: {body}")]
    Status { status: u16, body: String },
}

impl FileServerError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| FileServerError::Io { what, source }
    }
}
