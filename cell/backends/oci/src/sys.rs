//! Mounts and network namespaces through system calls instead of `mount`, `umount`
//! and `ip netns`: each of those was a fork+exec (5-20 ms, far more under load) on
//! every create and destroy. Same effects as the tools: `ip netns add` is a bind
//! mount of a fresh netns on /var/run/netns/<name> under a shared /var/run/netns.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{OciError, Result};

const NETNS_RUN_DIR: &str = "/var/run/netns";

/// Runs a blocking system call off the async workers: an unmount can wait for an
/// RCU grace period (up to a second on a loaded machine) and must not stall them.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OciError::Command {
            cmd: "blocking system call".into(),
            stderr: e.to_string(),
        })?
}

fn cstr(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| OciError::Io {
        context: format!("path with a nul byte: {}", path.display()),
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })
}

fn last_os_error(context: String) -> OciError {
    OciError::Io {
        context,
        source: std::io::Error::last_os_error(),
    }
}

/// `mount -t overlay overlay -o <opts> <target>`.
pub(crate) fn mount_overlay(target: &Path, opts: &str) -> Result<()> {
    let (src, fstype) = (c"overlay", c"overlay");
    let (target_c, opts_c) = (
        cstr(target)?,
        CString::new(opts).expect("no nul in options"),
    );
    // SAFETY: every pointer is a valid nul-terminated string living across the call.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target_c.as_ptr(),
            fstype.as_ptr(),
            0,
            opts_c.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(last_os_error(format!(
            "mount overlay on {}",
            target.display()
        )));
    }
    Ok(())
}

/// `umount -l <target>`: detached, so a process still holding it cannot block destroy.
pub(crate) fn unmount_lazy(target: &Path) -> Result<()> {
    let target_c = cstr(target)?;
    // SAFETY: a valid nul-terminated path.
    if unsafe { libc::umount2(target_c.as_ptr(), libc::MNT_DETACH) } != 0 {
        return Err(last_os_error(format!("umount {}", target.display())));
    }
    Ok(())
}

/// Makes /var/run/netns a shared mount (bind-mounting it on itself first when it is
/// not a mount point), as `ip netns add` does, so netns mounts propagate.
fn ensure_netns_dir() -> Result<()> {
    let dir = Path::new(NETNS_RUN_DIR);
    std::fs::create_dir_all(dir).map_err(OciError::io("create /var/run/netns"))?;
    let dir_c = cstr(dir)?;
    let none = c"none";
    let share = |flags: libc::c_ulong| {
        // SAFETY: valid nul-terminated strings; no data argument.
        unsafe {
            libc::mount(
                none.as_ptr(),
                dir_c.as_ptr(),
                none.as_ptr(),
                flags,
                std::ptr::null(),
            )
        }
    };
    if share(libc::MS_SHARED | libc::MS_REC) == 0 {
        return Ok(());
    }
    if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
        return Err(last_os_error("make /var/run/netns shared".into()));
    }
    // EINVAL: not a mount point yet.
    // SAFETY: valid nul-terminated strings.
    let rc = unsafe {
        libc::mount(
            dir_c.as_ptr(),
            dir_c.as_ptr(),
            none.as_ptr(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        )
    };
    if rc != 0 || share(libc::MS_SHARED | libc::MS_REC) != 0 {
        return Err(last_os_error("bind /var/run/netns".into()));
    }
    Ok(())
}

/// The ioctl argument for SIOCGIFFLAGS/SIOCSIFFLAGS: the name, then the flags in
/// the union (struct ifreq is 40 bytes on 64-bit Linux).
#[repr(C)]
struct IfreqFlags {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Brings `lo` up in the calling thread's network namespace.
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: plain socket(2); the fd is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut req = IfreqFlags {
        name: [0; 16],
        flags: 0,
        _pad: [0; 22],
    };
    req.name[..2].copy_from_slice(b"lo");
    // SAFETY: req is a properly sized, initialised ifreq for the flag ioctls.
    let result = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) != 0 {
            Err(std::io::Error::last_os_error())
        } else {
            req.flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) != 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        }
    };
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    result
}

/// `ip netns add <name>` + `ip netns exec <name> ip link set lo up`.
pub(crate) fn netns_add(name: &str) -> Result<()> {
    ensure_netns_dir()?;
    let path = Path::new(NETNS_RUN_DIR).join(name);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(OciError::io(format!("create {}", path.display())))?;
    let target = cstr(&path)?;
    // unshare(CLONE_NEWNET) changes only the calling thread: a short-lived thread
    // creates the namespace, pins it with the bind mount and exits with it.
    let made = std::thread::spawn(move || -> std::result::Result<(), String> {
        // SAFETY: affects only this thread, which runs nothing else.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(format!("unshare: {}", std::io::Error::last_os_error()));
        }
        let src = c"/proc/thread-self/ns/net";
        let none = c"none";
        // SAFETY: valid nul-terminated strings.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                none.as_ptr(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(format!("bind netns: {}", std::io::Error::last_os_error()));
        }
        loopback_up().map_err(|e| format!("loopback up: {e}"))
    })
    .join()
    .unwrap_or_else(|_| Err("netns thread panicked".into()));
    if let Err(message) = made {
        let _ = netns_del(name);
        return Err(OciError::Command {
            cmd: format!("netns add {name}"),
            stderr: message,
        });
    }
    Ok(())
}

/// `ip netns del <name>`: detach the pinning mount, remove the file. A missing
/// namespace is not an error.
pub(crate) fn netns_del(name: &str) -> Result<()> {
    let path = Path::new(NETNS_RUN_DIR).join(name);
    if !path.exists() {
        return Ok(());
    }
    let target = cstr(&path)?;
    // SAFETY: a valid nul-terminated path; EINVAL (not mounted) is fine.
    if unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) } != 0
        && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL)
    {
        return Err(last_os_error(format!("umount {}", path.display())));
    }
    std::fs::remove_file(&path).map_err(OciError::io(format!("remove {}", path.display())))
}
