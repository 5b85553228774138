//! The diego `Store` on TiKV, behind the cargo feature `tikv` (off by
//! default: tikv-client brings its own, older gRPC stack, so without the
//! feature this crate is only the key layout and its tests).
//!
//! The layout follows the etcd backend (ADR 0005): TiKV's commit timestamps
//! are not a step-by-one revision, so we keep our own counter at
//! `<prefix>/meta/rev`. Every commit is one optimistic TiKV transaction that
//! reads the counter and the checked keys at its start timestamp, evaluates
//! the checks, then writes the records (each value carrying our mod
//! revision), the counter + 1 and the change-log entry at
//! `<prefix>/log/<rev>`. Because every commit writes the counter, TiKV's
//! write-conflict check at prewrite makes all but one of two concurrent
//! commits fail; the loser re-reads and retries, so the checks it evaluated
//! are always still true when it commits. TiKV has no watch, so
//! `subscribe` is fed by polling the counter (ADR 0012).

#[cfg_attr(not(feature = "tikv"), allow(dead_code))]
mod layout;

#[cfg(feature = "tikv")]
mod commit;
#[cfg(feature = "tikv")]
mod poll;
#[cfg(feature = "tikv")]
mod read;
#[cfg(feature = "tikv")]
mod retry;
#[cfg(feature = "tikv")]
mod store;

#[cfg(feature = "tikv")]
pub use store::{TikvOptions, TikvStore};

/// Whether this build carries the TiKV backend (the `tikv` feature).
pub const ENABLED: bool = cfg!(feature = "tikv");
