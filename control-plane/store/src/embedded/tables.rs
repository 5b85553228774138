//! Table layout of the embedded store and the byte encoding of log entries.

use redb::{ReadableTable, TableDefinition};

use crate::Revision;

/// key -> (mod_revision, value)
pub(crate) const RECORDS: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("records");
/// revision -> encoded log payloads of the transaction committed at that revision
pub(crate) const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
/// named counters
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub(crate) const META_REVISION: &str = "current_revision";
pub(crate) const META_COMPACTED: &str = "compacted_upto";

/// Failures of the engine: redb's error boxed (the unboxed enum is large
/// and would bloat every `Result` on the write path), or the write-ahead
/// log's io.
#[derive(Debug)]
pub(crate) enum EngineError {
    Redb(Box<redb::Error>),
    Wal(String),
}

impl<E: Into<redb::Error>> From<E> for EngineError {
    fn from(err: E) -> Self {
        Self::Redb(Box::new(err.into()))
    }
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Redb(err) => err.fmt(f),
            Self::Wal(reason) => f.write_str(reason),
        }
    }
}

/// Leading byte of an encoded log row, so the layout can change later
/// without guessing what old rows look like.
const LOG_FORMAT_V1: u8 = 1;

/// `[format u8][count u32 le]([len u32 le][bytes])*`
pub(crate) fn encode_entries(entries: &[Vec<u8>]) -> Vec<u8> {
    let payload_bytes: usize = entries.iter().map(|e| e.len() + 4).sum();
    let mut out = Vec::with_capacity(5 + payload_bytes);
    out.push(LOG_FORMAT_V1);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for entry in entries {
        out.extend_from_slice(&(entry.len() as u32).to_le_bytes());
        out.extend_from_slice(entry);
    }
    out
}

pub(crate) fn decode_entries(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let (&format, rest) = bytes.split_first().ok_or("empty log row")?;
    if format != LOG_FORMAT_V1 {
        return Err(format!("unknown log row format {format}"));
    }
    let (count, mut rest) = take_u32(rest)?;
    let mut entries = Vec::with_capacity(count.min(1024) as usize);
    for _ in 0..count {
        let (len, after_len) = take_u32(rest)?;
        let len = len as usize;
        if after_len.len() < len {
            return Err("truncated log row".to_string());
        }
        entries.push(after_len[..len].to_vec());
        rest = &after_len[len..];
    }
    if !rest.is_empty() {
        return Err("trailing bytes in log row".to_string());
    }
    Ok(entries)
}

fn take_u32(bytes: &[u8]) -> Result<(u32, &[u8]), String> {
    if bytes.len() < 4 {
        return Err("truncated log row".to_string());
    }
    let (head, rest) = bytes.split_at(4);
    let mut word = [0u8; 4];
    word.copy_from_slice(head);
    Ok((u32::from_le_bytes(word), rest))
}

/// Reads a counter from the meta table; a missing counter is zero (fresh store).
pub(crate) fn read_meta(
    meta: &impl ReadableTable<&'static str, u64>,
    name: &str,
) -> Result<Revision, redb::StorageError> {
    Ok(meta.get(name)?.map(|v| v.value()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let entries = vec![b"a".to_vec(), Vec::new(), vec![7u8; 300]];
        assert_eq!(decode_entries(&encode_entries(&entries)).unwrap(), entries);
        assert_eq!(
            decode_entries(&encode_entries(&[])).unwrap(),
            Vec::<Vec<u8>>::new()
        );
    }

    #[test]
    fn truncated_rows_are_rejected() {
        let encoded = encode_entries(&[b"hello".to_vec()]);
        assert!(decode_entries(&encoded[..encoded.len() - 1]).is_err());
        assert!(decode_entries(&[9, 0, 0, 0, 0]).is_err());
        assert!(decode_entries(&[]).is_err());
    }
}
