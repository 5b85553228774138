//! Where things live under the store's prefix and how values are encoded.
//!
//! - `<prefix>/r/<key>`: a record; value `[our mod revision u64 BE][bytes]`.
//!   Our revision rides inside the value (not in a sidecar key) so a get or a
//!   scan is one etcd range read and the key count stays one per record.
//! - `<prefix>/meta/rev`: `[our revision u64 BE][commit id, 16 bytes]`. Every
//!   commit compares this key's etcd mod revision, so commits serialise on it;
//!   the commit id lets a writer tell whether its own ambiguous write landed.
//! - `<prefix>/meta/compacted`: the change-log compaction point, u64 BE.
//! - `<prefix>/log/<revision, 20 digits>`: the log entries of one commit;
//!   zero padding makes key order the revision order.

use diego_store::{Revision, StoreError};

// the value encodings are shared with the other key-value backend
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
                "etcd store prefix must not be empty (it namespaces every key)".into(),
            ));
        }
        Ok(Self {
            root: root.to_string(),
        })
    }

    pub(crate) fn record(&self, key: &str) -> Vec<u8> {
        format!("{}/r/{key}", self.root).into_bytes()
    }

    pub(crate) fn records_root(&self) -> usize {
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

    /// The end (exclusive) of the whole change log range.
    pub(crate) fn log_end(&self) -> Vec<u8> {
        prefix_end(format!("{}/log/", self.root).as_bytes())
    }

    /// The user key of a record's etcd key.
    pub(crate) fn user_key(&self, etcd_key: &[u8]) -> Result<String, StoreError> {
        let tail = etcd_key.get(self.records_root()..).unwrap_or_default();
        String::from_utf8(tail.to_vec())
            .map_err(|_| StoreError::Backend("etcd record key is not utf-8".into()))
    }
}

/// The smallest key greater than every key starting with `prefix`, the way
/// etcd computes a prefix range end.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // all 0xff: etcd's "to the end of the keyspace"
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keys_sort_by_revision() {
        let layout = Layout::new("/t/").unwrap();
        assert!(layout.log(9) < layout.log(10));
        assert!(layout.log(u64::MAX) < layout.log_end());
        assert_eq!(layout.record("a/b"), b"/t/r/a/b");
    }

    #[test]
    fn prefix_end_increments_the_last_byte_below_0xff() {
        assert_eq!(prefix_end(b"a/"), b"a0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }
}
