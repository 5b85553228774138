//! The diego.bbs.v1 and diego.rep.v1 wire types and every conversion to and
//! from the domain model.
//!
//! Architecture Invariant: generated types stay at the edge. Conversions are
//! `From<domain>` / `TryFrom<wire>` with exhaustive destructuring, so adding a
//! field on either side breaks the build until the conversion handles it.

// Generated code follows the proto shapes, not our lint taste: an Event's
// oneof holds whole records, so its variants differ in size by design.
pub mod fencing;
pub mod trace_context;

pub mod bbs {
    #[allow(clippy::large_enum_variant)]
    pub mod v1 {
        tonic::include_proto!("diego.bbs.v1");
    }
}

pub mod rep {
    pub mod v1 {
        tonic::include_proto!("diego.rep.v1");
    }
}

/// The auctioneer API the BBS calls when the auctioneer runs on its own (ADR 0013).
pub mod auctioneer {
    pub mod v1 {
        tonic::include_proto!("diego.auctioneer.v1");
    }
}

/// The original BBS wire messages (package `models`), for the gateway.
#[allow(clippy::large_enum_variant, clippy::enum_variant_names)]
pub mod models {
    tonic::include_proto!("models");
}

pub mod compat;
pub mod convert;
pub mod fuzzing;
pub mod status;
