//! Coordination: locks with fencing tokens and presences with a TTL, like
//! Locket (spec §9). This is the in-process implementation used when every
//! role runs in one process; the traits are what an etcd implementation
//! fills (leases for presences, elections for locks); `diego-store-etcd`
//! holds that implementation.

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

/// A boxed future, so the traits stay object safe.
pub type BoxFut<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Presences with a TTL (cells). The in-process `PresenceTable` fills it; the
/// etcd implementation (`diego-store-etcd`) uses leased keys, so a dead
/// cell's presence expires even when the BBS that wrote it is gone too.
pub trait Presences: Send + Sync {
    /// Creates or refreshes a presence (the heartbeat).
    fn report(&self, presence: CellPresence, ttl: Duration) -> BoxFut<'_, Result<(), String>>;
    /// Removes a presence at once (a cell shutting down cleanly).
    fn release<'a>(&'a self, cell_id: &'a str) -> BoxFut<'a, Result<(), String>>;
    /// The presences that have not expired, in cell id order.
    fn live(&self) -> BoxFut<'_, Result<Vec<CellPresence>, String>>;
    /// Notified (`notify_waiters`) whenever a presence goes, so the converger
    /// can run a pass at once instead of waiting for its timer.
    fn lost(&self) -> &tokio::sync::Notify;
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
    fn report(&self, presence: CellPresence, ttl: Duration) -> BoxFut<'_, Result<(), String>> {
        PresenceTable::report(self, presence, ttl);
        Box::pin(async { Ok(()) })
    }
    fn release<'a>(&'a self, cell_id: &'a str) -> BoxFut<'a, Result<(), String>> {
        PresenceTable::release(self, cell_id);
        Box::pin(async { Ok(()) })
    }
    fn live(&self) -> BoxFut<'_, Result<Vec<CellPresence>, String>> {
        let live = PresenceTable::live(self);
        Box::pin(async move { Ok(live) })
    }
    fn lost(&self) -> &tokio::sync::Notify {
        &self.lost
    }
}
