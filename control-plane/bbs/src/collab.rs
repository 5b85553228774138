//! The BBS's collaborators, as traits so tests and the in-process cluster
//! can plug in their own: the auctioneer it asks to place work, and the cell
//! directory (presences, and the reps it asks to stop or cancel work).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use diego_model::{ActualLrpKey, CellPresence, InstanceKey, SchedulingInfo, Task};

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Start requests for some indices of one desired LRP.
#[derive(Debug, Clone, PartialEq)]
pub struct LrpAuction {
    pub info: SchedulingInfo,
    pub indices: Vec<i32>,
}

/// The auctioneer as the BBS sees it. Failures are logged only: convergence
/// re-requests anything left unplaced.
pub trait AuctionRequester: Send + Sync + 'static {
    fn request_lrp_auctions(&self, starts: Vec<LrpAuction>) -> BoxFut<'_, Result<(), String>>;
    fn request_task_auctions(&self, tasks: Vec<Task>) -> BoxFut<'_, Result<(), String>>;
}

/// Drops every request; for tests that drive placement by hand.
#[derive(Debug, Default)]
pub struct NoAuctioneer;

impl AuctionRequester for NoAuctioneer {
    fn request_lrp_auctions(&self, _: Vec<LrpAuction>) -> BoxFut<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    fn request_task_auctions(&self, _: Vec<Task>) -> BoxFut<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// New internal routes and resolved metric tags for one running instance
/// (rep `UpdateLRPInstance`): sent when a desired LRP's change them and by
/// convergence when a row drifted.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceUpdate {
    pub key: ActualLrpKey,
    pub instance: InstanceKey,
    /// Sorted hostnames of the `internal-router` routes.
    pub internal_routes: Vec<String>,
    pub metric_tags: BTreeMap<String, String>,
}

/// Cells as the BBS sees them.
pub trait CellDirectory: Send + Sync + 'static {
    /// The live cell presences. `Err` means the directory could not answer,
    /// which is different from "no cells" (convergence must not act on it).
    fn cells(&self) -> BoxFut<'_, Result<Vec<CellPresence>, String>>;
    /// Records a cell's presence for `ttl_ms`.
    fn report(&self, presence: CellPresence, ttl_ms: u64) -> BoxFut<'_, Result<(), String>>;
    /// Asks the cell's rep to stop an LRP instance.
    fn stop_lrp_instance<'a>(
        &'a self,
        cell: &'a CellPresence,
        key: &'a ActualLrpKey,
        instance: &'a InstanceKey,
    ) -> BoxFut<'a, Result<(), String>>;
    /// Asks the cell's rep to cancel a task.
    fn cancel_task<'a>(
        &'a self,
        cell: &'a CellPresence,
        task_guid: &'a str,
    ) -> BoxFut<'a, Result<(), String>>;
    /// Tells the cell's rep an instance's new internal routes and metric tags.
    fn update_lrp_instance<'a>(
        &'a self,
        cell: &'a CellPresence,
        update: &'a InstanceUpdate,
    ) -> BoxFut<'a, Result<(), String>>;
}

/// A fixed list of cells that records the stop and cancel calls it gets;
/// for tests.
#[derive(Debug, Default)]
pub struct StaticCells {
    pub presences: Mutex<Vec<CellPresence>>,
    pub stops: Mutex<Vec<(String, ActualLrpKey, InstanceKey)>>,
    pub cancels: Mutex<Vec<(String, String)>>,
    /// (cell id, update) per `update_lrp_instance` call.
    pub updates: Mutex<Vec<(String, InstanceUpdate)>>,
}

impl CellDirectory for StaticCells {
    fn cells(&self) -> BoxFut<'_, Result<Vec<CellPresence>, String>> {
        let cells = self.presences.lock().map(|c| c.clone()).unwrap_or_default();
        Box::pin(async move { Ok(cells) })
    }
    fn report(&self, presence: CellPresence, _ttl_ms: u64) -> BoxFut<'_, Result<(), String>> {
        if let Ok(mut cells) = self.presences.lock() {
            cells.retain(|c| c.cell_id != presence.cell_id);
            cells.push(presence);
        }
        Box::pin(async { Ok(()) })
    }
    fn stop_lrp_instance<'a>(
        &'a self,
        cell: &'a CellPresence,
        key: &'a ActualLrpKey,
        instance: &'a InstanceKey,
    ) -> BoxFut<'a, Result<(), String>> {
        if let Ok(mut s) = self.stops.lock() {
            s.push((cell.cell_id.clone(), key.clone(), instance.clone()));
        }
        Box::pin(async { Ok(()) })
    }
    fn cancel_task<'a>(
        &'a self,
        cell: &'a CellPresence,
        task_guid: &'a str,
    ) -> BoxFut<'a, Result<(), String>> {
        if let Ok(mut s) = self.cancels.lock() {
            s.push((cell.cell_id.clone(), task_guid.to_string()));
        }
        Box::pin(async { Ok(()) })
    }
    fn update_lrp_instance<'a>(
        &'a self,
        cell: &'a CellPresence,
        update: &'a InstanceUpdate,
    ) -> BoxFut<'a, Result<(), String>> {
        if let Ok(mut u) = self.updates.lock() {
            u.push((cell.cell_id.clone(), update.clone()));
        }
        Box::pin(async { Ok(()) })
    }
}
