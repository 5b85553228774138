//! The cache's bookkeeping, without IO: committed entries, who uses which
//! version, least-recently-used order and the eviction plan under the size cap.
//!
//! A version of an entry is `(key, gen)`; a newer download of a key replaces
//! the entry with a new generation while readers of the old one finish. Until
//! its last reader is gone the old version is *retired*: not served, but its
//! bytes are still on disk and still count against the cap.

use std::collections::HashMap;

use super::store::Meta;

/// One version of an entry on disk.
pub(crate) type Version = (String, u64);

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub meta: Meta,
    /// Logical clock of the last use; the smallest is evicted first.
    pub last_used: u64,
    /// Bumped whenever the server confirmed the entry (200 stored or 304):
    /// a waiter that sees it change knows a fetch it waited for succeeded.
    pub validated: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    pub entries: HashMap<String, Entry>,
    readers: HashMap<Version, usize>,
    retired: HashMap<Version, u64>,
    clock: u64,
    next_gen: u64,
}

/// What `plan_room` decided: versions whose files go now, or that the new
/// entry cannot fit without evicting something in use.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Room {
    Fits { evict: Vec<Version> },
    NoRoom,
}

impl Index {
    pub fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    pub fn next_gen(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    /// Entries found on disk at start, oldest commit first (so LRU starts in commit order).
    pub fn load(&mut self, mut metas: Vec<Meta>) {
        metas.sort_by_key(|m| m.committed_unix_ms);
        for meta in metas {
            self.next_gen = self.next_gen.max(meta.gen);
            let last_used = self.tick();
            self.entries.insert(
                meta.key.clone(),
                Entry {
                    meta,
                    last_used,
                    validated: 0,
                },
            );
        }
    }

    pub fn used_bytes(&self) -> u64 {
        self.entries.values().map(|e| e.meta.size).sum::<u64>() + self.retired.values().sum::<u64>()
    }

    pub fn in_use(&self, version: &Version) -> bool {
        self.readers.get(version).copied().unwrap_or(0) > 0
    }

    /// Marks the current version of `key` in use; returns it.
    pub fn acquire(&mut self, key: &str) -> Option<(Version, Meta)> {
        let now = self.tick();
        let entry = self.entries.get_mut(key)?;
        entry.last_used = now;
        let version = (key.to_string(), entry.meta.gen);
        let meta = entry.meta.clone();
        *self.readers.entry(version.clone()).or_default() += 1;
        Some((version, meta))
    }

    /// A reader is done; returns true when the version was retired and nobody
    /// reads it any more, so its file can go.
    pub fn release(&mut self, version: &Version) -> bool {
        if let Some(n) = self.readers.get_mut(version) {
            *n -= 1;
            if *n == 0 {
                self.readers.remove(version);
            }
        }
        if !self.in_use(version) && self.retired.remove(version).is_some() {
            return true;
        }
        false
    }

    /// Drops `key`'s entry (a replaced or uncacheable artifact). Returns the
    /// version when its file can be deleted now; one in use is retired instead.
    pub fn remove(&mut self, key: &str) -> Option<Version> {
        let entry = self.entries.remove(key)?;
        let version = (key.to_string(), entry.meta.gen);
        if self.in_use(&version) {
            self.retired.insert(version, entry.meta.size);
            None
        } else {
            Some(version)
        }
    }

    /// Which unused entries to evict, least recently used first, so that
    /// `incoming` more bytes stay within `max_bytes`. `replacing` is the key
    /// the incoming entry replaces: its current version leaves anyway.
    pub fn plan_room(&self, incoming: u64, max_bytes: u64, replacing: &str) -> Room {
        if incoming > max_bytes {
            return Room::NoRoom;
        }
        let mut used = self.used_bytes();
        let mut evict = Vec::new();
        if let Some(old) = self.entries.get(replacing) {
            let version = (replacing.to_string(), old.meta.gen);
            // An old version in use stays on disk (retired) and keeps counting.
            if !self.in_use(&version) {
                used -= old.meta.size;
                evict.push(version);
            }
        }
        let mut candidates: Vec<(&String, &Entry)> = self
            .entries
            .iter()
            .filter(|(k, e)| k.as_str() != replacing && !self.in_use(&(k.to_string(), e.meta.gen)))
            .collect();
        candidates.sort_by_key(|(_, e)| e.last_used);
        let mut candidates = candidates.into_iter();
        while used + incoming > max_bytes {
            match candidates.next() {
                Some((k, e)) => {
                    used -= e.meta.size;
                    evict.push((k.clone(), e.meta.gen));
                }
                None => return Room::NoRoom,
            }
        }
        Room::Fits { evict }
    }

    /// Applies a plan from `plan_room`: the evicted entries leave the index.
    pub fn evict(&mut self, versions: &[Version]) {
        for (key, gen) in versions {
            if self.entries.get(key).is_some_and(|e| e.meta.gen == *gen) {
                self.entries.remove(key);
            }
        }
    }

    /// Commits a new version of `meta.key`; the caller evicted the old one
    /// through the plan, or it is in use and is retired here.
    pub fn insert(&mut self, meta: Meta, validated: u64) -> Option<Version> {
        let freed = self.remove(&meta.key);
        let last_used = self.tick();
        self.entries.insert(
            meta.key.clone(),
            Entry {
                meta,
                last_used,
                validated,
            },
        );
        freed
    }

    /// Eviction down to the cap of entries nobody uses (the cap was lowered between runs).
    pub fn shrink_to(&mut self, max_bytes: u64) -> Vec<Version> {
        match self.plan_room(0, max_bytes, "") {
            Room::Fits { evict } => {
                self.evict(&evict);
                evict
            }
            Room::NoRoom => {
                // nothing at start is in use, so this only happens with max 0: drop all
                let all: Vec<Version> = self
                    .entries
                    .iter()
                    .map(|(k, e)| (k.clone(), e.meta.gen))
                    .collect();
                self.evict(&all);
                all
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, gen: u64, size: u64) -> Meta {
        Meta {
            key: key.into(),
            gen,
            size,
            committed_unix_ms: gen,
            ..Meta::default()
        }
    }

    fn index(entries: &[(&str, u64)]) -> Index {
        let mut ix = Index::default();
        for (i, (key, size)) in entries.iter().enumerate() {
            let gen = ix.next_gen();
            assert_eq!(gen, i as u64 + 1);
            ix.insert(meta(key, gen, *size), 0);
        }
        ix
    }

    #[test]
    fn eviction_takes_the_least_recently_used_first() {
        let mut ix = index(&[("a", 40), ("b", 40), ("c", 20)]);
        ix.acquire("a").map(|(v, _)| ix.release(&v));
        // b is now the oldest use
        assert_eq!(
            ix.plan_room(30, 100, "new"),
            Room::Fits {
                evict: vec![("b".into(), 2)]
            }
        );
    }

    #[test]
    fn entries_in_use_are_never_evicted() {
        let mut ix = index(&[("a", 60), ("b", 30)]);
        let (held, _) = ix.acquire("a").unwrap();
        assert_eq!(
            ix.plan_room(60, 100, "new"),
            Room::NoRoom,
            "only b (30) is free, a (60) is in use"
        );
        assert_eq!(
            ix.plan_room(40, 100, "new"),
            Room::Fits {
                evict: vec![("b".into(), 2)]
            }
        );
        ix.release(&held);
        assert!(matches!(ix.plan_room(60, 100, "new"), Room::Fits { .. }));
    }

    #[test]
    fn a_replaced_version_in_use_is_retired_and_still_counts() {
        let mut ix = index(&[("a", 50)]);
        let (old, _) = ix.acquire("a").unwrap();
        let gen = ix.next_gen();
        assert_eq!(ix.insert(meta("a", gen, 30), 1), None, "old is in use");
        assert_eq!(ix.used_bytes(), 80);
        assert!(ix.release(&old), "the last reader frees the retired file");
        assert_eq!(ix.used_bytes(), 30);
    }

    #[test]
    fn too_big_for_the_cap_is_not_cached() {
        let ix = index(&[]);
        assert_eq!(ix.plan_room(101, 100, "a"), Room::NoRoom);
        assert_eq!(ix.plan_room(100, 100, "a"), Room::Fits { evict: vec![] });
    }

    #[test]
    fn replacing_frees_the_old_version_first() {
        let ix = index(&[("a", 80), ("b", 10)]);
        assert_eq!(
            ix.plan_room(85, 100, "a"),
            Room::Fits {
                evict: vec![("a".into(), 1)]
            }
        );
    }

    #[test]
    fn shrink_at_start_evicts_down_to_a_lowered_cap() {
        let mut ix = Index::default();
        ix.load(vec![meta("x", 7, 50), meta("y", 3, 50)]);
        assert_eq!(ix.shrink_to(60), vec![("y".to_string(), 3)]);
        assert_eq!(
            ix.next_gen(),
            8,
            "generations continue after the highest found"
        );
    }
}
