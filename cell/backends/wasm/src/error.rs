//! The crate's one error type.

use diego_executor::ExecutorError;

#[derive(Debug, thiserror::Error)]
pub enum WasmBackendError {
    #[error("container {0} not found")]
    NotFound(String),
    #[error("rootfs {0:?} is not a wasm rootfs (expected wasm:)")]
    UnsupportedRootfs(String),
    #[error("container {0} already exists")]
    AlreadyExists(String),
    /// A path from a Download or Run action that leaves the instance directory.
    #[error("path {0:?} leaves the instance directory")]
    PathEscapes(String),
    #[error("component {path}: {reason}")]
    InvalidComponent { path: String, reason: String },
    #[error("no free host port in {0}..={1}")]
    NoFreePort(u32, u32),
    #[error("file too large: {path} exceeds {max_bytes} bytes")]
    FileTooLarge { path: String, max_bytes: u64 },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("wasm engine: {0}")]
    Engine(String),
}

impl WasmBackendError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| WasmBackendError::Io { context, source }
    }
}

impl From<WasmBackendError> for ExecutorError {
    fn from(e: WasmBackendError) -> Self {
        match e {
            WasmBackendError::NotFound(guid) => ExecutorError::NotFound(guid),
            WasmBackendError::AlreadyExists(guid) => ExecutorError::AlreadyExists(guid),
            WasmBackendError::FileTooLarge { path, max_bytes } => {
                ExecutorError::FileTooLarge { path, max_bytes }
            }
            other => ExecutorError::backend(other.to_string()),
        }
    }
}

pub(crate) type Result<T> = std::result::Result<T, WasmBackendError>;
