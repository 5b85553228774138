//! Large scans opened and decoded on every core, in one pass per record
//! (docs/adr/0027-convergence-pass-under-a-second.md).
//!
//! A list of every ActualLRP is hundreds of thousands of records: each is
//! decrypted (when the store seals values), protobuf-decoded and converted
//! to its domain type. Doing the decode on one async worker after the store
//! had decrypted everything cost more than the store read itself; here a
//! record is opened and decoded by the same thread while its bytes are in
//! cache, and its sealed buffer is freed there too.

use std::sync::Mutex;

use diego_store::{Record as StoreRecord, Revision, SealedScan, StoreError};
use rayon::prelude::*;

use crate::codec::{self, Record};
use crate::error::{BbsError, Result};

/// Below this many records a scan is decoded where it was read: handing
/// the work to other threads costs more than it saves.
const PARALLEL_MIN_RECORDS: usize = 2048;

/// One record's outcome: kept, skipped (undecodable), or the scan fails.
/// The record is opened in place and left to the caller to drop: records
/// were allocated by the thread that scanned them, and freeing them from
/// several decoding threads at once contends on that thread's heap.
fn one<T: Record, U>(
    scan: &SealedScan,
    rec: &mut StoreRecord,
    keep: &(impl Fn(&mut StoreRecord, T) -> U + Sync),
    failed: &Mutex<Option<StoreError>>,
) -> Option<U> {
    if let Err(e) = scan.open(rec) {
        // a record that fails to open fails the whole read, as the
        // store's own scan does: a wrong key must not look like no data
        failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(e);
        return None;
    }
    match codec::decode::<T>(&rec.key, &rec.value) {
        Ok(value) => Some(keep(rec, value)),
        // The original deletes undecodable rows when it meets them; we skip
        // and log instead, so a codec bug can never destroy data.
        Err(e) => {
            tracing::warn!(error = %e, "skipping unreadable record");
            None
        }
    }
}

/// Opens and decodes every record of `scan` (in key order), mapping each
/// with `keep` (the record as read, its decoded value). Undecodable records
/// are logged and skipped; a record that cannot be opened fails the read.
/// Large scans run on the blocking pool and every core.
pub(crate) async fn decode_scan<T, U, F>(scan: SealedScan, keep: F) -> Result<Vec<U>>
where
    T: Record + Send,
    U: Send + 'static,
    F: Fn(&mut StoreRecord, T) -> U + Send + Sync + 'static,
{
    let large = scan.records.len() >= PARALLEL_MIN_RECORDS;
    let run = move || -> Result<Vec<U>> {
        let failed = Mutex::new(None);
        let mut records = scan.records;
        let scan = SealedScan {
            records: Vec::new(),
            ..scan
        };
        let out: Vec<Option<U>> = if !large {
            records
                .iter_mut()
                .map(|r| one(&scan, r, &keep, &failed))
                .collect()
        } else {
            records
                .par_iter_mut()
                .map(|r| one(&scan, r, &keep, &failed))
                .collect()
        };
        drop(records);
        if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(BbsError::Store(e));
        }
        Ok(out.into_iter().flatten().collect())
    };
    if !large {
        return run();
    }
    off_async_workers(run).await
}

/// Runs `run` on the blocking pool when there is a runtime: a large decode
/// would stall the other tasks of its async worker.
async fn off_async_workers<R: Send + 'static>(
    run: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
    if tokio::runtime::Handle::try_current().is_err() {
        return run();
    }
    tokio::task::spawn_blocking(run)
        .await
        .map_err(|e| BbsError::Store(StoreError::Backend(format!("decode task failed: {e}"))))?
}

/// The records of one prefix as decoded, with the key, mod revision and
/// fingerprint of the stored bytes each was read at, in key order. Kept
/// between convergence passes: a record whose key, mod revision and
/// fingerprint are unchanged holds the same bytes, so its decoded value is
/// reused instead of opened and decoded again (ADR 0030: the revision alone
/// cannot tell a store restored in place that has since climbed past the
/// cached revision).
pub(crate) struct ScanCache<T> {
    pub keys: Vec<String>,
    pub mod_revisions: Vec<Revision>,
    pub fingerprints: Vec<u64>,
    pub values: Vec<T>,
    /// The store revision the rows were scanned at.
    pub revision: Revision,
}

impl<T> Default for ScanCache<T> {
    fn default() -> Self {
        ScanCache {
            keys: Vec::new(),
            mod_revisions: Vec::new(),
            fingerprints: Vec::new(),
            values: Vec::new(),
            revision: 0,
        }
    }
}

/// A 64-bit fingerprint of a record's bytes as the store holds them
/// (sealed, when the store encrypts: then every write has a fresh random
/// nonce and different bytes). Two different byte strings share one with
/// a chance of about 2^-64; foldhash reads them at several GB/s.
pub(crate) fn fingerprint(stored: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x0030_d1e9_0c0a_c4e5).hash_one(stored)
}

/// The fingerprints of every scanned record, in scan order, taken before
/// any of them is opened (opening decrypts in place).
fn fingerprints(records: &[StoreRecord]) -> Vec<u64> {
    if records.len() < PARALLEL_MIN_RECORDS {
        records.iter().map(|r| fingerprint(&r.value)).collect()
    } else {
        records.par_iter().map(|r| fingerprint(&r.value)).collect()
    }
}

/// What one refresh did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refreshed {
    pub reused: usize,
    pub decoded: usize,
}

/// Brings `cache` up to `scan` (taken at a later revision of the same
/// store): records with the cached key, mod revision and fingerprint keep
/// their value, new and changed ones are opened and decoded (on every core
/// when there are many), records gone from the scan are dropped. Undecodable records are logged and skipped;
/// one that cannot be opened fails the read.
pub(crate) async fn refresh<T>(
    cache: ScanCache<T>,
    scan: SealedScan,
) -> Result<(ScanCache<T>, Refreshed)>
where
    T: Record + Default + Send + 'static,
{
    off_async_workers(move || merge(cache, scan)).await
}

fn merge<T: Record + Default + Send>(
    cache: ScanCache<T>,
    mut scan: SealedScan,
) -> Result<(ScanCache<T>, Refreshed)> {
    let cache = if scan.revision < cache.revision {
        // the store went back in time (restored in place): a key and
        // revision seen before may now name other bytes, so trust nothing
        tracing::warn!(
            cached = cache.revision,
            scanned = scan.revision,
            "store revision went backwards; decoding every record again"
        );
        ScanCache::default()
    } else {
        cache
    };
    let prints = fingerprints(&scan.records);
    let n = scan.records.len();
    let same_keys = cache.keys.len() == n
        && cache
            .keys
            .iter()
            .zip(&scan.records)
            .all(|(k, r)| *k == r.key);
    if same_keys {
        // the usual pass: no record came or went, so the cache is updated
        // in place instead of moved into new (freshly faulted-in) vectors
        return update_in_place(cache, scan, prints);
    }
    let mut out = ScanCache {
        keys: Vec::with_capacity(n),
        mod_revisions: Vec::with_capacity(n),
        fingerprints: prints,
        values: Vec::with_capacity(n),
        revision: scan.revision,
    };
    let mut old = cache
        .keys
        .into_iter()
        .zip(cache.mod_revisions.into_iter().zip(cache.fingerprints))
        .zip(cache.values)
        .peekable();
    // (position in `out`, the record to decode there)
    let mut fresh: Vec<(usize, StoreRecord)> = Vec::new();
    for (at, rec) in std::mem::take(&mut scan.records).into_iter().enumerate() {
        // both sides are in key order: cached rows before this key are gone
        while old
            .peek()
            .is_some_and(|((k, _), _)| k.as_str() < rec.key.as_str())
        {
            old.next();
        }
        let print = out.fingerprints[at];
        let unchanged = old
            .peek()
            .is_some_and(|((k, (r, f)), _)| *k == rec.key && *r == rec.mod_revision && *f == print);
        out.mod_revisions.push(rec.mod_revision);
        if unchanged {
            let ((key, _), value) = old.next().expect("peeked");
            out.keys.push(key);
            out.values.push(value);
        } else {
            // the key moves over when the record is decoded
            out.keys.push(String::new());
            out.values.push(T::default());
            fresh.push((out.values.len() - 1, rec));
        }
    }
    drop(old);
    finish(out, fresh, &scan)
}

/// `merge` when the cache holds exactly the scanned keys, in order.
fn update_in_place<T: Record + Default + Send>(
    mut cache: ScanCache<T>,
    mut scan: SealedScan,
    prints: Vec<u64>,
) -> Result<(ScanCache<T>, Refreshed)> {
    let mut fresh = Vec::new();
    cache.revision = scan.revision;
    for ((at, rec), print) in std::mem::take(&mut scan.records)
        .into_iter()
        .enumerate()
        .zip(prints)
    {
        // a record rewritten by a restore can carry the revision the cache
        // saw: only its bytes tell
        if cache.mod_revisions[at] != rec.mod_revision || cache.fingerprints[at] != print {
            cache.mod_revisions[at] = rec.mod_revision;
            cache.fingerprints[at] = print;
            fresh.push((at, rec));
        }
    }
    finish(cache, fresh, &scan)
}

/// One place of the first pass's decode: value, key, decoded-ok flag, and
/// the record that fills them.
type Slot<'a, T> = (
    ((&'a mut T, &'a mut String), &'a mut bool),
    &'a mut (usize, StoreRecord),
);

/// Decodes the `fresh` records into their places in `out`.
fn finish<T: Record + Default + Send>(
    mut out: ScanCache<T>,
    fresh: Vec<(usize, StoreRecord)>,
    scan: &SealedScan,
) -> Result<(ScanCache<T>, Refreshed)> {
    let n = out.values.len();
    let stats = Refreshed {
        reused: n - fresh.len(),
        decoded: fresh.len(),
    };
    let failed = Mutex::new(None);
    let mut fresh = fresh;
    let mut skipped = Vec::new();
    if fresh.len() == n {
        // every record is fresh (the first pass), at positions 0..n in
        // order: decode straight into place, no intermediate vector
        let mut ok = vec![true; n];
        let work = |(((slot, key), ok), (_, rec)): Slot<'_, T>| {
            match one(scan, rec, &|_, v: T| v, &failed) {
                Some(v) => *slot = v,
                None => *ok = false,
            }
            *key = std::mem::take(&mut rec.key);
        };
        if n < PARALLEL_MIN_RECORDS {
            out.values
                .iter_mut()
                .zip(out.keys.iter_mut())
                .zip(ok.iter_mut())
                .zip(fresh.iter_mut())
                .for_each(work);
        } else {
            out.values
                .par_iter_mut()
                .zip(out.keys.par_iter_mut())
                .zip(ok.par_iter_mut())
                .zip(fresh.par_iter_mut())
                .for_each(work);
        }
        drop(fresh);
        skipped.extend(
            ok.iter()
                .enumerate()
                .filter(|(_, k)| !**k)
                .map(|(at, _)| at),
        );
    } else {
        let decode = |(at, rec): &mut (usize, StoreRecord)| {
            let value = one(scan, rec, &|_, v: T| v, &failed);
            (*at, std::mem::take(&mut rec.key), value)
        };
        let decoded: Vec<(usize, String, Option<T>)> = if fresh.len() < PARALLEL_MIN_RECORDS {
            fresh.iter_mut().map(decode).collect()
        } else {
            fresh.par_iter_mut().map(decode).collect()
        };
        drop(fresh);
        for (at, key, value) in decoded {
            out.keys[at] = key;
            match value {
                Some(v) => out.values[at] = v,
                None => skipped.push(at),
            }
        }
    }
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(BbsError::Store(e));
    }
    if !skipped.is_empty() {
        // rare: undecodable records leave the cache and the result
        let mut keep = vec![true; n];
        for at in skipped {
            keep[at] = false;
        }
        out = ScanCache {
            keys: marked(out.keys, &keep),
            mod_revisions: marked(out.mod_revisions, &keep),
            fingerprints: marked(out.fingerprints, &keep),
            values: marked(out.values, &keep),
            revision: out.revision,
        };
    }
    Ok((out, stats))
}

/// The items whose `keep` flag is set.
fn marked<X>(items: Vec<X>, keep: &[bool]) -> Vec<X> {
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(x, &k)| k.then_some(x))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use diego_model::DesiredLrp;

    fn scan(revision: Revision, mod_revision: Revision, annotation: &str) -> SealedScan {
        let value = DesiredLrp {
            process_guid: "pg".into(),
            annotation: annotation.into(),
            ..Default::default()
        };
        SealedScan {
            records: vec![StoreRecord {
                key: "desired/pg".into(),
                value: codec::encode(&value),
                mod_revision,
            }],
            revision,
            opener: None,
        }
    }

    #[tokio::test]
    async fn a_store_that_went_back_in_time_is_decoded_again() {
        let (cache, first) = refresh(ScanCache::<DesiredLrp>::default(), scan(10, 9, "old"))
            .await
            .unwrap();
        assert_eq!((first.decoded, cache.revision), (1, 10));
        let (cache, again) = refresh(cache, scan(11, 9, "old")).await.unwrap();
        assert_eq!((again.reused, again.decoded), (1, 0), "unchanged: reused");
        // restored to revision 5, then the key written again at revision 9
        let (cache, rewound) = refresh(cache, scan(9, 9, "new")).await.unwrap();
        assert_eq!(
            rewound.decoded, 1,
            "the same key and revision is not trusted"
        );
        assert_eq!(cache.values[0].annotation, "new");
    }

    #[tokio::test]
    async fn a_restored_store_past_the_cached_revision_is_decoded_again() {
        let (cache, _) = refresh(ScanCache::<DesiredLrp>::default(), scan(10, 9, "live"))
            .await
            .unwrap();
        // restored to revision 8, the key written again at 9 and the store
        // already at 12: the revision check alone cannot see it
        let (cache, restored) = refresh(cache, scan(12, 9, "restored")).await.unwrap();
        assert_eq!((restored.reused, restored.decoded), (0, 1));
        assert_eq!(cache.values[0].annotation, "restored");
        // the same through the merge path (the keys differ from the cache's)
        let mut two = scan(13, 9, "live");
        two.records.insert(
            0,
            StoreRecord {
                key: "desired/a".into(),
                value: codec::encode(&DesiredLrp::default()),
                mod_revision: 13,
            },
        );
        let (cache, merged) = refresh(cache, two).await.unwrap();
        assert_eq!((merged.reused, merged.decoded), (0, 2));
        assert_eq!(cache.values[1].annotation, "live");
    }

    /// A tiny deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Values "sealed" by xor with a per-write pad byte stored in front
    /// (as a random nonce makes each write's bytes differ), so the cache
    /// sees sealed bytes and must open them.
    fn sealed_scan(
        rows: &std::collections::BTreeMap<String, (Revision, u8, Vec<u8>)>,
        revision: Revision,
    ) -> SealedScan {
        let opener: diego_store::RecordOpener = std::sync::Arc::new(|r: &mut StoreRecord| {
            let (&pad, rest) = r
                .value
                .split_first()
                .ok_or_else(|| StoreError::Backend("empty sealed value".into()))?;
            r.value = rest.iter().map(|b| b ^ pad).collect();
            Ok(())
        });
        SealedScan {
            records: rows
                .iter()
                .map(|(key, (rev, pad, plain))| StoreRecord {
                    key: key.clone(),
                    value: std::iter::once(*pad)
                        .chain(plain.iter().map(|b| b ^ pad))
                        .collect(),
                    mod_revision: *rev,
                })
                .collect(),
            revision,
            opener: Some(opener),
        }
    }

    #[tokio::test]
    async fn a_refreshed_cache_always_equals_a_cold_read() {
        for (seed, size) in [(0x9e37_79b9_7f4a_7c15u64, 40u64), (7, 3000), (12345, 300)] {
            let mut rng = Rng(seed);
            let mut rows = std::collections::BTreeMap::new();
            let mut revision: Revision = 0;
            let mut cache = ScanCache::<DesiredLrp>::default();
            for round in 0..12 {
                // a few changes per round, of every kind
                for _ in 0..rng.below(size / 4 + 2) {
                    let key = format!("desired/pg-{:05}", rng.below(size));
                    let pad = rng.below(256) as u8;
                    let value = DesiredLrp {
                        process_guid: key.clone(),
                        instances: rng.below(9) as i32,
                        annotation: format!("round {round}"),
                        ..Default::default()
                    };
                    match rng.below(10) {
                        0 => {
                            rows.remove(&key);
                        }
                        // undecodable bytes are skipped by both reads
                        1 => {
                            revision += 1;
                            rows.insert(key, (revision, pad, vec![7, 7, 7]));
                        }
                        // a restore: the same key and revision, other bytes
                        2 => {
                            if let Some((rev, _, _)) = rows.get(&key).cloned() {
                                rows.insert(key, (rev, pad, codec::encode(&value)));
                            }
                        }
                        _ => {
                            revision += 1;
                            rows.insert(key, (revision, pad, codec::encode(&value)));
                        }
                    }
                }
                let (warm, _) = refresh(cache, sealed_scan(&rows, revision)).await.unwrap();
                let (cold, _) = refresh(ScanCache::default(), sealed_scan(&rows, revision))
                    .await
                    .unwrap();
                let what = format!("seed {seed}, round {round}");
                assert_eq!(warm.keys, cold.keys, "{what}");
                assert_eq!(warm.mod_revisions, cold.mod_revisions, "{what}");
                assert_eq!(warm.fingerprints, cold.fingerprints, "{what}");
                assert_eq!(warm.values, cold.values, "{what}");
                assert_eq!(warm.revision, cold.revision, "{what}");
                cache = warm;
            }
        }
    }
}
