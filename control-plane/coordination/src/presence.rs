//! Presences with a TTL: a cell reports itself every few seconds; when it
//! stops, its presence disappears once the TTL has passed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diego_model::CellPresence;
use tokio::sync::Notify;

struct Entry {
    presence: CellPresence,
    expires_at: Instant,
}

/// The live cells. `lost` is notified whenever a presence expires, so the
/// converger can run a pass at once instead of waiting for its timer.
#[derive(Default)]
pub struct PresenceTable {
    entries: Mutex<BTreeMap<String, Entry>>,
    pub lost: Notify,
}

impl PresenceTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates or refreshes a presence (the heartbeat).
    pub fn report(&self, presence: CellPresence, ttl: Duration) {
        let expires_at = Instant::now() + ttl;
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(
                presence.cell_id.clone(),
                Entry {
                    presence,
                    expires_at,
                },
            );
        }
    }

    /// Removes a presence at once (a cell shutting down cleanly).
    pub fn release(&self, cell_id: &str) {
        let removed = self
            .entries
            .lock()
            .map(|mut e| e.remove(cell_id).is_some())
            .unwrap_or(false);
        if removed {
            self.lost.notify_waiters();
        }
    }

    /// The presences that have not expired, in cell id order.
    pub fn live(&self) -> Vec<CellPresence> {
        self.sweep();
        self.entries
            .lock()
            .map(|e| e.values().map(|v| v.presence.clone()).collect())
            .unwrap_or_default()
    }

    pub fn get(&self, cell_id: &str) -> Option<CellPresence> {
        self.live().into_iter().find(|p| p.cell_id == cell_id)
    }

    /// Drops expired presences and tells the waiters if any went.
    pub fn sweep(&self) {
        let now = Instant::now();
        let mut lost = Vec::new();
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|id, e| {
                let keep = e.expires_at > now;
                if !keep {
                    lost.push(id.clone());
                }
                keep
            });
        }
        if !lost.is_empty() {
            tracing::info!(cells = ?lost, "cell presence expired");
            self.lost.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(id: &str) -> CellPresence {
        CellPresence {
            cell_id: id.into(),
            ..Default::default()
        }
    }

    #[test]
    fn presence_expires_after_its_ttl() {
        let t = PresenceTable::new();
        t.report(cell("a"), Duration::from_millis(30));
        t.report(cell("b"), Duration::from_secs(60));
        assert_eq!(t.live().len(), 2);
        std::thread::sleep(Duration::from_millis(60));
        let ids: Vec<_> = t.live().into_iter().map(|c| c.cell_id).collect();
        assert_eq!(ids, vec!["b".to_string()]);
    }

    #[test]
    fn heartbeat_keeps_a_presence_alive() {
        let t = PresenceTable::new();
        for _ in 0..4 {
            t.report(cell("a"), Duration::from_millis(40));
            std::thread::sleep(Duration::from_millis(15));
        }
        assert!(t.get("a").is_some());
        t.release("a");
        assert!(t.get("a").is_none());
    }
}
