//! Where things live under the store's prefix and how values are encoded.
//! Pure (no TiKV types), so its tests run in every build.
//!
//! - `<prefix>/r/<key>`: a record; value `[our mod revision u64 BE][bytes]`.
//!   The revision rides inside the value so a get or a scan reads one key
//!   per record.
//! - `<prefix>/meta/rev`: `[our revision u64 BE][commit id, 16 bytes]`.
//!   Every commit writes this key, so TiKV's write-conflict check serialises
//!   commits on it; the commit id lets a writer tell whether its own commit
//!   with an undetermined outcome landed.
//! - `<prefix>/meta/compacted`: the change-log compaction point, u64 BE.
//! - `<prefix>/log/<revision, 20 digits>`: the log entries of one commit;
//!   zero padding makes key order the revision order, so `log_since` is one
//!   forward scan.

use diego_store::{Revision, StoreError};

pub(crate) const COMMIT_ID_BYTES: usize = 16;
const REVISION_BYTES: usize = 8;

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: String,
}

impl Layout {
    /// `prefix` is a namespace such as `/diego`; a trailing `/` is ignored.
    pub(crate) fn new(prefix: &str) -> Result<Self, StoreError> {
        let root = prefix.trim_end_matches('/');
        if root.is_empty() {
            return Err(StoreError::Backend(
                "tikv store prefix must not be empty (it namespaces every key)".into(),
            ));
        }
        Ok(Self {
            root: root.to_string(),
        })
    }

    pub(crate) fn record(&self, key: &str) -> Vec<u8> {
        format!("{}/r/{key}", self.root).into_bytes()
    }

    fn records_root(&self) -> usize {
        self.root.len() + "/r/".len()
    }

    pub(crate) fn rev(&self) -> Vec<u8> {
        format!("{}/meta/rev", self.root).into_bytes()
    }

    pub(crate) fn compacted(&self) -> Vec<u8> {
        format!("{}/meta/compacted", self.root).into_bytes()
    }

    pub(crate) fn log(&self, revision: Revision) -> Vec<u8> {
        format!("{}/log/{revision:020}", self.root).into_bytes()
    }

    /// The end (exclusive) of the whole change-log range.
    pub(crate) fn log_end(&self) -> Vec<u8> {
        prefix_end(format!("{}/log/", self.root).as_bytes())
    }

    /// The revision of a change-log key.
    pub(crate) fn log_revision(&self, tikv_key: &[u8]) -> Result<Revision, StoreError> {
        let name = String::from_utf8_lossy(tikv_key);
        name.rsplit('/')
            .next()
            .and_then(|digits| digits.parse::<u64>().ok())
            .ok_or_else(|| StoreError::Backend(format!("bad change-log key {name}")))
    }

    /// The user key of a record's TiKV key.
    pub(crate) fn user_key(&self, tikv_key: &[u8]) -> Result<String, StoreError> {
        let tail = tikv_key.get(self.records_root()..).unwrap_or_default();
        String::from_utf8(tail.to_vec())
            .map_err(|_| StoreError::Backend("tikv record key is not utf-8".into()))
    }
}

/// The smallest key greater than every key starting with `prefix`. Our keys
/// are utf-8 after a non-empty root, so they never end in 0xff only; the
/// all-0xff case still gets an answer (the prefix itself plus one byte
/// cannot be exceeded, so scan to the end: an empty key).
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    Vec::new()
}

pub(crate) fn encode_u64(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

pub(crate) fn decode_u64(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    let head: [u8; REVISION_BYTES] = bytes
        .get(..REVISION_BYTES)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| StoreError::Backend(format!("tikv {what} is shorter than 8 bytes")))?;
    Ok(u64::from_be_bytes(head))
}

pub(crate) fn encode_rev(revision: Revision, commit_id: &[u8; COMMIT_ID_BYTES]) -> Vec<u8> {
    let mut out = encode_u64(revision);
    out.extend_from_slice(commit_id);
    out
}

/// Our revision and the commit id that wrote it.
pub(crate) fn decode_rev(bytes: &[u8]) -> Result<(Revision, &[u8]), StoreError> {
    let revision = decode_u64(bytes, "revision key")?;
    Ok((revision, &bytes[REVISION_BYTES..]))
}

pub(crate) fn encode_record(mod_revision: Revision, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(REVISION_BYTES + value.len());
    out.extend_from_slice(&mod_revision.to_be_bytes());
    out.extend_from_slice(value);
    out
}

pub(crate) fn decode_record(bytes: &[u8]) -> Result<(Revision, &[u8]), StoreError> {
    let mod_revision = decode_u64(bytes, "record")?;
    Ok((mod_revision, &bytes[REVISION_BYTES..]))
}

/// `[count u32 BE]` then `[len u32 BE][bytes]` per entry.
pub(crate) fn encode_entries(entries: &[Vec<u8>]) -> Vec<u8> {
    let size: usize = entries.iter().map(|e| 4 + e.len()).sum();
    let mut out = Vec::with_capacity(4 + size);
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for entry in entries {
        out.extend_from_slice(&(entry.len() as u32).to_be_bytes());
        out.extend_from_slice(entry);
    }
    out
}

pub(crate) fn decode_entries(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
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
    fn log_keys_sort_by_revision_and_parse_back() {
        let layout = Layout::new("/t/").unwrap();
        assert!(layout.log(9) < layout.log(10));
        assert!(layout.log(u64::MAX) < layout.log_end());
        for meta in [layout.rev(), layout.compacted()] {
            assert!(
                meta < layout.log(0) || meta >= layout.log_end(),
                "meta keys lie outside the log range"
            );
        }
        assert_eq!(layout.log_revision(&layout.log(12345)).unwrap(), 12345);
        assert!(layout.log_revision(b"/t/log/xyz").is_err());
    }

    #[test]
    fn record_keys_round_trip_to_user_keys() {
        let layout = Layout::new("/t").unwrap();
        assert_eq!(layout.record("a/b"), b"/t/r/a/b");
        assert_eq!(layout.user_key(&layout.record("a/b")).unwrap(), "a/b");
        assert!(Layout::new("/").is_err(), "an empty prefix is refused");
    }

    #[test]
    fn prefix_end_increments_the_last_byte_below_0xff() {
        assert_eq!(prefix_end(b"a/"), b"a0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), Vec::<u8>::new());
    }

    #[test]
    fn records_and_counter_carry_their_revision() {
        let bytes = encode_record(7, b"v");
        assert_eq!(decode_record(&bytes).unwrap(), (7, &b"v"[..]));
        assert!(decode_record(b"short").is_err());
        let id = [3u8; COMMIT_ID_BYTES];
        let rev = encode_rev(42, &id);
        assert_eq!(decode_rev(&rev).unwrap(), (42, &id[..]));
    }
}
