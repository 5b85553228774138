//! The crate's one error enum: why a piece of work was not placed. `Display` yields Diego's
//! exact placement-error strings, because they end up in `ActualLRP.placement_error` and in
//! task rejection reasons that clients (and the Cloud Controller) show to users.

use std::fmt;

/// A subset of {containers, disk, memory}: the resources a cell (or every cell) lacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ResourceProblems(u8);

impl ResourceProblems {
    pub const NONE: Self = Self(0);
    pub const CONTAINERS: Self = Self(1);
    pub const DISK: Self = Self(2);
    pub const MEMORY: Self = Self(4);
    pub const ALL: Self = Self(7);

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Names in Diego's (sorted) order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        [
            (Self::CONTAINERS, "containers"),
            (Self::DISK, "disk"),
            (Self::MEMORY, "memory"),
        ]
        .into_iter()
        .filter(move |(flag, _)| self.contains(*flag))
        .map(|(_, name)| name)
    }
}

impl fmt::Display for ResourceProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.names().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// Why a piece of work was not placed. The strings are Diego's, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PlacementError {
    /// No cell took part in the auction (none answered, or all are evacuating).
    #[error("unable to communicate to compatible cells")]
    CellCommunication,
    /// `starting_container_count_maximum` reached.
    #[error("waiting to start instance: reached in-flight start limit")]
    InflightLimit,
    #[error("found no compatible cell for required rootfs")]
    RootfsMismatch,
    #[error("found no compatible cell with required volume drivers")]
    VolumeDriverMismatch,
    /// Carries the work's tags in the order it gave them (Diego prints them in that order).
    #[error("{}", placement_tag_message(.0))]
    PlacementTagMismatch(Vec<String>),
    /// Every compatible cell lacked these resources (the intersection over those cells).
    #[error("{}", insufficient_message(*.0))]
    InsufficientResources(ResourceProblems),
}

fn placement_tag_message(tags: &[String]) -> String {
    match tags {
        [] => "found no compatible cell with no placement tags".to_owned(),
        [one] => format!("found no compatible cell with placement tag \"{one}\""),
        [init @ .., last] => format!(
            "found no compatible cell with placement tags \"{}\" and \"{last}\"",
            init.join("\", \"")
        ),
    }
}

fn insufficient_message(problems: ResourceProblems) -> String {
    if problems.is_empty() {
        "insufficient resources".to_owned()
    } else {
        format!("insufficient resources: {problems}")
    }
}
