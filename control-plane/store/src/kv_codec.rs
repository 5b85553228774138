//! The value encodings of the key-value backends (etcd, TiKV): records
//! carry their mod revision in front of the bytes, the revision counter
//! carries the commit id that wrote it, and a change-log key holds the
//! length-prefixed entries of one commit. Pure, shared so the backends
//! cannot drift apart.

use crate::{Revision, StoreError};

/// Bytes of a commit id in the revision counter's value.
pub const COMMIT_ID_BYTES: usize = 16;
const REVISION_BYTES: usize = 8;

pub fn encode_u64(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

pub fn decode_u64(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    let head: [u8; REVISION_BYTES] = bytes
        .get(..REVISION_BYTES)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| StoreError::Backend(format!("stored {what} is shorter than 8 bytes")))?;
    Ok(u64::from_be_bytes(head))
}

/// The revision counter's value: `[revision u64 BE][commit id]`.
pub fn encode_rev(revision: Revision, commit_id: &[u8; COMMIT_ID_BYTES]) -> Vec<u8> {
    let mut out = encode_u64(revision);
    out.extend_from_slice(commit_id);
    out
}

/// Our revision and the commit id that wrote it.
pub fn decode_rev(bytes: &[u8]) -> Result<(Revision, &[u8]), StoreError> {
    let revision = decode_u64(bytes, "revision key")?;
    Ok((revision, &bytes[REVISION_BYTES..]))
}

/// A record's value: `[mod revision u64 BE][bytes]`.
pub fn encode_record(mod_revision: Revision, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(REVISION_BYTES + value.len());
    out.extend_from_slice(&mod_revision.to_be_bytes());
    out.extend_from_slice(value);
    out
}

pub fn decode_record(bytes: &[u8]) -> Result<(Revision, &[u8]), StoreError> {
    let mod_revision = decode_u64(bytes, "record")?;
    Ok((mod_revision, &bytes[REVISION_BYTES..]))
}

/// `[count u32 BE]` then `[len u32 BE][bytes]` per entry.
pub fn encode_entries(entries: &[Vec<u8>]) -> Vec<u8> {
    let size: usize = entries.iter().map(|e| 4 + e.len()).sum();
    let mut out = Vec::with_capacity(4 + size);
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for entry in entries {
        out.extend_from_slice(&(entry.len() as u32).to_be_bytes());
        out.extend_from_slice(entry);
    }
    out
}

pub fn decode_entries(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    fn take<'b>(n: usize, bytes: &mut &'b [u8]) -> Result<&'b [u8], String> {
        if bytes.len() < n {
            return Err(format!(
                "log entry truncated: want {n} bytes, have {}",
                bytes.len()
            ));
        }
        let (head, tail) = bytes.split_at(n);
        *bytes = tail;
        Ok(head)
    }
    let word = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let count = word(take(4, &mut bytes)?);
    let mut out = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let len = word(take(4, &mut bytes)?);
        out.push(take(len, &mut bytes)?.to_vec());
    }
    if !bytes.is_empty() {
        return Err(format!("{} trailing bytes after log entries", bytes.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_including_empty_ones() {
        let entries = vec![vec![], b"one".to_vec(), vec![0xff; 300]];
        assert_eq!(decode_entries(&encode_entries(&entries)).unwrap(), entries);
        assert!(decode_entries(&encode_entries(&entries)[..9]).is_err());
        let mut trailing = encode_entries(&entries);
        trailing.push(0);
        assert!(decode_entries(&trailing).is_err());
    }

    #[test]
    fn records_and_counter_carry_their_revision() {
        let bytes = encode_record(7, b"v");
        assert_eq!(decode_record(&bytes).unwrap(), (7, &b"v"[..]));
        assert!(decode_record(b"short").is_err());
        let id = [3u8; COMMIT_ID_BYTES];
        let counter = encode_rev(9, &id);
        assert_eq!(decode_rev(&counter).unwrap(), (9, &id[..]));
    }
}
