//! The one error enum of the executor crate; backends report through it too.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ExecutorError {
    #[error("container not found: {0}")]
    NotFound(String),
    #[error("container already exists: {0}")]
    AlreadyExists(String),
    #[error("insufficient resources: {0}")]
    InsufficientResources(String),
    #[error("invalid state transition for {guid}: {from} -> {to}")]
    InvalidTransition {
        guid: String,
        from: String,
        to: String,
    },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("backend: {0}")]
    Backend(String),
    #[error("file too large: {path} exceeds {max_bytes} bytes")]
    FileTooLarge { path: String, max_bytes: u64 },
    #[error("download cache {path}: {reason}")]
    DownloadCache { path: String, reason: String },
}

impl ExecutorError {
    pub fn backend(msg: impl std::fmt::Display) -> Self {
        ExecutorError::Backend(msg.to_string())
    }
}

impl From<std::io::Error> for ExecutorError {
    fn from(e: std::io::Error) -> Self {
        ExecutorError::Backend(e.to_string())
    }
}
