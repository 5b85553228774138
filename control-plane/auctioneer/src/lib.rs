//! The auctioneer: a streaming runner around the pure auction.
//!
//! Requests arrive continuously; whatever arrives while a batch is being
//! placed forms the next batch (no fixed tick). For each batch it asks every
//! live cell for its state concurrently (with a timeout), leaves out
//! evacuating and unreachable cells, schedules, and sends each winning cell
//! one `Perform` with its share. Work a cell hands back is retried on fresher
//! state; what cannot be placed goes back to the BBS as `FailActualLRP` or
//! `RejectTask` with the reason.

mod batch;
mod client;
mod grpc_rep;
mod metrics;
mod requests;
mod runner;
mod scorers;
pub mod server;
pub mod sim;
mod wire;

use std::future::Future;
use std::pin::Pin;

use diego_auction::{CellState, LrpStart, TaskStart};
use diego_model::{ActualLrpKey, CellPresence};

pub use client::{AuctioneerClient, ClientTls};
pub use grpc_rep::GrpcReps;
pub use requests::{lrp_starts, task_start};
pub use runner::{log_id, Auctioneer, AuctioneerConfig, HANDED_BACK};
pub use scorers::{
    load_scorer, plan_with_fallback, PluginSpec, ScorerConfig, ScorerError, SharedScorer,
};

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The work a cell could not take, as its Perform answer lists it.
pub type HandedBack = (Vec<LrpStart>, Vec<TaskStart>);

/// Where the live cells come from (the BBS's cell directory).
pub trait CellSource: Send + Sync + 'static {
    fn cells(&self) -> BoxFut<'_, Result<Vec<CellPresence>, String>>;
}

/// The reps, as the auctioneer calls them.
pub trait RepClient: Send + Sync + 'static {
    fn state<'a>(&'a self, cell: &'a CellPresence) -> BoxFut<'a, Result<CellState, String>>;
    /// Returns the work the cell could NOT take.
    fn perform<'a>(
        &'a self,
        cell: &'a CellPresence,
        lrps: Vec<LrpStart>,
        tasks: Vec<TaskStart>,
    ) -> BoxFut<'a, Result<HandedBack, String>>;
}

/// Where results go: failures to the BBS, explanations to the decision log.
pub trait ResultSink: Send + Sync + 'static {
    fn fail_lrp<'a>(&'a self, key: &'a ActualLrpKey, reason: &'a str) -> BoxFut<'a, ()>;
    fn reject_task<'a>(&'a self, task_guid: &'a str, reason: &'a str) -> BoxFut<'a, ()>;
    /// One explanation per decision: work id, summary, per-cell lines.
    fn record(&self, work_id: String, summary: String, cell_lines: Vec<String>);
}
