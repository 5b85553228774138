//! Cell presence (spec §3.7): what a cell advertises about itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CellCapacity {
    pub memory_mb: i32,
    pub disk_mb: i32,
    pub containers: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Provider {
    pub name: String,
    pub properties: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CellPresence {
    pub cell_id: String,
    pub rep_address: String,
    pub zone: String,
    pub capacity: CellCapacity,
    #[serde(rename = "rootfs_provider_list")]
    pub rootfs_providers: Vec<Provider>,
    pub placement_tags: Vec<String>,
    pub optional_placement_tags: Vec<String>,
    pub rep_url: String,
    pub annotations: BTreeMap<String, String>,
}

impl CellPresence {
    /// Validation of spec §3.7.
    pub fn validate(&self) -> Result<(), crate::ModelError> {
        use crate::ModelError as E;
        if self.cell_id.is_empty() {
            return Err(E::invalid_field("cell_id", "must not be empty"));
        }
        if self.rep_address.is_empty() {
            return Err(E::invalid_field("rep_address", "must not be empty"));
        }
        if !self.rep_url.is_empty()
            && !self.rep_url.starts_with("http://")
            && !self.rep_url.starts_with("https://")
        {
            return Err(E::invalid_field(
                "rep_url",
                "must begin with http:// or https://",
            ));
        }
        if self.capacity.memory_mb <= 0 {
            return Err(E::invalid_field(
                "capacity.memory_mb",
                "must be greater than 0",
            ));
        }
        if self.capacity.disk_mb < 0 {
            return Err(E::invalid_field("capacity.disk_mb", "must not be negative"));
        }
        if self.capacity.containers <= 0 {
            return Err(E::invalid_field(
                "capacity.containers",
                "must be greater than 0",
            ));
        }
        if self
            .annotations
            .iter()
            .any(|(k, v)| k.is_empty() || v.is_empty())
        {
            return Err(E::invalid_field(
                "annotations",
                "keys and values must not be empty",
            ));
        }
        Ok(())
    }
}
