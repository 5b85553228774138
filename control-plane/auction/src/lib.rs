//! Pure placement: Diego's auction algorithm (spec §8.3), its scoring seam and explanations.
//!
//! The auctioneer snapshots cell states, maps them and the batch onto this crate's input types
//! and calls [`schedule`]; it gets back a [`Plan`] (per-cell work, failures with Diego's exact
//! placement errors, and one [`Decision`] per work item saying why). No IO, no clock, no
//! async: randomness is a seed in [`AuctionConfig`], so a plan is a function of its input.

mod auction;
mod error;
mod explain;
mod filter;
mod hash;
mod rootfs;
mod round;
mod schedule;
mod score;
mod types;
mod walk;
mod zones;

pub use error::{PlacementError, ResourceProblems};
pub use explain::{CellVerdict, Decision, Outcome, Tally, Verdict, WorkId};
pub use filter::{check_constraints, placement_tags_match, volume_drivers_match, Constraint};
pub use rootfs::{parse_rootfs, rootfs_matches, RootfsUrl};
pub use round::{
    open_round, BatchWork, CandidateSet, CellScore, PerCellRound, Pick, ScoreColumns, ScoreRound,
    PART_COLUMNS,
};
pub use schedule::{schedule, schedule_default, CellAssignment, Plan};
pub use score::{
    CellView, CompositeScorer, DiegoScorer, ScoreParts, Scorer, WorkView, LOCALITY_OFFSET,
};
pub use types::{
    AuctionConfig, CellLrp, CellState, LrpStart, Resources, RootfsProvider, TaskStart,
};
pub use zones::bin_pack_indices;
