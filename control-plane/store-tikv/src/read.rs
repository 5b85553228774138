//! Reads: each one runs in a read-only TiKV snapshot at a fresh PD
//! timestamp, so a scan and the revision it reports are one snapshot.

use diego_store::{LogEntry, Record, Revision, StoreError};
use tikv_client::{Error, Key, KvPair, Snapshot, TransactionOptions};

use crate::layout::{decode_entries, decode_record, decode_rev, decode_u64, prefix_end};
use crate::retry::retrying;
use crate::store::Shared;

/// A read-only snapshot of everything committed before now.
pub(crate) async fn snapshot(shared: &Shared) -> Result<Snapshot, Error> {
    let ts = shared.client.current_timestamp().await?;
    Ok(shared
        .client
        .snapshot(ts, TransactionOptions::new_optimistic().read_only()))
}

/// Our revision and the commit id that wrote it (empty before the first
/// commit), from raw counter bytes.
pub(crate) fn rev_of(raw: Option<Vec<u8>>) -> Result<(Revision, Vec<u8>), StoreError> {
    match raw {
        None => Ok((0, Vec::new())),
        Some(bytes) => {
            let (revision, id) = decode_rev(&bytes)?;
            Ok((revision, id.to_vec()))
        }
    }
}

pub(crate) async fn current(shared: &Shared) -> Result<(Revision, Vec<u8>), StoreError> {
    let raw = retrying(
        &shared.pd,
        shared.opts.retry_budget,
        "read revision",
        || async move { snapshot(shared).await?.get(shared.layout.rev()).await },
    )
    .await?;
    rev_of(raw)
}

/// One attempt at reading the counter, for the poller (which has its own
/// backoff and must not sit in a retry budget).
pub(crate) async fn current_once(shared: &Shared) -> Result<Revision, StoreError> {
    let raw = snapshot(shared)
        .await
        .map_err(|e| crate::retry::backend(&shared.pd, "poll revision", e))?
        .get(shared.layout.rev())
        .await
        .map_err(|e| crate::retry::backend(&shared.pd, "poll revision", e))?;
    Ok(rev_of(raw)?.0)
}

fn to_record(shared: &Shared, pair: KvPair) -> Result<Record, StoreError> {
    let (key, value) = pair.into();
    let key = shared.layout.user_key(&Vec::<u8>::from(key))?;
    let (mod_revision, bytes) = decode_record(&value)?;
    Ok(Record {
        key,
        value: bytes.to_vec(),
        mod_revision,
    })
}

pub(crate) async fn get(shared: &Shared, key: &str) -> Result<Option<Record>, StoreError> {
    let tikv_key = shared.layout.record(key);
    let raw = retrying(&shared.pd, shared.opts.retry_budget, "get", || {
        let key = tikv_key.clone();
        async move { snapshot(shared).await?.get(key).await }
    })
    .await?;
    raw.map(|value| to_record(shared, KvPair::new(tikv_key, value)))
        .transpose()
}

/// The counter and every record under the prefix, paged, in one snapshot.
pub(crate) async fn scan_prefix(
    shared: &Shared,
    prefix: &str,
) -> Result<(Vec<Record>, Revision), StoreError> {
    let start = shared.layout.record(prefix);
    let end = prefix_end(&start);
    let page = shared.opts.scan_page_records.max(1);
    let (counter, pairs) = retrying(&shared.pd, shared.opts.retry_budget, "scan", || {
        let (start, end) = (start.clone(), end.clone());
        async move {
            let mut snap = snapshot(shared).await?;
            let counter = snap.get(shared.layout.rev()).await?;
            let mut pairs: Vec<KvPair> = Vec::new();
            let mut from = start;
            loop {
                let batch: Vec<KvPair> = snap
                    .scan(Key::from(from.clone())..Key::from(end.clone()), page)
                    .await?
                    .collect();
                let full = batch.len() == page as usize;
                pairs.extend(batch);
                match pairs.last() {
                    Some(last) if full => {
                        // the next key after `last` in byte order
                        from = Vec::<u8>::from(last.key().clone());
                        from.push(0);
                    }
                    _ => return Ok((counter, pairs)),
                }
            }
        }
    })
    .await?;
    let records = pairs
        .into_iter()
        .map(|pair| to_record(shared, pair))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((records, rev_of(counter)?.0))
}

pub(crate) async fn compacted_in(
    snap: &mut Snapshot,
    shared: &Shared,
) -> Result<Option<Vec<u8>>, Error> {
    snap.get(shared.layout.compacted()).await
}

pub(crate) fn compaction_point(raw: Option<Vec<u8>>) -> Result<Revision, StoreError> {
    raw.map(|bytes| decode_u64(&bytes, "compaction point"))
        .transpose()
        .map(Option::unwrap_or_default)
}

pub(crate) async fn log_since(
    shared: &Shared,
    after: Revision,
    limit: usize,
) -> Result<Vec<LogEntry>, StoreError> {
    let first = after.saturating_add(1);
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    let (compacted, pairs) = retrying(
        &shared.pd,
        shared.opts.retry_budget,
        "read log",
        || async move {
            let mut snap = snapshot(shared).await?;
            let compacted = compacted_in(&mut snap, shared).await?;
            if limit == 0 || after == Revision::MAX {
                return Ok((compacted, Vec::new()));
            }
            let range = Key::from(shared.layout.log(first))..Key::from(shared.layout.log_end());
            let pairs: Vec<KvPair> = snap.scan(range, limit).await?.collect();
            Ok((compacted, pairs))
        },
    )
    .await?;
    let compacted = compaction_point(compacted)?;
    if after < compacted {
        return Err(StoreError::Compacted {
            asked: after,
            oldest: compacted,
        });
    }
    let mut out = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let (key, value) = pair.into();
        let key = Vec::<u8>::from(key);
        let revision = shared.layout.log_revision(&key)?;
        let entries = decode_entries(&value).map_err(|reason| StoreError::Envelope {
            key: String::from_utf8_lossy(&key).into_owned(),
            reason,
        })?;
        out.push(LogEntry { revision, entries });
    }
    Ok(out)
}
