//! Copying files in and out of a container's rootfs from the host side.

use std::os::unix::fs::{chown, symlink, PermissionsExt};
use std::path::Path;

use diego_executor::{FileEntry, FileKind};

use crate::error::{OciError, Result};
use crate::rootfs::host_path;

pub(crate) fn write_entries(
    rootfs: &Path,
    dst_dir: &str,
    uid: u32,
    gid: u32,
    entries: Vec<FileEntry>,
) -> Result<()> {
    let dst = host_path(rootfs, dst_dir)?;
    mkdir_owned(rootfs, &dst, uid, gid)?;
    for entry in entries {
        let target = host_path(
            rootfs,
            &format!("{}/{}", dst_dir.trim_end_matches('/'), entry.path),
        )?;
        if let Some(parent) = target.parent() {
            mkdir_owned(rootfs, parent, uid, gid)?;
        }
        let io = OciError::io(format!("write {}", entry.path));
        match entry.kind {
            FileKind::Dir => {
                std::fs::create_dir_all(&target).map_err(io)?;
            }
            FileKind::File(data) => {
                std::fs::write(&target, data).map_err(io)?;
            }
            FileKind::Symlink(to) => {
                let _ = std::fs::remove_file(&target);
                symlink(to, &target).map_err(io)?;
                continue;
            }
        }
        let mode = if entry.mode == 0 { 0o644 } else { entry.mode };
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
            .map_err(OciError::io("chmod"))?;
        chown(&target, Some(uid), Some(gid)).map_err(OciError::io("chown"))?;
    }
    Ok(())
}

/// Creates missing directories between the rootfs and `dir`, owned by the user.
fn mkdir_owned(rootfs: &Path, dir: &Path, uid: u32, gid: u32) -> Result<()> {
    if dir.exists() || dir == rootfs {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        mkdir_owned(rootfs, parent, uid, gid)?;
    }
    std::fs::create_dir(dir).map_err(OciError::io(format!("mkdir {}", dir.display())))?;
    chown(dir, Some(uid), Some(gid)).map_err(OciError::io("chown"))
}

pub(crate) fn read(rootfs: &Path, path: &str, max_bytes: u64) -> Result<Vec<u8>> {
    let host = host_path(rootfs, path)?;
    let meta = std::fs::metadata(&host).map_err(OciError::io(format!("read {path}")))?;
    if meta.len() > max_bytes {
        return Err(OciError::FileTooLarge {
            path: path.to_string(),
            max_bytes,
        });
    }
    std::fs::read(&host).map_err(OciError::io(format!("read {path}")))
}
