//! Wiring: turns the libraries into running roles. `ControlPlane` is the
//! BBS (gRPC), the auctioneer and the converger on one store; `LocalCell` is
//! a rep with its executor and backend. `diego up` runs one of the first and
//! N of the second in one process; tests do the same in-process.

mod auctioneer_node;
mod cells;
mod control_plane;
mod error;
mod key_check;
mod local_cell;
mod remote_auctioneer;
mod replica;
mod sink;
mod store_tikv;

pub use auctioneer_node::{
    AuctioneerNode, AuctioneerNodeConfig, AuctioneerState, AuctioneerTls, AUCTIONEER_LOCK,
};
pub use cells::Cells;
pub use control_plane::{AuctioneerMode, ControlPlane, ControlPlaneConfig, StoreSpec};
/// The OCI runtimes a cell can use (`CellConfig::oci_runtime`).
pub use diego_backend_oci::OciRuntime;
pub use error::NodeError;
pub use local_cell::{BackendKind, CellConfig, LocalCell};
pub use replica::{Replica, ReplicaState};
