//! The cache directory on disk.
//!
//! Per entry: `<key>-<gen>.data` (the artifact as downloaded) and
//! `<key>.meta` (JSON naming the generation, the validators and checksums).
//! `<key>` is the sha256 of the action's `cache_key`, so any string is a safe
//! file name. A commit writes the data under a `tmp-` name, renames it into
//! place, then replaces the meta the same way: the meta rename is the commit
//! point. A crash before it leaves a data file no meta names; a crash after it
//! leaves the previous generation's data unnamed. The start-up scan removes
//! both, and every `tmp-` file, so nothing half-written is ever served.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

const META_SUFFIX: &str = ".meta";
const DATA_SUFFIX: &str = ".data";
pub(crate) const TMP_PREFIX: &str = "tmp-";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// sha256 (hex) of the cache key.
    pub key: String,
    pub gen: u64,
    pub size: u64,
    #[serde(default)]
    pub etag: String,
    #[serde(default)]
    pub last_modified: String,
    /// Always computed while the body streams in, so a later sha256 check needs no re-read.
    pub sha256: String,
    /// The checksum the storing action asked for and that matched (md5/sha1 included).
    #[serde(default)]
    pub checksum_algorithm: String,
    #[serde(default)]
    pub checksum_value: String,
    pub committed_unix_ms: u64,
}

pub(crate) fn data_path(dir: &Path, key: &str, gen: u64) -> PathBuf {
    dir.join(format!("{key}-{gen}{DATA_SUFFIX}"))
}

fn meta_path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}{META_SUFFIX}"))
}

/// A fresh temp name in the cache dir (same file system, so rename is atomic).
pub(crate) fn temp_path(dir: &Path, what: &str) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(
        "{TMP_PREFIX}{what}-{}-{}-{seq}",
        std::process::id(),
        now_unix_ms()
    ))
}

pub(crate) fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What the start-up scan found and did.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub metas: Vec<Meta>,
    pub removed_temp_files: usize,
    pub removed_orphans: usize,
}

/// Reads the directory: keeps complete entries, removes temp files, data no
/// meta names, and metas whose data is missing or of the wrong size.
pub(crate) fn scan(dir: &Path) -> std::io::Result<Scan> {
    let mut out = Scan::default();
    let mut names = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        if item.file_type()?.is_file() {
            names.push(item.file_name().to_string_lossy().to_string());
        }
    }
    let mut kept_data = std::collections::HashSet::new();
    for name in &names {
        if name.starts_with(TMP_PREFIX) {
            remove_quietly(&dir.join(name));
            out.removed_temp_files += 1;
            continue;
        }
        let Some(key) = name.strip_suffix(META_SUFFIX) else {
            continue;
        };
        let path = dir.join(name);
        let meta = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
            .filter(|m| m.key == key);
        let data_ok = meta.as_ref().is_some_and(|m| {
            std::fs::metadata(data_path(dir, key, m.gen)).is_ok_and(|d| d.len() == m.size)
        });
        match meta {
            Some(m) if data_ok => {
                kept_data.insert(format!("{key}-{}{DATA_SUFFIX}", m.gen));
                out.metas.push(m);
            }
            _ => {
                tracing::warn!(file = %path.display(), "download cache: dropping an unreadable entry");
                remove_quietly(&path);
                out.removed_orphans += 1;
            }
        }
    }
    for name in &names {
        if name.ends_with(DATA_SUFFIX) && !kept_data.contains(name) {
            remove_quietly(&dir.join(name));
            out.removed_orphans += 1;
        }
    }
    Ok(out)
}

/// Moves a finished temp data file into place and commits its meta.
pub(crate) fn commit(dir: &Path, temp_data: &Path, meta: &Meta) -> std::io::Result<()> {
    let data = data_path(dir, &meta.key, meta.gen);
    std::fs::rename(temp_data, &data)?;
    let temp_meta = temp_path(dir, "meta");
    let json = serde_json::to_vec(meta).map_err(std::io::Error::other)?;
    let written = (|| {
        let mut f = std::fs::File::create(&temp_meta)?;
        std::io::Write::write_all(&mut f, &json)?;
        f.sync_all()?;
        std::fs::rename(&temp_meta, meta_path(dir, &meta.key))?;
        // the renames themselves survive a power cut only once the directory is synced
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        remove_quietly(&temp_meta);
        remove_quietly(&data);
    }
    written
}

/// Removes a version's data, and its meta when that still names this version.
pub(crate) fn delete_version(dir: &Path, key: &str, gen: u64) {
    let meta = meta_path(dir, key);
    let names_this = std::fs::read(&meta)
        .ok()
        .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
        .is_some_and(|m| m.gen == gen);
    if names_this {
        remove_quietly(&meta);
    }
    remove_quietly(&data_path(dir, key, gen));
}

pub(crate) fn remove_quietly(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(file = %path.display(), error = %e, "download cache: cannot remove");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, gen: u64, size: u64) -> Meta {
        Meta {
            key: key.into(),
            gen,
            size,
            ..Meta::default()
        }
    }

    #[test]
    fn commit_then_scan_keeps_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = temp_path(dir.path(), "data");
        std::fs::write(&tmp, b"12345").unwrap();
        commit(dir.path(), &tmp, &meta("k", 1, 5)).unwrap();
        let scan = scan(dir.path()).unwrap();
        assert_eq!(scan.metas, vec![meta("k", 1, 5)]);
        assert_eq!(scan.removed_orphans + scan.removed_temp_files, 0);
    }

    #[test]
    fn scan_removes_temp_files_orphans_and_torn_entries() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(temp_path(d, "data"), b"half").unwrap();
        // data without a meta: a crash between the two renames
        std::fs::write(data_path(d, "a", 1), b"x").unwrap();
        // a meta whose data has the wrong size
        std::fs::write(data_path(d, "b", 2), b"short").unwrap();
        std::fs::write(
            meta_path(d, "b"),
            serde_json::to_vec(&meta("b", 2, 99)).unwrap(),
        )
        .unwrap();
        // an unparsable meta
        std::fs::write(meta_path(d, "c"), b"{").unwrap();
        let scan = scan(d).unwrap();
        assert!(scan.metas.is_empty());
        assert_eq!(scan.removed_temp_files, 1);
        assert_eq!(scan.removed_orphans, 4);
        assert_eq!(std::fs::read_dir(d).unwrap().count(), 0);
    }

    #[test]
    fn delete_version_leaves_a_newer_meta() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for gen in [1, 2] {
            let tmp = temp_path(d, "data");
            std::fs::write(&tmp, b"x").unwrap();
            std::fs::rename(&tmp, data_path(d, "k", gen)).unwrap();
        }
        std::fs::write(
            meta_path(d, "k"),
            serde_json::to_vec(&meta("k", 2, 1)).unwrap(),
        )
        .unwrap();
        delete_version(d, "k", 1);
        assert!(meta_path(d, "k").exists());
        assert!(!data_path(d, "k", 1).exists());
        assert!(data_path(d, "k", 2).exists());
    }
}
