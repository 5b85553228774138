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

// the value encodings are shared with the other key-value backend
#[cfg(feature = "tikv")]
pub(crate) use diego_store::kv_codec::*;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
