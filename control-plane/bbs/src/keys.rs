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

/// Whether `key` is the row key of (process guid, index, presence), checked
/// without building it (one call per row of a 250,000-row scan).
pub fn is_actual(key: &str, process_guid: &str, index: i32, presence: Presence) -> bool {
    let Some(rest) = key
        .strip_prefix(ACTUAL)
        .and_then(|r| r.strip_prefix(process_guid))
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    let Some((idx, p)) = rest.split_once('/') else {
        return false;
    };
    // `{index:010}`: at least ten characters, zero padded
    idx.len() >= 10
        && idx.parse::<i32>() == Ok(index)
        && p.len() == 1
        && p.as_bytes()[0] == b'0' + presence as u8
}

pub fn domain(name: &str) -> String {
    format!("{DOMAINS}{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_key_is_recognised_without_building_it() {
        for (pg, index, p) in [
            ("pg-1", 0, Presence::Ordinary),
            ("pg/with/slash", 12, Presence::Suspect),
            ("x", -3, Presence::Evacuating),
            ("x", i32::MAX, Presence::Ordinary),
        ] {
            let key = actual(pg, index, p);
            assert!(is_actual(&key, pg, index, p), "{key}");
            assert!(!is_actual(&key, pg, index ^ 1, p), "{key}");
            assert!(!is_actual(&key, "pg", index, p), "{key}");
            assert!(!is_actual(&key, pg, index, Presence::Suspect) || p == Presence::Suspect);
        }
        assert!(!is_actual("actual/pg/5/0", "pg", 5, Presence::Ordinary));
        assert!(!is_actual("desired/pg", "pg", 0, Presence::Ordinary));
        assert!(!is_actual(
            "actual/pg/0000000000/0/x",
            "pg",
            0,
            Presence::Ordinary
        ));
    }
}
