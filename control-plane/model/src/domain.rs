//! Domains and their freshness (spec §3.8).

use crate::{TimeNs, NS_PER_S};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Domain {
    pub name: String,
    /// Unix ns after which the domain is no longer fresh; `i64::MAX` = never.
    pub expire_at_ns: TimeNs,
}

impl Domain {
    /// `UpsertDomain(domain, ttl)`: ttl 0 never expires.
    pub fn upsert(name: &str, ttl_s: u32, now_ns: TimeNs) -> Self {
        let expire_at_ns = if ttl_s == 0 {
            i64::MAX
        } else {
            now_ns.saturating_add(i64::from(ttl_s) * NS_PER_S)
        };
        Domain {
            name: name.to_string(),
            expire_at_ns,
        }
    }

    /// Fresh when it expires after "now rounded to the second", as the original
    /// compares (Go's `Time.Round(time.Second)`: to the nearest second, halves up).
    pub fn is_fresh(&self, now_ns: TimeNs) -> bool {
        self.expire_at_ns > round_to_second(now_ns)
    }
}

/// `now` rounded to the nearest whole second (halfway rounds up), as Go's
/// `time.Time.Round(time.Second)` does.
pub fn round_to_second(now_ns: TimeNs) -> TimeNs {
    let rem = now_ns.rem_euclid(NS_PER_S);
    let floor = now_ns - rem;
    if rem >= NS_PER_S / 2 {
        floor.saturating_add(NS_PER_S)
    } else {
        floor
    }
}
