//! Files of an instance: its directory on the host is the instance's root (`/` inside the
//! guest), so a Download to `/app` lands in `<instance dir>/app`.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use diego_executor::{FileEntry, FileKind};

use crate::error::{Result, WasmBackendError};

/// Maps a guest path (absolute or relative to `/`) to the host, refusing `..` so nothing
/// outside the instance directory can be named.
pub(crate) fn host_path(root: &Path, guest: &str) -> Result<PathBuf> {
    let mut out = root.to_path_buf();
    for part in Path::new(guest).components() {
        match part {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(p) => out.push(p),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(WasmBackendError::PathEscapes(guest.to_string()))
            }
        }
    }
    Ok(out)
}

/// Resolves symlinks and checks the result is still inside `root`: the host reads files
/// (components, result files) on the instance's behalf and must not follow a link out.
pub(crate) fn contained(root: &Path, guest: &str) -> Result<PathBuf> {
    let path = host_path(root, guest)?;
    let io = WasmBackendError::io(format!("open {guest}"));
    let real = std::fs::canonicalize(&path).map_err(io)?;
    let real_root = std::fs::canonicalize(root).map_err(WasmBackendError::io("open root"))?;
    if !real.starts_with(&real_root) {
        return Err(WasmBackendError::PathEscapes(guest.to_string()));
    }
    Ok(real)
}

pub(crate) fn write_entries(root: &Path, dst_dir: &str, entries: Vec<FileEntry>) -> Result<()> {
    let dst = host_path(root, dst_dir)?;
    std::fs::create_dir_all(&dst).map_err(WasmBackendError::io(format!("mkdir {dst_dir}")))?;
    for entry in entries {
        let target = host_path(&dst, &entry.path)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(WasmBackendError::io(format!("mkdir for {}", entry.path)))?;
        }
        let io = WasmBackendError::io(format!("write {}", entry.path));
        match entry.kind {
            FileKind::Dir => std::fs::create_dir_all(&target).map_err(io)?,
            FileKind::File(data) => std::fs::write(&target, data).map_err(io)?,
            FileKind::Symlink(to) => {
                let _ = std::fs::remove_file(&target);
                symlink(to, &target).map_err(io)?;
                continue;
            }
        }
        let mode = if entry.mode == 0 { 0o644 } else { entry.mode };
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
            .map_err(WasmBackendError::io("chmod"))?;
    }
    Ok(())
}

pub(crate) fn read(root: &Path, path: &str, max_bytes: u64) -> Result<Vec<u8>> {
    let host = contained(root, path)?;
    let meta = std::fs::metadata(&host).map_err(WasmBackendError::io(format!("read {path}")))?;
    if meta.len() > max_bytes {
        return Err(WasmBackendError::FileTooLarge {
            path: path.to_string(),
            max_bytes,
        });
    }
    std::fs::read(&host).map_err(WasmBackendError::io(format!("read {path}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_paths_stay_inside_the_root() {
        let root = Path::new("/r");
        assert_eq!(
            host_path(root, "/app/a.wasm").unwrap(),
            Path::new("/r/app/a.wasm")
        );
        assert_eq!(host_path(root, "app/./a").unwrap(), Path::new("/r/app/a"));
        assert!(matches!(
            host_path(root, "/app/../../etc/passwd"),
            Err(WasmBackendError::PathEscapes(_))
        ));
    }

    #[test]
    fn reads_refuse_symlinks_out_of_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        symlink(dir.path().join("secret"), root.join("link")).unwrap();
        assert!(matches!(
            read(&root, "/link", 10),
            Err(WasmBackendError::PathEscapes(_))
        ));
        std::fs::write(root.join("big"), b"0123456789ab").unwrap();
        assert!(matches!(
            read(&root, "/big", 10),
            Err(WasmBackendError::FileTooLarge { .. })
        ));
        assert_eq!(read(&root, "big", 100).unwrap(), b"0123456789ab");
    }
}
