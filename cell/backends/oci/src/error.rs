//! The one error enum of the oci backend.

use diego_executor::ExecutorError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum OciError {
    #[error("{cmd} failed: {stderr}")]
    Command { cmd: String, stderr: String },
    #[error("io: {context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("cni {plugin} {command}: {message}")]
    Cni {
        plugin: String,
        command: String,
        message: String,
    },
    /// Go's words, as Garden reports a Run of a missing binary.
    #[error("exec: \"{0}\": executable file not found in $PATH")]
    ExecutableNotFound(String),
    #[error("unknown user {0}")]
    UnknownUser(String),
    #[error("unsupported rootfs {0}: only preloaded:busybox")]
    UnsupportedRootfs(String),
    #[error("path escapes the container: {0}")]
    UnsafePath(String),
    #[error("no free host port in {0}")]
    NoFreePort(String),
    #[error("unknown oci runtime {0:?}: runc or crun")]
    UnknownRuntime(String),
    #[error("oci runtime {runtime} cannot run here: {reason}")]
    RuntimeUnusable { runtime: String, reason: String },
    #[error("container not found: {0}")]
    NotFound(String),
    #[error("file too large: {path} exceeds {max_bytes} bytes")]
    FileTooLarge { path: String, max_bytes: u64 },
    #[error("cannot apply egress rules: {0}")]
    Egress(String),
}

impl OciError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> OciError {
        let context = context.into();
        move |source| OciError::Io { context, source }
    }
}

impl From<OciError> for ExecutorError {
    fn from(e: OciError) -> Self {
        match e {
            OciError::NotFound(guid) => ExecutorError::NotFound(guid),
            OciError::FileTooLarge { path, max_bytes } => {
                ExecutorError::FileTooLarge { path, max_bytes }
            }
            other => ExecutorError::Backend(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, OciError>;
