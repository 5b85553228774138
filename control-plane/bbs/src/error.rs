use diego_model::{ErrorCode, ModelError};
use diego_store::StoreError;

/// Errors of the BBS: a domain error the client caused, or a store failure.
#[derive(Debug, thiserror::Error)]
pub enum BbsError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("record {key} is unreadable: {reason}")]
    Codec { key: String, reason: String },
}

impl BbsError {
    /// The API-level error a client sees.
    pub fn to_model(&self) -> ModelError {
        match self {
            BbsError::Model(e) => e.clone(),
            BbsError::Store(StoreError::Compacted { .. }) => ModelError::new(
                ErrorCode::InvalidRequest,
                format!("{self}; re-list and watch from the current revision"),
            ),
            // not acknowledged: the client retries against the active bbs
            BbsError::Store(StoreError::Fenced(reason)) => ModelError::new(
                ErrorCode::UnknownError,
                format!("this bbs is no longer the active one ({reason}); retry"),
            ),
            BbsError::Store(e) => ModelError::new(ErrorCode::UnknownError, format!("store: {e}")),
            BbsError::Codec { .. } => ModelError::new(ErrorCode::InvalidRecord, self.to_string()),
        }
    }

    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            BbsError::Model(e) => Some(e.code),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, BbsError>;
