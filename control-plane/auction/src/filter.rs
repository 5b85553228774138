//! Placement constraints (rootfs, volume drivers, placement tags), checked in Diego's order,
//! and the per-constraint-signature cache of compatible cells the scheduler builds once per
//! distinct (rootfs, drivers, tags) in a batch instead of once per work item.

use crate::error::PlacementError;
use crate::rootfs::rootfs_matches;
use crate::types::CellState;

/// The placement constraint a cell failed first (Diego checks them in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Constraint {
    Rootfs,
    VolumeDrivers,
    PlacementTags,
}

impl Constraint {
    pub fn as_str(self) -> &'static str {
        match self {
            Constraint::Rootfs => "rootfs",
            Constraint::VolumeDrivers => "volume drivers",
            Constraint::PlacementTags => "placement tags",
        }
    }
}

/// Every requested driver must be offered by the cell.
pub fn volume_drivers_match(cell_drivers: &[String], requested: &[String]) -> bool {
    requested.iter().all(|wanted| cell_drivers.contains(wanted))
}

/// Diego's rule: with R = the cell's required tags, O = its optional tags and D = the work's
/// tags, match iff R ⊆ D and D ⊆ R ∪ O (so untagged work only lands on untagged cells).
pub fn placement_tags_match(required: &[String], optional: &[String], desired: &[String]) -> bool {
    required.iter().all(|tag| desired.contains(tag))
        && desired
            .iter()
            .all(|tag| required.contains(tag) || optional.contains(tag))
}

/// `Ok` if the cell satisfies every constraint, else the first one it fails.
pub fn check_constraints(
    cell: &CellState,
    rootfs: &str,
    volume_drivers: &[String],
    placement_tags: &[String],
) -> Result<(), Constraint> {
    if !rootfs_matches(&cell.rootfs_providers, rootfs) {
        return Err(Constraint::Rootfs);
    }
    if !volume_drivers_match(&cell.volume_drivers, volume_drivers) {
        return Err(Constraint::VolumeDrivers);
    }
    if !placement_tags_match(
        &cell.placement_tags,
        &cell.optional_placement_tags,
        placement_tags,
    ) {
        return Err(Constraint::PlacementTags);
    }
    Ok(())
}

/// The compatible cells for one constraint signature, in the scheduler's cell order.
pub(crate) struct Compat {
    /// Compatible cell ids grouped by zone; only zones with at least one such cell, in zone order.
    pub zones: Vec<(u32, Vec<u32>)>,
    /// All compatible cell ids (tasks ignore zones).
    pub all: Vec<u32>,
    /// Per scheduler cell: the constraint it fails, if any (kept for explanations).
    pub failures: Vec<Option<Constraint>>,
    pub filtered_rootfs: u32,
    pub filtered_volume_drivers: u32,
    pub filtered_placement_tags: u32,
}

impl Compat {
    pub fn build(
        cells: &[&CellState],
        zone_of_cell: &[u32],
        zone_count: usize,
        rootfs: &str,
        volume_drivers: &[String],
        placement_tags: &[String],
    ) -> Self {
        let mut by_zone: Vec<Vec<u32>> = vec![Vec::new(); zone_count];
        let mut failures = Vec::with_capacity(cells.len());
        let mut all = Vec::with_capacity(cells.len());
        let (mut rootfs_n, mut drivers_n, mut tags_n) = (0, 0, 0);
        for (id, cell) in cells.iter().enumerate() {
            let verdict = check_constraints(cell, rootfs, volume_drivers, placement_tags);
            match verdict {
                Ok(()) => {
                    by_zone[zone_of_cell[id] as usize].push(id as u32);
                    all.push(id as u32);
                }
                Err(Constraint::Rootfs) => rootfs_n += 1,
                Err(Constraint::VolumeDrivers) => drivers_n += 1,
                Err(Constraint::PlacementTags) => tags_n += 1,
            }
            failures.push(verdict.err());
        }
        let zones = by_zone
            .into_iter()
            .enumerate()
            .filter(|(_, cells)| !cells.is_empty())
            .map(|(zone, cells)| (zone as u32, cells))
            .collect();
        Self {
            zones,
            all,
            failures,
            filtered_rootfs: rootfs_n,
            filtered_volume_drivers: drivers_n,
            filtered_placement_tags: tags_n,
        }
    }

    /// The error when no cell is compatible: the most specific constraint any cell got to.
    /// (Upstream picks across zones depending on Go map order; "furthest stage reached by any
    /// cell" is its intent and is deterministic.)
    pub fn mismatch_error(&self, placement_tags: &[String]) -> PlacementError {
        if self.filtered_placement_tags > 0 {
            PlacementError::PlacementTagMismatch(placement_tags.to_vec())
        } else if self.filtered_volume_drivers > 0 {
            PlacementError::VolumeDriverMismatch
        } else {
            PlacementError::RootfsMismatch
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn placement_tags_follow_required_subset_desired_subset_union() {
        assert!(placement_tags_match(&[], &[], &[]));
        assert!(!placement_tags_match(&[], &[], &tags(&["a"])));
        assert!(!placement_tags_match(&tags(&["a"]), &[], &[]));
        assert!(placement_tags_match(
            &tags(&["a"]),
            &tags(&["b"]),
            &tags(&["a"])
        ));
        assert!(placement_tags_match(
            &tags(&["a"]),
            &tags(&["b"]),
            &tags(&["a", "b"])
        ));
        assert!(!placement_tags_match(
            &tags(&["a"]),
            &tags(&["b"]),
            &tags(&["b"])
        ));
        assert!(placement_tags_match(&[], &tags(&["b"]), &[]));
        assert!(!placement_tags_match(&[], &tags(&["b"]), &tags(&["c"])));
    }

    #[test]
    fn volume_drivers_need_every_requested_driver() {
        assert!(volume_drivers_match(&[], &[]));
        assert!(volume_drivers_match(
            &tags(&["nfs", "smb"]),
            &tags(&["smb"])
        ));
        assert!(!volume_drivers_match(
            &tags(&["nfs"]),
            &tags(&["nfs", "smb"])
        ));
    }
}
