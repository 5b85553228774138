//! The BBS: every operation of the original bulletin board with Diego's
//! semantics (spec §2.5, §4), over any `Store`.
//!
//! Each mutation is one store transaction: the records it changes, guarded by
//! compare-and-swap checks on what it read, plus the events it emits in the
//! change log. So events and records commit together, and a watcher that
//! resumes from a revision misses nothing.

mod bulk;
pub mod callbacks;
pub mod clock;
pub mod codec;
pub mod collab;
mod error;
pub mod events;
pub mod grpc;
pub mod keys;
pub mod metrics;
mod ops;
pub mod trace;
mod txn;

use std::sync::Arc;

use diego_model::crash::RestartPolicy;
use diego_store::Store;

pub use callbacks::{spawn_callback_worker, CallbackConfig, CallbackKicks, Delivery};
pub use clock::{Clock, ManualClock, SystemClock};
pub use collab::{
    AuctionRequester, CellDirectory, InstanceUpdate, LrpAuction, NoAuctioneer, StaticCells,
};
pub use diego_convergence::{ConvergenceConfig, Warning as ConvergenceWarning};
pub use error::BbsError;
pub use events::{WatchFilter, WatchItem};
pub use ops::actual::ActualLrpFilter;
pub use ops::converge::{spawn_converger, ConvergeReport, DEFAULT_CONVERGE_INTERVAL_MS};
pub use ops::converge_read::WarmReport;

#[derive(Debug, Clone)]
pub struct BbsConfig {
    pub max_task_retries: i32,
    pub restart_policy: RestartPolicy,
    /// How many times a conflicting read-modify-write is retried before giving up.
    pub cas_retries: u32,
}

impl Default for BbsConfig {
    fn default() -> Self {
        BbsConfig {
            max_task_retries: diego_model::DEFAULT_MAX_TASK_RETRIES,
            restart_policy: RestartPolicy::default(),
            cas_retries: 16,
        }
    }
}

/// The BBS service logic. Cheap to clone; share it between the gRPC adapter,
/// the converger and tests.
#[derive(Clone)]
pub struct Bbs {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) auctioneer: Arc<dyn AuctionRequester>,
    pub(crate) cells: Arc<dyn CellDirectory>,
    pub(crate) config: BbsConfig,
    /// Decoded rows kept between convergence passes (ADR 0027).
    pub(crate) converge_cache: Arc<std::sync::Mutex<ops::converge_read::ConvergeCache>>,
    /// Held while the cache is read and refreshed (a pass's snapshot read,
    /// the start-time warm-up), so they run one after the other (ADR 0030).
    pub(crate) converge_reads: Arc<tokio::sync::Mutex<()>>,
}

impl Bbs {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        auctioneer: Arc<dyn AuctionRequester>,
        cells: Arc<dyn CellDirectory>,
        config: BbsConfig,
    ) -> Self {
        Bbs {
            store,
            clock,
            auctioneer,
            cells,
            config,
            converge_cache: Default::default(),
            converge_reads: Default::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn cells(&self) -> &Arc<dyn CellDirectory> {
        &self.cells
    }

    pub fn config(&self) -> &BbsConfig {
        &self.config
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_ns()
    }
}
