//! Turns a downloaded tgz/tar/zip into file entries the backend writes into a container.

use std::io::{Cursor, Read};

use crate::backend::{FileEntry, FileKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Tgz,
    Tar,
    Zip,
}

/// Sniffs the magic bytes; the URL's extension is not trusted.
pub fn detect(bytes: &[u8]) -> Option<ArchiveKind> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        Some(ArchiveKind::Tgz)
    } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        Some(ArchiveKind::Zip)
    } else if bytes.len() > 262 && &bytes[257..262] == b"ustar" {
        Some(ArchiveKind::Tar)
    } else {
        None
    }
}

pub fn extract(bytes: &[u8]) -> Result<Vec<FileEntry>, String> {
    match detect(bytes) {
        Some(ArchiveKind::Tgz) => read_tar(flate2::read::GzDecoder::new(Cursor::new(bytes))),
        Some(ArchiveKind::Tar) => read_tar(Cursor::new(bytes)),
        Some(ArchiveKind::Zip) => read_zip(bytes),
        None => Err("unsupported archive: expected tgz, tar or zip".to_string()),
    }
}

/// Rejects absolute paths and `..` so an archive cannot write outside its destination.
fn clean_path(raw: &str) -> Result<Option<String>, String> {
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("archive entry escapes destination: {raw}")),
            p => parts.push(p),
        }
    }
    Ok(if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    })
}

fn read_tar<R: Read>(reader: R) -> Result<Vec<FileEntry>, String> {
    let mut archive = tar::Archive::new(reader);
    let mut out = Vec::new();
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let raw = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .to_string();
        let Some(path) = clean_path(&raw)? else {
            continue;
        };
        let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
        let kind = match entry.header().entry_type() {
            tar::EntryType::Directory => FileKind::Dir,
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default();
                FileKind::Symlink(target.to_string_lossy().to_string())
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
                FileKind::File(data)
            }
            // Hard links, devices and fifos have no place in an app bits archive.
            _ => continue,
        };
        out.push(FileEntry { path, mode, kind });
    }
    Ok(out)
}

fn read_zip(bytes: &[u8]) -> Result<Vec<FileEntry>, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| e.to_string())?;
        let Some(path) = clean_path(file.name())? else {
            continue;
        };
        let is_dir = file.is_dir();
        let mode = file
            .unix_mode()
            .unwrap_or(if is_dir { 0o755 } else { 0o644 })
            & 0o7777;
        let kind = if is_dir {
            FileKind::Dir
        } else {
            let mut data = Vec::new();
            file.read_to_end(&mut data).map_err(|e| e.to_string())?;
            FileKind::File(data)
        };
        out.push(FileEntry { path, mode, kind });
    }
    Ok(out)
}

/// Checks `checksum_value` (hex) with md5, sha1 or sha256; an empty algorithm means no check.
pub fn verify_checksum(bytes: &[u8], algorithm: &str, expected_hex: &str) -> Result<(), String> {
    use sha2::Digest;
    let actual = match algorithm.to_ascii_lowercase().as_str() {
        "" => return Ok(()),
        "md5" => hex::encode(md5::Md5::digest(bytes)),
        "sha1" => hex::encode(sha1::Sha1::digest(bytes)),
        "sha256" => hex::encode(sha2::Sha256::digest(bytes)),
        other => return Err(format!("unsupported checksum algorithm: {other}")),
    };
    if actual.eq_ignore_ascii_case(expected_hex.trim()) {
        Ok(())
    } else {
        Err(format!(
            "checksum mismatch: expected {algorithm} {expected_hex}, got {actual}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_bytes() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o755);
        header.set_cksum();
        builder
            .append_data(&mut header, "bin/app", &b"hello"[..])
            .unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn tar_and_tgz_extract() {
        let tar = tar_bytes();
        assert_eq!(detect(&tar), Some(ArchiveKind::Tar));
        let entries = extract(&tar).unwrap();
        assert_eq!(entries[0].path, "bin/app");
        assert_eq!(entries[0].kind, FileKind::File(b"hello".to_vec()));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        let tgz = gz.finish().unwrap();
        assert_eq!(extract(&tgz).unwrap(), entries);
    }

    #[test]
    fn zip_extracts_and_garbage_is_rejected() {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file("a.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, b"zipped").unwrap();
        let bytes = w.finish().unwrap().into_inner();
        let entries = extract(&bytes).unwrap();
        assert_eq!(entries[0].kind, FileKind::File(b"zipped".to_vec()));
        assert!(extract(b"not an archive")
            .unwrap_err()
            .contains("unsupported archive"));
    }

    #[test]
    fn escaping_paths_are_rejected() {
        assert!(clean_path("../etc/passwd").is_err());
        assert_eq!(clean_path("./a//b").unwrap().as_deref(), Some("a/b"));
    }

    #[test]
    fn checksums() {
        assert!(verify_checksum(b"abc", "md5", "900150983cd24fb0d6963f7d28e17f72").is_ok());
        assert!(
            verify_checksum(b"abc", "sha1", "a9993e364706816aba3e25717850c26c9cd0d89d").is_ok()
        );
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert!(verify_checksum(b"abc", "sha256", sha).is_ok());
        assert!(verify_checksum(b"abd", "sha256", sha)
            .unwrap_err()
            .contains("checksum mismatch"));
        assert!(verify_checksum(b"abc", "crc", "0").is_err());
    }
}
