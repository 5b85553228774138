//! Process file descriptors: a pidfd pins one process (a recycled pid is never hit),
//! becomes readable when it exits, and `waitid(P_PIDFD)` reaps exactly that child.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::{unix::AsyncFd, Interest};

/// `P_PIDFD` of waitid(2) (Linux 5.4); not in every libc crate version.
const P_PIDFD: libc::idtype_t = 3;

/// A pidfd for `pid`, or None when it is gone (reaped).
pub(crate) fn open(pid: libc::pid_t) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the fd was just returned to us and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Sends `signal`; false when the process has already exited.
pub(crate) fn send_signal(pidfd: &OwnedFd, signal: libc::c_int) -> bool {
    // SAFETY: pidfd_send_signal on our pidfd with no siginfo.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    sent == 0
}

/// Waits until the process has exited (a zombie at least), at most `limit` when given.
/// Returns the pidfd for `reap`.
pub(crate) async fn exited(pidfd: OwnedFd, limit: Option<Duration>) -> Option<OwnedFd> {
    // SAFETY: an OwnedFd stays open and unchanged for the AsyncFd's lifetime.
    let afd = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }.ok()?;
    match limit {
        Some(limit) => {
            let _ = tokio::time::timeout(limit, afd.readable()).await;
        }
        None => {
            let _ = afd.readable().await;
        }
    }
    Some(afd.into_inner())
}

/// How a reaped child ended, as a shell reports it: its exit code, or 128 + the
/// signal that killed it (what `runc exec` and `crun exec` return for their process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reaped {
    pub code: i32,
}

/// Reaps the child behind `pidfd` if it has exited: Some(how it ended), None when it
/// still runs or is not our child (ECHILD).
pub(crate) fn reap(pidfd: &OwnedFd) -> Option<Reaped> {
    // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid with P_PIDFD on our fd writes only into `info`.
    let rc = unsafe {
        libc::waitid(
            P_PIDFD,
            pidfd.as_raw_fd() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG,
        )
    };
    // SAFETY: si_pid/si_status are valid to read for a SIGCHLD siginfo (zero when
    // WNOHANG found nothing).
    let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
    if rc != 0 || pid == 0 {
        return None;
    }
    let code = match info.si_code {
        libc::CLD_EXITED => status,
        // CLD_KILLED, CLD_DUMPED: si_status is the signal.
        _ => 128 + status,
    };
    Some(Reaped { code })
}

/// Whether `become_subreaper` succeeded in this process: from then on every backend in
/// it adopts the inits it starts, whatever its own `exec_detached`.
static IS_SUBREAPER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(crate) fn is_subreaper() -> bool {
    IS_SUBREAPER.load(std::sync::atomic::Ordering::SeqCst)
}

/// Makes this process the reaper of its orphaned descendants (PR_SET_CHILD_SUBREAPER):
/// a process the runtime starts detached (`exec -d`, and the container init of
/// `run -d`) becomes our child when the runtime exits, so we can collect its exit
/// status. Process-wide; see ADR 0025 for what else that adopts.
pub(crate) fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    IS_SUBREAPER.store(true, std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

/// Fields of /proc/<pid>/stat: (command, state, parent pid, session id).
pub(crate) fn stat(pid: libc::pid_t) -> Option<(String, char, libc::pid_t, libc::pid_t)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (open, close) = (text.find('(')?, text.rfind(')')?);
    let comm = text[open + 1..close].to_string();
    let mut rest = text[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let _pgrp = rest.next()?;
    let session = rest.next()?.parse().ok()?;
    Some((comm, state, ppid, session))
}

/// Reaps our zombie children called `comm` that ran in a session of their own: the
/// intermediate process `crun run -d` leaves (it calls setsid, forks the process
/// that starts the container and exits; that one is adopted by us as a subreaper and
/// exits once the container runs). The runtime processes we spawn ourselves stay in
/// our session and are reaped by tokio, so they are never touched. Returns how many.
pub(crate) fn reap_strays(comm: &str) -> usize {
    let me = std::process::id() as libc::pid_t;
    let Some((_, _, _, our_session)) = stat(me) else {
        return 0;
    };
    let mut reaped = 0;
    let tasks = std::fs::read_dir("/proc/self/task").into_iter().flatten();
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for pid in children.split_whitespace().filter_map(|p| p.parse().ok()) {
            let stray = matches!(stat(pid), Some((c, 'Z', ppid, session))
                if c == comm && ppid == me && session != our_session);
            if stray && open(pid).is_some_and(|fd| reap(&fd).is_some()) {
                reaped += 1;
            }
        }
    }
    reaped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direct child: its exit code, and 128 + signal for a kill, through the pidfd.
    #[tokio::test]
    async fn reaps_a_child_with_its_exit_code_or_signal() {
        for (script, want) in [("exit 7", 7), ("kill -TERM $$", 128 + libc::SIGTERM)] {
            let child = std::process::Command::new("/bin/sh")
                .args(["-c", script])
                .spawn()
                .unwrap();
            let fd = open(child.id() as libc::pid_t).expect("pidfd of a zombie or live child");
            let fd = exited(fd, None).await.unwrap();
            assert_eq!(reap(&fd), Some(Reaped { code: want }), "{script}");
            // Reaped: a second waitid finds no child.
            assert_eq!(reap(&fd), None);
            std::mem::forget(child); // already reaped; std must not wait again
        }
    }

    #[tokio::test]
    async fn a_running_child_is_signalled_and_not_reaped_early() {
        let child = std::process::Command::new("/bin/sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let fd = open(child.id() as libc::pid_t).unwrap();
        assert_eq!(reap(&fd), None, "still running");
        assert!(send_signal(&fd, libc::SIGKILL));
        let fd = exited(fd, Some(Duration::from_secs(5))).await.unwrap();
        assert_eq!(
            reap(&fd),
            Some(Reaped {
                code: 128 + libc::SIGKILL
            })
        );
        std::mem::forget(child);
    }
}
