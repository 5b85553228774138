//! Every conversion between the generated wire types and the domain model.
//!
//! `From<domain> for wire` never fails. `TryFrom<wire> for domain` fails with
//! `ModelError { code: InvalidRequest }` and a message naming the field, such
//! as "invalid field: action.timeout.action is missing". Every conversion
//! destructures both sides exhaustively (no `..`), so a field added on either
//! side breaks the build until it is handled here (architecture invariant 2).
//!
//! Which sub-messages are required: the identity of a record (a task's
//! definition, an actual LRP's key, a cell's capacity, an event's records,
//! the keys of lifecycle requests) must be present. Value messages whose
//! absence has an obvious meaning (a modification tag, an actual LRP's
//! instance key and net info) decode as their empty value when absent.

mod action;
mod actual;
pub mod auctioneer;
mod cell;
mod check;
mod common;
mod desired;
mod event;
pub mod requests;
mod task;

pub use event::{traced_event, WatchedEvent, TRACE_ID_METADATA};

use diego_model::ModelError;

/// A wire-to-domain conversion that knows where in the request it is, so
/// errors name the full path of the field (`setup.serial.actions[2]`).
pub(crate) trait FromWire<W>: Sized {
    fn from_wire(w: W, path: &str) -> Result<Self, ModelError>;
}

/// Implements `TryFrom<wire>` through `FromWire` with the root path.
macro_rules! try_from_wire {
    ($domain:ty, $wire:ty, $root:expr) => {
        impl TryFrom<$wire> for $domain {
            type Error = diego_model::ModelError;
            fn try_from(w: $wire) -> Result<Self, Self::Error> {
                <$domain as $crate::convert::FromWire<$wire>>::from_wire(w, $root)
            }
        }
    };
}
pub(crate) use try_from_wire;

/// `path.name`, or `name` at the root.
pub(crate) fn field(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// A required sub-message.
pub(crate) fn required<T>(v: Option<T>, path: &str, name: &str) -> Result<T, ModelError> {
    v.ok_or_else(|| ModelError::invalid_field(&field(path, name), "is missing"))
}

/// A wire enum value the generated enum does not know.
pub(crate) fn unknown_enum(path: &str, name: &str, value: i32) -> ModelError {
    ModelError::invalid_field(&field(path, name), &format!("has unknown value {value}"))
}

/// Converts a required sub-message.
pub(crate) fn required_from<W, D: FromWire<W>>(
    v: Option<W>,
    path: &str,
    name: &str,
) -> Result<D, ModelError> {
    let w = required(v, path, name)?;
    D::from_wire(w, &field(path, name))
}

/// Converts every element of a repeated field, naming the index on error.
pub(crate) fn list_from<W, D: FromWire<W>>(
    v: Vec<W>,
    path: &str,
    name: &str,
) -> Result<Vec<D>, ModelError> {
    let base = field(path, name);
    v.into_iter()
        .enumerate()
        .map(|(i, w)| D::from_wire(w, &format!("{base}[{i}]")))
        .collect()
}

pub(crate) fn list_into<D, W: From<D>>(v: Vec<D>) -> Vec<W> {
    v.into_iter().map(W::from).collect()
}
