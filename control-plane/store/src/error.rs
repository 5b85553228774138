/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A transaction check failed; nothing was written.
    #[error("precondition failed on key {key}")]
    Conflict { key: String },
    /// The asked revision was compacted away; re-list and watch from the new revision.
    #[error("revision {asked} is compacted (oldest kept is {oldest})")]
    Compacted { asked: u64, oldest: u64 },
    /// The stored bytes could not be opened (bad envelope, unknown key id, auth tag mismatch).
    #[error("cannot open record {key}: {reason}")]
    Envelope { key: String, reason: String },
    /// This writer's lock was taken over (its fencing token is stale); the
    /// write was refused and nothing changed.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The backend failed (io, engine error, unreachable server).
    #[error("store backend: {0}")]
    Backend(String),
}
