//! Read paths: each read uses the published redb read transaction, i.e. a
//! consistent snapshot of the newest durable group that never waits for
//! the writer (see `pipeline::Published`).

use redb::ReadTransaction;

use super::tables::{decode_entries, read_meta, LOG, META, META_COMPACTED, META_REVISION, RECORDS};
use crate::{LogEntry, Record, Revision, StoreError};

pub(crate) fn backend(err: impl Into<redb::Error>) -> StoreError {
    StoreError::Backend(err.into().to_string())
}

pub(crate) fn get(rtx: &ReadTransaction, key: &str) -> Result<Option<Record>, StoreError> {
    let records = rtx.open_table(RECORDS).map_err(backend)?;
    let found = records.get(key).map_err(backend)?;
    Ok(found.map(|row| {
        let (mod_revision, value) = row.value();
        Record {
            key: key.to_string(),
            value: value.to_vec(),
            mod_revision,
        }
    }))
}

pub(crate) fn scan_prefix(
    rtx: &ReadTransaction,
    prefix: &str,
) -> Result<(Vec<Record>, Revision), StoreError> {
    let meta = rtx.open_table(META).map_err(backend)?;
    let revision = read_meta(&meta, META_REVISION).map_err(backend)?;
    let records = rtx.open_table(RECORDS).map_err(backend)?;
    let mut out = Vec::new();
    // keys are ordered, so the prefix is one contiguous range starting at it
    for row in records.range(prefix..).map_err(backend)? {
        let (key, value) = row.map_err(backend)?;
        let key = key.value();
        if !key.starts_with(prefix) {
            break;
        }
        let (mod_revision, value) = value.value();
        out.push(Record {
            key: key.to_string(),
            value: value.to_vec(),
            mod_revision,
        });
    }
    Ok((out, revision))
}

pub(crate) fn log_since(
    rtx: &ReadTransaction,
    after: Revision,
    limit: usize,
) -> Result<Vec<LogEntry>, StoreError> {
    let meta = rtx.open_table(META).map_err(backend)?;
    let compacted = read_meta(&meta, META_COMPACTED).map_err(backend)?;
    if after < compacted {
        return Err(StoreError::Compacted {
            asked: after,
            oldest: compacted,
        });
    }
    let log = rtx.open_table(LOG).map_err(backend)?;
    let mut out = Vec::new();
    let Some(start) = after.checked_add(1) else {
        return Ok(out);
    };
    for row in log.range(start..).map_err(backend)?.take(limit) {
        let (revision, bytes) = row.map_err(backend)?;
        let revision = revision.value();
        let entries = decode_entries(bytes.value()).map_err(|reason| StoreError::Envelope {
            key: format!("log/{revision}"),
            reason,
        })?;
        out.push(LogEntry { revision, entries });
    }
    Ok(out)
}
