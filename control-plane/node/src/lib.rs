//! Wiring: turns the libraries into running roles. `ControlPlane` is the
//! BBS (gRPC), the auctioneer and the converger on one store; `LocalCell` is
//! a rep with its executor and backend. `diego up` runs one of the first and
//! N of the second in one process; tests do the same in-process.

mod cells;
mod control_plane;
mod error;
mod local_cell;
mod replica;
mod sink;
mod store_tikv;

pub use cells::Cells;
pub use control_plane::{ControlPlane, ControlPlaneConfig, StoreSpec};
pub use error::NodeError;
pub use local_cell::{BackendKind, CellConfig, LocalCell};
pub use replica::{Replica, ReplicaState};
