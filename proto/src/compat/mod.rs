//! Conversions between the original BBS `models` messages and the domain
//! model, for the compatibility gateway.
//!
//! Domain -> wire never fails. Wire -> domain fails with `InvalidRequest`
//! naming the field. Both sides are destructured without `..`, so a field
//! added to either breaks the build here. Wire fields the domain does not
//! carry are named explicitly where they are dropped or lowered (image
//! layers and cached dependencies become download actions, the original's
//! own V3 -> V0 lowering).

// The original's deprecated fields are still on the wire, and this module is
// where they are read and written.
#![allow(deprecated)]

mod action;
mod actual;
mod desired;
mod event;
mod parts;
mod task;
pub mod version;

pub use actual::{
    group_of, info_of, instance_key_from, internal_routes_from, key_from, net_info_from,
};
pub use desired::{desired_lrp_from, desired_lrp_update_from, scheduling_info};
pub use event::{sse_event, SseEvent, Stream};
pub use task::{callback_of, task_definition_from};
pub use version::Version;

use diego_model::{ErrorCode, ModelError};

use crate::models as w;

impl From<&ModelError> for w::Error {
    fn from(e: &ModelError) -> Self {
        w::Error {
            r#type: error_type(e.code) as i32,
            message: e.message.clone(),
        }
    }
}

/// The one mapping of our error codes onto the original `Error.Type`: the
/// numbers are the same by construction, so this is exhaustive and total.
pub fn error_type(code: ErrorCode) -> w::error::Type {
    use w::error::Type as T;
    use ErrorCode::*;
    match code {
        UnknownError => T::UnknownError,
        InvalidRecord => T::InvalidRecord,
        InvalidRequest => T::InvalidRequest,
        InvalidResponse => T::InvalidResponse,
        InvalidProtobufMessage => T::InvalidProtobufMessage,
        InvalidJson => T::InvalidJson,
        FailedToOpenEnvelope => T::FailedToOpenEnvelope,
        InvalidStateTransition => T::InvalidStateTransition,
        ResourceConflict => T::ResourceConflict,
        ResourceExists => T::ResourceExists,
        ResourceNotFound => T::ResourceNotFound,
        RouterError => T::RouterError,
        ActualLrpCannotBeClaimed => T::ActualLrpCannotBeClaimed,
        ActualLrpCannotBeStarted => T::ActualLrpCannotBeStarted,
        ActualLrpCannotBeCrashed => T::ActualLrpCannotBeCrashed,
        ActualLrpCannotBeFailed => T::ActualLrpCannotBeFailed,
        ActualLrpCannotBeRemoved => T::ActualLrpCannotBeRemoved,
        ActualLrpCannotBeUnclaimed => T::ActualLrpCannotBeUnclaimed,
        RunningOnDifferentCell => T::RunningOnDifferentCell,
        GuidGeneration => T::GuidGeneration,
        Deserialize => T::Deserialize,
        Deadlock => T::Deadlock,
        Unrecoverable => T::Unrecoverable,
        LockCollision => T::LockCollision,
        Timeout => T::Timeout,
    }
}

pub(crate) fn field(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_keeps_its_wire_number() {
        for code in diego_model::error::ALL_CODES {
            assert_eq!(error_type(code) as i32, code as i32, "{}", code.name());
        }
    }
}
