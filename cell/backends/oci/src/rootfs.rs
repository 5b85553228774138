//! The `preloaded:busybox` rootfs: a shared read-only base built from the host's
//! busybox-static, and a per-container overlay on top of it.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::cmd;
use crate::error::{OciError, Result};

pub const BUSYBOX_ROOTFS: &str = "preloaded:busybox";
const HOST_BUSYBOX: &str = "/bin/busybox";
pub const VCAP_UID: u32 = 2000;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nvcap:x:2000:2000:vcap:/home/vcap:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nvcap:x:2000:\nnogroup:x:65534:\n";

/// Builds the base once; concurrent callers are serialised by the backend.
pub(crate) async fn ensure_base(base: &Path) -> Result<()> {
    if base.join("etc/passwd").exists() {
        return Ok(());
    }
    let staging = base.with_extension(format!("building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let applets = cmd::run(HOST_BUSYBOX, &["--list-full"]).await?;
    build_base(&staging, &applets)?;
    if let Some(parent) = base.parent() {
        std::fs::create_dir_all(parent).map_err(OciError::io("create rootfs parent"))?;
    }
    std::fs::rename(&staging, base).map_err(OciError::io("publish rootfs"))?;
    Ok(())
}

fn build_base(root: &Path, applets: &str) -> Result<()> {
    let io = |what: &str| OciError::io(format!("build rootfs: {what}"));
    for dir in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc",
        "proc",
        "sys",
        "dev",
        "root",
        "home/vcap",
        "tmp",
        "var/tmp",
    ] {
        std::fs::create_dir_all(root.join(dir)).map_err(io(dir))?;
    }
    std::fs::copy(HOST_BUSYBOX, root.join("bin/busybox")).map_err(io("copy busybox"))?;
    for applet in applets.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let link = root.join(applet);
        if applet == "bin/busybox" || link.exists() {
            continue;
        }
        // Absolute targets resolve inside the container; on the host we never follow them.
        symlink("/bin/busybox", &link).map_err(io(applet))?;
    }
    let files = [
        ("etc/passwd", PASSWD),
        ("etc/group", GROUP),
        ("etc/hosts", "127.0.0.1 localhost\n::1 localhost\n"),
        ("etc/resolv.conf", "nameserver 127.0.0.1\n"),
    ];
    for (path, content) in files {
        std::fs::write(root.join(path), content).map_err(io(path))?;
    }
    for dir in ["tmp", "var/tmp"] {
        std::fs::set_permissions(root.join(dir), std::fs::Permissions::from_mode(0o1777))
            .map_err(io(dir))?;
    }
    std::os::unix::fs::chown(root.join("home/vcap"), Some(VCAP_UID), Some(VCAP_UID))
        .map_err(io("chown home"))?;
    Ok(())
}

/// Mounts `lower` + a fresh upper layer at `<dir>/rootfs`.
pub(crate) async fn mount_overlay(lower: &Path, dir: &Path) -> Result<PathBuf> {
    let (upper, work, merged) = (dir.join("upper"), dir.join("work"), dir.join("rootfs"));
    for d in [&upper, &work, &merged] {
        std::fs::create_dir_all(d).map_err(OciError::io("create overlay dirs"))?;
    }
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    let target = merged.clone();
    crate::sys::blocking(move || crate::sys::mount_overlay(&target, &opts)).await?;
    Ok(merged)
}

pub(crate) async fn unmount(merged: &Path) -> Result<()> {
    if is_mounted(merged) {
        let target = merged.to_path_buf();
        crate::sys::blocking(move || crate::sys::unmount_lazy(&target)).await?;
    }
    Ok(())
}

pub(crate) fn is_mounted(path: &Path) -> bool {
    // /proc/self/mounts has absolute, symlink-free paths; the state dir may
    // be given relative (`--data-dir .diego`) or through a symlink.
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let wanted = path.to_string_lossy().to_string();
    std::fs::read_to_string("/proc/self/mounts")
        .map(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(1) == Some(wanted.as_str()))
        })
        .unwrap_or(false)
}

/// uid, gid and home of a user from the container's /etc/passwd.
pub(crate) fn lookup_user(rootfs: &Path, user: &str) -> Result<(u32, u32, String)> {
    let name = if user.is_empty() { "root" } else { user };
    let passwd =
        std::fs::read_to_string(rootfs.join("etc/passwd")).map_err(OciError::io("read passwd"))?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[0] == name)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?, f[5].to_string())))
        .ok_or_else(|| OciError::UnknownUser(name.to_string()))
}

/// The host path of `container_path`, refusing `..` and symlinks on the way so a
/// container cannot make us read or write host files.
pub(crate) fn host_path(rootfs: &Path, container_path: &str) -> Result<PathBuf> {
    let mut out = rootfs.to_path_buf();
    for comp in Path::new(container_path).components() {
        match comp {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => {
                out.push(part);
                if out
                    .symlink_metadata()
                    .map(|m| m.file_type().is_symlink())
                    .unwrap_or(false)
                {
                    return Err(OciError::UnsafePath(container_path.to_string()));
                }
            }
            _ => return Err(OciError::UnsafePath(container_path.to_string())),
        }
    }
    Ok(out)
}

/// Whether `path` may name an executable in the container, looked up the way
/// its exec will (each `search_path` directory for a bare name, `cwd` for a
/// relative path). `false` only when sure: a symlink on the way resolves
/// inside the container, where this cannot follow it, so it counts as found.
pub(crate) fn may_have_executable(rootfs: &Path, path: &str, cwd: &str, search_path: &str) -> bool {
    let candidates: Vec<String> = if path.starts_with('/') {
        vec![path.to_string()]
    } else if path.contains('/') {
        vec![format!("{}/{path}", cwd.trim_end_matches('/'))]
    } else {
        search_path
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{}/{path}", d.trim_end_matches('/')))
            .collect()
    };
    candidates.iter().any(|c| may_exist(rootfs, c))
}

fn may_exist(rootfs: &Path, container_path: &str) -> bool {
    let components: Vec<Component> = Path::new(container_path).components().collect();
    let mut out = rootfs.to_path_buf();
    for (i, comp) in components.iter().enumerate() {
        match comp {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => {
                out.push(part);
                let Ok(meta) = out.symlink_metadata() else {
                    return false;
                };
                if meta.file_type().is_symlink() {
                    return true;
                }
                if i + 1 == components.len() {
                    return meta.is_file() && meta.permissions().mode() & 0o111 != 0;
                }
            }
            // `..` and the like: leave the verdict to the exec
            _ => return true,
        }
    }
    false
}

#[cfg(test)]
mod executable_tests {
    use super::may_have_executable;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn executables_are_found_the_way_exec_looks_them_up() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("bin")).unwrap();
        std::fs::create_dir_all(r.join("usr/sbin")).unwrap();
        std::fs::create_dir_all(r.join("app")).unwrap();
        std::fs::write(r.join("bin/busybox"), b"").unwrap();
        std::fs::set_permissions(
            r.join("bin/busybox"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::write(r.join("app/data.txt"), b"").unwrap();
        symlink("/bin/busybox", r.join("usr/sbin/httpd")).unwrap();
        symlink("/usr/bin", r.join("linked")).unwrap();
        let path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
        assert!(may_have_executable(r, "busybox", "/", path));
        assert!(may_have_executable(r, "httpd", "/", path));
        assert!(may_have_executable(r, "/bin/busybox", "/", path));
        assert!(may_have_executable(r, "/linked/anything", "/", path));
        assert!(!may_have_executable(r, "httpd", "/", "/bin"));
        assert!(!may_have_executable(r, "/bin/httpd", "/", path));
        assert!(!may_have_executable(r, "nosuchcmd", "/", path));
        assert!(!may_have_executable(r, "./data.txt", "/app", path));
        assert!(!may_have_executable(r, "/app", "/", path));
    }
}
