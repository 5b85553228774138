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

/// The records of one prefix as decoded, with the key and revision each
/// was read at, in key order. Kept between convergence passes: a record
/// whose key and mod revision are unchanged holds the same bytes (every
/// write takes a new revision), so its decoded value is reused instead of
/// opened and decoded again.
pub(crate) struct ScanCache<T> {
    pub keys: Vec<String>,
    pub mod_revisions: Vec<Revision>,
    pub values: Vec<T>,
    /// The store revision the rows were scanned at.
    pub revision: Revision,
}

impl<T> Default for ScanCache<T> {
    fn default() -> Self {
        ScanCache {
            keys: Vec::new(),
            mod_revisions: Vec::new(),
            values: Vec::new(),
            revision: 0,
        }
    }
}

/// What one refresh did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refreshed {
    pub reused: usize,
    pub decoded: usize,
}

/// Brings `cache` up to `scan` (taken at a later revision of the same
/// store): unchanged records keep their value, new and changed ones are
/// opened and decoded (on every core when there are many), records gone
/// from the scan are dropped. Undecodable records are logged and skipped;
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
        return update_in_place(cache, scan);
    }
    let mut out = ScanCache {
        keys: Vec::with_capacity(n),
        mod_revisions: Vec::with_capacity(n),
        values: Vec::with_capacity(n),
        revision: scan.revision,
    };
    let mut old = cache
        .keys
        .into_iter()
        .zip(cache.mod_revisions)
        .zip(cache.values)
        .peekable();
    // (position in `out`, the record to decode there)
    let mut fresh: Vec<(usize, StoreRecord)> = Vec::new();
    for rec in std::mem::take(&mut scan.records) {
        // both sides are in key order: cached rows before this key are gone
        while old
            .peek()
            .is_some_and(|((k, _), _)| k.as_str() < rec.key.as_str())
        {
            old.next();
        }
        let unchanged = old
            .peek()
            .is_some_and(|((k, r), _)| *k == rec.key && *r == rec.mod_revision);
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
) -> Result<(ScanCache<T>, Refreshed)> {
    let mut fresh = Vec::new();
    cache.revision = scan.revision;
    for (at, rec) in std::mem::take(&mut scan.records).into_iter().enumerate() {
        if cache.mod_revisions[at] != rec.mod_revision {
            cache.mod_revisions[at] = rec.mod_revision;
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
}
