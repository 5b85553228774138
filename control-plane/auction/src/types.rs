//! Input types of the auction. The auctioneer maps the domain model (and the reps' `/state`
//! answers) onto these, so this crate never depends on the model, the wire types or any IO.

use std::collections::{BTreeMap, BTreeSet};

/// A quantity of cell resources. Diego reports these as `int32` on the wire, so we keep `i32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Resources {
    pub memory_mb: i32,
    pub disk_mb: i32,
    pub containers: i32,
}

impl Resources {
    pub const fn new(memory_mb: i32, disk_mb: i32, containers: i32) -> Self {
        Self {
            memory_mb,
            disk_mb,
            containers,
        }
    }
}

/// What a cell can run for one rootfs URL scheme (`preloaded`, `preloaded+layer`, `docker`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RootfsProvider {
    /// Any rootfs with this scheme (Diego's `arbitrary`, used for `docker`).
    Arbitrary,
    /// Only these stack names, compared with the URL's opaque part (Diego's `fixed_set`).
    FixedSet(BTreeSet<String>),
}

/// An LRP instance already on a cell (running, claimed or reserved).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CellLrp {
    pub process_guid: String,
    pub index: i32,
}

/// A cell's answer to the auctioneer's state request, as seen at batch start.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CellState {
    pub cell_id: String,
    /// The rep's reported `cell_index`; only used (re-indexed per zone) for bin-pack first fit.
    pub cell_index: i32,
    pub zone: String,
    /// Keyed by rootfs URL scheme.
    pub rootfs_providers: BTreeMap<String, RootfsProvider>,
    pub available: Resources,
    pub total: Resources,
    pub starting_container_count: i32,
    pub lrps: Vec<CellLrp>,
    pub task_guids: Vec<String>,
    pub volume_drivers: Vec<String>,
    pub placement_tags: Vec<String>,
    pub optional_placement_tags: Vec<String>,
    /// Envoy proxy overhead the rep adds to every LRP container (32 MB when proxies are on).
    pub proxy_memory_mb: i32,
    /// Evacuating cells never take part in an auction.
    pub evacuating: bool,
}

impl CellState {
    /// An empty, idle cell (everything available) with no rootfs providers, index 0, no tags.
    pub fn new(cell_id: impl Into<String>, zone: impl Into<String>, total: Resources) -> Self {
        Self {
            cell_id: cell_id.into(),
            cell_index: 0,
            zone: zone.into(),
            rootfs_providers: BTreeMap::new(),
            available: total,
            total,
            starting_container_count: 0,
            lrps: Vec::new(),
            task_guids: Vec::new(),
            volume_drivers: Vec::new(),
            placement_tags: Vec::new(),
            optional_placement_tags: Vec::new(),
            proxy_memory_mb: 0,
            evacuating: false,
        }
    }

    /// Adds `docker` (arbitrary) and `preloaded`/`preloaded+layer` (fixed set of `stacks`),
    /// which is what a default rep advertises.
    pub fn with_standard_providers<S: AsRef<str>>(mut self, stacks: &[S]) -> Self {
        let set: BTreeSet<String> = stacks.iter().map(|s| s.as_ref().to_owned()).collect();
        self.rootfs_providers
            .insert("docker".into(), RootfsProvider::Arbitrary);
        self.rootfs_providers
            .insert("preloaded".into(), RootfsProvider::FixedSet(set.clone()));
        self.rootfs_providers
            .insert("preloaded+layer".into(), RootfsProvider::FixedSet(set));
        self
    }
}

/// One LRP instance to start (one index of an `LRPStartRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LrpStart {
    pub process_guid: String,
    pub domain: String,
    pub index: i32,
    pub memory_mb: i32,
    pub disk_mb: i32,
    /// Carried through to the rep; the auction ignores it (as Diego does).
    pub max_pids: i32,
    pub rootfs: String,
    pub placement_tags: Vec<String>,
    pub volume_drivers: Vec<String>,
}

impl LrpStart {
    pub fn new(
        process_guid: impl Into<String>,
        index: i32,
        memory_mb: i32,
        disk_mb: i32,
        rootfs: impl Into<String>,
    ) -> Self {
        Self {
            process_guid: process_guid.into(),
            domain: String::new(),
            index,
            memory_mb,
            disk_mb,
            max_pids: 0,
            rootfs: rootfs.into(),
            placement_tags: Vec::new(),
            volume_drivers: Vec::new(),
        }
    }
}

/// One task to start.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TaskStart {
    pub task_guid: String,
    pub domain: String,
    pub memory_mb: i32,
    pub disk_mb: i32,
    /// Carried through to the rep; the auction ignores it (as Diego does).
    pub max_pids: i32,
    pub rootfs: String,
    pub placement_tags: Vec<String>,
    pub volume_drivers: Vec<String>,
}

impl TaskStart {
    pub fn new(
        task_guid: impl Into<String>,
        memory_mb: i32,
        disk_mb: i32,
        rootfs: impl Into<String>,
    ) -> Self {
        Self {
            task_guid: task_guid.into(),
            domain: String::new(),
            memory_mb,
            disk_mb,
            max_pids: 0,
            rootfs: rootfs.into(),
            placement_tags: Vec::new(),
            volume_drivers: Vec::new(),
        }
    }
}

/// Auction knobs. `Default` is Diego's (diego-release) defaults.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AuctionConfig {
    /// Score added per container a cell is still starting (`starting_container_weight`).
    pub starting_container_weight: f64,
    /// Score added per position of a cell in its zone (`bin_pack_first_fit_weight`).
    pub bin_pack_first_fit_weight: f64,
    /// In-flight start limit over all cells; 0 means unlimited.
    pub starting_container_count_maximum: i32,
    /// Seeds the shuffle that fixes the cell iteration order, i.e. how score ties break.
    pub seed: u64,
    /// Record a per-cell verdict in every decision. Off by default: it costs one entry per
    /// candidate cell per placement, while the compact tally is always recorded.
    pub explain: bool,
}

impl Default for AuctionConfig {
    fn default() -> Self {
        Self {
            starting_container_weight: 0.25,
            bin_pack_first_fit_weight: 0.0,
            starting_container_count_maximum: 0,
            seed: 0,
            explain: false,
        }
    }
}
