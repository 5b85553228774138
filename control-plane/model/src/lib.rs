//! The pure domain model of diego-rs.
//!
//! Architecture Invariant: this crate does no IO. It has no tokio, tonic,
//! prost, store or clock in its dependency tree; time comes in as an argument
//! (`now_ns`, unix nanoseconds, like the original BBS stores it).

pub mod action;
pub mod actual;
pub mod cell;
pub mod crash;
pub mod desired;
pub mod domain;
pub mod error;
pub mod evacuation;
pub mod event;
pub mod network;
pub mod suspect;
pub mod task;
pub mod validate;

pub use action::*;
pub use actual::*;
pub use cell::*;
pub use desired::*;
pub use domain::*;
pub use error::{ErrorCode, ModelError};
pub use evacuation::{DesiredView, EvacuationOutcome, IndexRows, RowChange};
pub use event::Event;
pub use network::*;
pub use task::*;

/// Unix time in nanoseconds, the unit every stored timestamp uses.
pub type TimeNs = i64;

pub const NS_PER_MS: i64 = 1_000_000;
pub const NS_PER_S: i64 = 1_000_000_000;

/// `EnvironmentVariable { name, value }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// `ModificationTag { epoch, index }`: epoch is set at creation, index grows on each update.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ModificationTag {
    #[serde(default)]
    pub epoch: String,
    #[serde(default)]
    pub index: u32,
}

impl ModificationTag {
    pub fn new(epoch: impl Into<String>) -> Self {
        Self {
            epoch: epoch.into(),
            index: 0,
        }
    }
    pub fn increment(&mut self) {
        self.index = self.index.wrapping_add(1);
    }
}

/// Truncates to at most `max_bytes` bytes on a char boundary, appending
/// "(truncated)" like the original does for crash and failure reasons.
pub fn truncate_reason(reason: &str, max_bytes: usize) -> String {
    if reason.len() <= max_bytes {
        return reason.to_string();
    }
    const SUFFIX: &str = "(truncated)";
    let mut end = max_bytes.saturating_sub(SUFFIX.len());
    while end > 0 && !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{}", &reason[..end], SUFFIX)
}
