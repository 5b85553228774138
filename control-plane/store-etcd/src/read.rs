//! Reads: single keys, prefix scans pinned to one etcd revision, the change
//! log and our revision counter.

use diego_store::{LogEntry, Record, Revision, StoreError};
use etcd_client::{GetOptions, GetResponse, KeyValue, TxnOp};

use crate::batch::{parse_reads, Snapshot};
use crate::layout::{decode_entries, decode_record, decode_rev, decode_u64, prefix_end};
use crate::retry::retrying;
use crate::Shared;

/// Bytes of our mod revision in front of a record's value.
const REVISION_BYTES: usize = 8;

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

impl RevRead {
    /// The counter as read (`None`: no commit yet) at etcd revision
    /// `etcd_revision`.
    pub(crate) fn from_counter(
        counter: Option<&KeyValue>,
        etcd_revision: i64,
    ) -> Result<Self, StoreError> {
        Ok(match counter {
            None => RevRead {
                revision: 0,
                key_mod: 0,
                etcd_revision,
            },
            Some(kv) => RevRead {
                revision: decode_rev(kv.value())?.0,
                key_mod: kv.mod_revision(),
                etcd_revision,
            },
        })
    }
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
    RevRead::from_counter(resp.kvs().first(), header_revision(&resp))
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

/// Like `to_record`, but reuses the response's buffers: a large scan spends
/// most of its client time copying otherwise.
fn into_record(shared: &Shared, kv: KeyValue) -> Result<Record, StoreError> {
    let (mut key, mut value) = kv.into_key_value();
    let (mod_revision, _) = decode_record(&value)?;
    value.drain(..REVISION_BYTES);
    let root = shared.layout.records_root().min(key.len());
    key.drain(..root);
    let key = String::from_utf8(key)
        .map_err(|_| StoreError::Backend("etcd record key is not utf-8".into()))?;
    Ok(Record {
        key,
        value,
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
///
/// etcd 3.4 walks its index from a page's first key to the end of the
/// range on every request (the limit only trims the answer), so many small
/// pages cost time quadratic in the scan. The first page has
/// `scan_page_records`; later ones are sized from the bytes seen so far to
/// about `scan_page_bytes`. Pages are serializable reads: data at a fixed
/// etcd revision never changes, so any member that has applied it answers
/// the same, without a round of consensus (a member that has not yet gets
/// the read again, linearizable).
pub(crate) async fn scan_prefix(
    shared: &Shared,
    prefix: &str,
) -> Result<(Vec<Record>, Revision), StoreError> {
    let at = current(shared).await?;
    let start = shared.layout.record(prefix);
    let end = prefix_end(&start);
    let first_page = shared.opts.scan_page_records.max(1);
    let mut page = first_page;
    let (mut seen_records, mut seen_bytes) = (0usize, 0usize);
    let mut serializable = true;
    let mut records = Vec::new();
    let mut from = start;
    loop {
        let options = GetOptions::new()
            .with_range(end.clone())
            .with_limit(i64::try_from(page).unwrap_or(i64::MAX))
            .with_revision(at.etcd_revision);
        let mut resp = if serializable {
            match get_once(shared, from.clone(), options.clone().with_serializable()).await {
                Ok(resp) => resp,
                Err(e) if is_future_revision(&e) => {
                    serializable = false;
                    get_raw(shared, from.clone(), Some(options), "scan").await?
                }
                Err(_) => get_raw(shared, from.clone(), Some(options), "scan").await?,
            }
        } else {
            get_raw(shared, from.clone(), Some(options), "scan").await?
        };
        let more = resp.more();
        let kvs = resp.take_kvs();
        // the next key after the last one in byte order
        let next = kvs.last().map(|last| {
            let mut next = last.key().to_vec();
            next.push(0);
            next
        });
        seen_records += kvs.len();
        seen_bytes += kvs
            .iter()
            .map(|kv| kv.key().len() + kv.value().len())
            .sum::<usize>();
        records.reserve(kvs.len());
        for kv in kvs {
            records.push(into_record(shared, kv)?);
        }
        match next {
            Some(next) if more => from = next,
            _ => return Ok((records, at.revision)),
        }
        let per_record = (seen_bytes / seen_records.max(1)).max(1);
        page = (shared.opts.scan_page_bytes / per_record).max(first_page);
    }
}

/// One attempt, no retry: the caller falls back to the retried read.
async fn get_once(
    shared: &Shared,
    key: Vec<u8>,
    options: GetOptions,
) -> Result<GetResponse, etcd_client::Error> {
    shared.kv.clone().get(key, Some(options)).await
}

/// etcd's "required revision is a future revision": this member has not
/// applied the revision yet.
fn is_future_revision(error: &etcd_client::Error) -> bool {
    matches!(error, etcd_client::Error::GRpcStatus(status)
        if status.code() == tonic::Code::OutOfRange && status.message().contains("future"))
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

/// The counter and every checked key, read in one etcd transaction so they
/// are one snapshot.
pub(crate) async fn read_checked(shared: &Shared, keys: &[String]) -> Result<Snapshot, StoreError> {
    let mut gets = vec![TxnOp::get(shared.layout.rev(), None)];
    gets.extend(
        keys.iter()
            .map(|key| TxnOp::get(shared.layout.record(key), None)),
    );
    let resp = retrying(
        &shared.endpoints,
        shared.opts.retry_budget,
        "read for commit",
        || {
            let mut kv = shared.kv.clone();
            let request = etcd_client::Txn::new().and_then(gets.clone());
            async move { kv.txn(request).await }
        },
    )
    .await?;
    parse_reads(&resp, keys, false).map(|(snapshot, _)| snapshot)
}
