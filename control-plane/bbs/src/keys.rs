//! The key layout. Keys sort so a prefix scan returns an LRP's instances in
//! index order, and each (process guid, index, presence) is one record, as in
//! the original's `actual_lrps` primary key.

use diego_model::Presence;

pub const TASKS: &str = "tasks/";
pub const DESIRED: &str = "desired/";
pub const ACTUAL: &str = "actual/";
pub const DOMAINS: &str = "domains/";

pub fn task(guid: &str) -> String {
    format!("{TASKS}{guid}")
}

pub fn desired(process_guid: &str) -> String {
    format!("{DESIRED}{process_guid}")
}

/// All rows of one LRP: `actual/<pg>/`.
pub fn actual_lrp_prefix(process_guid: &str) -> String {
    format!("{ACTUAL}{process_guid}/")
}

/// All rows of one index: `actual/<pg>/<index>/`.
pub fn actual_index_prefix(process_guid: &str, index: i32) -> String {
    format!("{ACTUAL}{process_guid}/{index:010}/")
}

pub fn actual(process_guid: &str, index: i32, presence: Presence) -> String {
    format!(
        "{}{}",
        actual_index_prefix(process_guid, index),
        presence as i32
    )
}

pub fn domain(name: &str) -> String {
    format!("{DOMAINS}{name}")
}
