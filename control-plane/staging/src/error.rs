//! The crate's one error type.

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The app directory cannot be read or packed.
    #[error("app {path}: {reason}")]
    App { path: String, reason: String },
    /// The builder refused the app; its own message.
    #[error("staging failed: {0}")]
    Staging(String),
    /// The staging Task failed before the builder could say anything.
    #[error("staging task failed: {0}")]
    StagingTask(String),
    /// The staging result is not what the builder writes.
    #[error("malformed staging result: {0}")]
    BadResult(String),
    /// The launcher refused the staging result; its own message.
    #[error("launch failed: {0}")]
    Launch(String),
    #[error("lifecycle {what}: {reason}")]
    Lifecycle { what: String, reason: String },
    #[error("file server: {0}")]
    FileServer(#[from] diego_fileserver::FileServerError),
    #[error("bbs: {0}")]
    Bbs(String),
    #[error("timed out after {ms} ms waiting for {what}")]
    Timeout { what: String, ms: u64 },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl From<diego_model::ModelError> for PushError {
    fn from(e: diego_model::ModelError) -> Self {
        PushError::Bbs(e.to_string())
    }
}
