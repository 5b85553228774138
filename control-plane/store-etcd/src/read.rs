//! Reads: single keys, prefix scans pinned to one etcd revision, the change
//! log and our revision counter.

use diego_store::{LogEntry, Record, Revision, StoreError};
use etcd_client::{GetOptions, GetResponse, KeyValue};

use crate::layout::{decode_entries, decode_record, decode_rev, decode_u64, prefix_end};
use crate::retry::retrying;
use crate::Shared;

/// Our revision counter as read at one etcd revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RevRead {
    pub(crate) revision: Revision,
    /// The etcd mod revision of the counter key (0 before the first commit).
    pub(crate) key_mod: i64,
    /// The etcd revision the read saw; later reads pinned to it see the
    /// same snapshot.
    pub(crate) etcd_revision: i64,
}

async fn get_raw(
    shared: &Shared,
    key: Vec<u8>,
    options: Option<GetOptions>,
    what: &str,
) -> Result<GetResponse, StoreError> {
    retrying(&shared.endpoints, shared.opts.retry_budget, what, || {
        let mut kv = shared.kv.clone();
        let key = key.clone();
        let options = options.clone();
        async move { kv.get(key, options).await }
    })
    .await
}

fn header_revision(resp: &GetResponse) -> i64 {
    resp.header().map(|h| h.revision()).unwrap_or_default()
}

pub(crate) async fn current(shared: &Shared) -> Result<RevRead, StoreError> {
    let resp = get_raw(shared, shared.layout.rev(), None, "read revision").await?;
    let etcd_revision = header_revision(&resp);
    match resp.kvs().first() {
        None => Ok(RevRead {
            revision: 0,
            key_mod: 0,
            etcd_revision,
        }),
        Some(kv) => Ok(RevRead {
            revision: decode_rev(kv.value())?.0,
            key_mod: kv.mod_revision(),
            etcd_revision,
        }),
    }
}

pub(crate) fn to_record(shared: &Shared, kv: &KeyValue) -> Result<Record, StoreError> {
    let key = shared.layout.user_key(kv.key())?;
    let (mod_revision, value) = decode_record(kv.value())?;
    Ok(Record {
        key,
        value: value.to_vec(),
        mod_revision,
    })
}

pub(crate) async fn get(shared: &Shared, key: &str) -> Result<Option<Record>, StoreError> {
    let resp = get_raw(shared, shared.layout.record(key), None, "get").await?;
    resp.kvs()
        .first()
        .map(|kv| to_record(shared, kv))
        .transpose()
}

/// Pages through the prefix at the etcd revision of the counter read, so the
/// records and the returned revision are one snapshot.
pub(crate) async fn scan_prefix(
    shared: &Shared,
    prefix: &str,
) -> Result<(Vec<Record>, Revision), StoreError> {
    let at = current(shared).await?;
    let start = shared.layout.record(prefix);
    let end = prefix_end(&start);
    let page = shared.opts.scan_page_records.max(1);
    let mut records = Vec::new();
    let mut from = start;
    loop {
        let options = GetOptions::new()
            .with_range(end.clone())
            .with_limit(page as i64)
            .with_revision(at.etcd_revision);
        let mut resp = get_raw(shared, from.clone(), Some(options), "scan").await?;
        let more = resp.more();
        let kvs = resp.take_kvs();
        for kv in &kvs {
            records.push(to_record(shared, kv)?);
        }
        match kvs.last() {
            Some(last) if more => {
                // the next key after `last` in byte order
                from = last.key().to_vec();
                from.push(0);
            }
            _ => return Ok((records, at.revision)),
        }
    }
}

pub(crate) async fn compacted_at(shared: &Shared) -> Result<(Revision, i64, i64), StoreError> {
    let resp = get_raw(
        shared,
        shared.layout.compacted(),
        None,
        "read compaction point",
    )
    .await?;
    let etcd_revision = header_revision(&resp);
    match resp.kvs().first() {
        None => Ok((0, 0, etcd_revision)),
        Some(kv) => Ok((
            decode_u64(kv.value(), "compaction point")?,
            kv.mod_revision(),
            etcd_revision,
        )),
    }
}

pub(crate) async fn log_since(
    shared: &Shared,
    after: Revision,
    limit: usize,
) -> Result<Vec<LogEntry>, StoreError> {
    let (compacted, _, etcd_revision) = compacted_at(shared).await?;
    if after < compacted {
        return Err(StoreError::Compacted {
            asked: after,
            oldest: compacted,
        });
    }
    let Some(first) = after.checked_add(1) else {
        return Ok(Vec::new());
    };
    // etcd reads `limit 0` as "no limit"
    if limit == 0 {
        return Ok(Vec::new());
    }
    let options = GetOptions::new()
        .with_range(shared.layout.log_end())
        .with_limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .with_revision(etcd_revision);
    let resp = get_raw(shared, shared.layout.log(first), Some(options), "read log").await?;
    let mut out = Vec::with_capacity(resp.kvs().len());
    for kv in resp.kvs() {
        let name = String::from_utf8_lossy(kv.key()).into_owned();
        let revision = name
            .rsplit('/')
            .next()
            .and_then(|digits| digits.parse::<u64>().ok())
            .ok_or_else(|| StoreError::Backend(format!("bad change-log key {name}")))?;
        let entries = decode_entries(kv.value())
            .map_err(|reason| StoreError::Envelope { key: name, reason })?;
        out.push(LogEntry { revision, entries });
    }
    Ok(out)
}
