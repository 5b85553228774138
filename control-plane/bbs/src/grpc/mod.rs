//! The gRPC adapter: `diego.bbs.v1.Bbs` over the BBS operations. The only
//! place in this crate that names generated types; every request is decoded
//! and validated through the proto crate's conversions before it reaches an
//! operation, so a malformed request is an `InvalidArgument`, never a panic.

// tonic's handlers must return `Result<_, Status>`, and `Status` is large by
// tonic's design; boxing it here would only add a conversion at every call.
#![allow(clippy::result_large_err)]

mod decode;
mod lrps;
mod server;
mod tasks;
mod trace;

use diego_model::ModelError;
use diego_proto::status::to_status;
use tonic::Status;

pub use server::{serve, BbsGrpc, DecisionLog, DecisionSource, ServeOptions};

use crate::BbsError;

pub(crate) fn status(e: BbsError) -> Status {
    to_status(&e.to_model())
}

pub(crate) fn model_status(e: ModelError) -> Status {
    to_status(&e)
}

/// Converts a required sub-message, naming the field when it is missing.
pub(crate) fn required<W, T>(field: &str, w: Option<W>) -> Result<T, Status>
where
    T: TryFrom<W>,
    T::Error: Into<ModelError>,
{
    match w {
        Some(w) => T::try_from(w).map_err(|e| model_status(e.into())),
        None => Err(model_status(ModelError::invalid_field(
            field,
            "is required",
        ))),
    }
}
