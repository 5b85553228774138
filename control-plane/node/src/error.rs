#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("store: {0}")]
    Store(#[from] diego_store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot reach the bbs: {0}")]
    Bbs(#[from] diego_model::ModelError),
    #[error("cell backend: {0}")]
    Backend(String),
    #[error("coordination: {0}")]
    Coordination(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}
