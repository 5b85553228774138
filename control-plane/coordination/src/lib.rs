//! Coordination: locks with fencing tokens and presences with a TTL, like
//! Locket (spec §9). This is the in-process implementation used when every
//! role runs in one process; the traits are what an etcd implementation
//! fills (leases for presences, elections for locks).

mod lock;
mod presence;

pub use lock::{FencingToken, LockError, LockTable};
pub use presence::PresenceTable;
