//! Coordination: locks with fencing tokens and presences with a TTL, like
//! Locket (spec §9). This is the in-process implementation used when every
//! role runs in one process; the traits are what an etcd implementation
//! fills (leases for presences, elections for locks).

mod lock;
mod presence;

use std::time::Duration;

use diego_model::CellPresence;

pub use lock::{FencingToken, LockError, LockTable};
pub use presence::PresenceTable;

/// Locks with fencing tokens. The in-process `LockTable` fills it; an etcd
/// implementation fills it with leases and elections (the token being the
/// lease key's create revision), so a deposed holder's writes can be refused.
pub trait Locks: Send + Sync {
    /// Acquires or refreshes `key` for `owner`; a new holder gets a larger token.
    fn lock(&self, key: &str, owner: &str, ttl: Duration) -> Result<FencingToken, LockError>;
    fn release(&self, key: &str, owner: &str) -> Result<(), LockError>;
    /// Whether `token` is still the live token of `key`.
    fn is_current(&self, key: &str, token: FencingToken) -> bool;
}

/// Presences with a TTL (cells). The in-process `PresenceTable` fills it; an
/// etcd implementation uses leased keys, so a dead cell's presence expires.
pub trait Presences: Send + Sync {
    fn report(&self, presence: CellPresence, ttl: Duration);
    fn release(&self, cell_id: &str);
    fn live(&self) -> Vec<CellPresence>;
}

impl Locks for LockTable {
    fn lock(&self, key: &str, owner: &str, ttl: Duration) -> Result<FencingToken, LockError> {
        LockTable::lock(self, key, owner, ttl)
    }
    fn release(&self, key: &str, owner: &str) -> Result<(), LockError> {
        LockTable::release(self, key, owner)
    }
    fn is_current(&self, key: &str, token: FencingToken) -> bool {
        LockTable::is_current(self, key, token)
    }
}

impl Presences for PresenceTable {
    fn report(&self, presence: CellPresence, ttl: Duration) {
        PresenceTable::report(self, presence, ttl)
    }
    fn release(&self, cell_id: &str) {
        PresenceTable::release(self, cell_id)
    }
    fn live(&self) -> Vec<CellPresence> {
        PresenceTable::live(self)
    }
}
