//! Run actions as `<runtime> exec`: output piped line by line, signals sent to the
//! process's host pid, OOM kills read from the container's memory cgroup.
//!
//! Detached (the default, ADR 0025): `exec -d` starts the process and exits; the
//! process keeps the pipes we gave the runtime, becomes our child (we are a child
//! subreaper) and is pinned by a pidfd, through which it is signalled and reaped.
//! Attached: the runtime's `exec` stays as the process's parent until it exits and
//! passes its exit status on.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use diego_executor::{ExecutorError, ExitStatus, OutputLine, ProcessHandle, Signal, Stream};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};

use crate::error::{OciError, Result};
use crate::pidfd;
use crate::runtime::OciRuntime;

/// How long `signal` waits for the runtime to write the pid file of a just-spawned process.
const PID_FILE_WAIT_MS: u64 = 2000;
/// How long destroy waits for a SIGKILLed container init to exit.
const INIT_EXIT_WAIT_MS: u64 = 2000;
/// The exit code reported when a detached process cannot be found after its runtime
/// said it started (it was reaped by someone else): no status to give.
const LOST_EXIT_CODE: i32 = 255;

pub(crate) struct OciProcess {
    pid_file: PathBuf,
    /// The detached process once the runtime has exited (None for attached ones).
    pidfd: watch::Receiver<Option<Arc<OwnedFd>>>,
    exit: watch::Receiver<Option<ExitStatus>>,
}

impl OciProcess {
    async fn pid(&self) -> Option<i32> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(PID_FILE_WAIT_MS);
        loop {
            if let Some(pid) = read_pid(&self.pid_file) {
                return Some(pid);
            }
            if self.exit.borrow().is_some() || tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn read_pid(pid_file: &Path) -> Option<libc::pid_t> {
    std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

#[async_trait]
impl ProcessHandle for OciProcess {
    async fn wait(&self) -> std::result::Result<ExitStatus, ExecutorError> {
        let mut rx = self.exit.clone();
        let status = rx
            .wait_for(|s| s.is_some())
            .await
            .map_err(|_| ExecutorError::backend("runtime exec vanished"))?;
        Ok(status.expect("waited for some"))
    }

    async fn signal(&self, signal: Signal) -> std::result::Result<(), ExecutorError> {
        if self.exit.borrow().is_some() {
            return Ok(());
        }
        let sig = match signal {
            Signal::Terminate => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        let pinned = self.pidfd.borrow().clone();
        if let Some(fd) = pinned {
            pidfd::send_signal(&fd, sig);
            return Ok(());
        }
        // Still starting (or attached): the pid the runtime wrote.
        let Some(pid) = self.pid().await else {
            return Ok(());
        };
        // SAFETY: kill(2) has no memory effects; a stale pid only yields ESRCH.
        unsafe { libc::kill(pid, sig) };
        Ok(())
    }
}

/// The memory cgroup's OOM kill count (v2 memory.events, v1 memory.oom_control).
pub(crate) fn oom_kills(cgroups_path: &str) -> u64 {
    let rel = cgroups_path.trim_start_matches('/');
    let candidates = [
        Path::new("/sys/fs/cgroup").join(rel).join("memory.events"),
        Path::new("/sys/fs/cgroup/memory")
            .join(rel)
            .join("memory.oom_control"),
    ];
    candidates
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find_map(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("oom_kill ")
                    .and_then(|n| n.trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

fn pump<R: AsyncRead + Unpin + Send + 'static>(
    reader: R,
    stream: Stream,
    tx: mpsc::Sender<OutputLine>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(OutputLine { stream, line }).await.is_err() {
                break;
            }
        }
    });
}

pub(crate) struct ExecRequest<'a> {
    pub runtime: OciRuntime,
    pub root: &'a str,
    pub id: &'a str,
    pub process_file: PathBuf,
    pub pid_file: PathBuf,
    pub cgroups_path: String,
    /// `exec -d`: no runtime process stays (needs this process to be a subreaper).
    pub detached: bool,
}

pub(crate) fn spawn(req: ExecRequest) -> Result<(Arc<OciProcess>, mpsc::Receiver<OutputLine>)> {
    let mut cmd = Command::new(req.runtime.binary());
    cmd.args(["--root", req.root, "exec"]);
    if req.detached {
        cmd.arg("-d");
    }
    let mut child = cmd
        .arg("--process")
        .arg(&req.process_file)
        .arg("--pid-file")
        .arg(&req.pid_file)
        .arg(req.id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(OciError::io(format!("spawn {} exec", req.runtime.binary())))?;
    // The process inherits the pipes' write ends: detached, they stay open after the
    // runtime exits, until the process (and whatever it started) has gone.
    let (tx, rx) = mpsc::channel(256);
    pump(
        child.stdout.take().expect("piped"),
        Stream::Stdout,
        tx.clone(),
    );
    pump(child.stderr.take().expect("piped"), Stream::Stderr, tx);
    let (exit_tx, exit_rx) = watch::channel(None);
    let (pidfd_tx, pidfd_rx) = watch::channel(None);
    let oom_before = oom_kills(&req.cgroups_path);
    let (cgroups_path, process_file, pid_file) =
        (req.cgroups_path, req.process_file, req.pid_file.clone());
    let detached = req.detached;
    tokio::spawn(async move {
        let runtime_code = match child.wait().await {
            Ok(status) => status.code().unwrap_or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                128 + status.signal().unwrap_or(0)
            }),
            Err(_) => 255,
        };
        // Attached, or a detached start that failed: the runtime's status is the one.
        let code = if detached && runtime_code == 0 {
            wait_detached(&pid_file, &pidfd_tx).await
        } else {
            runtime_code
        };
        let oom_killed = code != 0 && oom_kills(&cgroups_path) > oom_before;
        let _ = std::fs::remove_file(&process_file);
        let _ = exit_tx.send(Some(ExitStatus { code, oom_killed }));
    });
    Ok((
        Arc::new(OciProcess {
            pid_file: req.pid_file,
            pidfd: pidfd_rx,
            exit: exit_rx,
        }),
        rx,
    ))
}

/// After `exec -d` has exited: the process it started is our child (or our zombie,
/// if it ended at once); pin it, publish the pidfd for signals, reap it.
async fn wait_detached(pid_file: &Path, pidfd_tx: &watch::Sender<Option<Arc<OwnedFd>>>) -> i32 {
    let Some(fd) = read_pid(pid_file).and_then(pidfd::open) else {
        tracing::warn!(pid_file = %pid_file.display(), "detached process not found after exec");
        return LOST_EXIT_CODE;
    };
    let fd = Arc::new(fd);
    let _ = pidfd_tx.send(Some(fd.clone()));
    loop {
        if let Some(reaped) = pidfd::reap(&fd) {
            return reaped.code;
        }
        // Readable once it has exited; reap again then. Spurious wake-ups loop.
        let Some(dup) = fd.try_clone().ok() else {
            return LOST_EXIT_CODE;
        };
        if pidfd::exited(dup, None).await.is_none() {
            return LOST_EXIT_CODE;
        }
        if let Some(reaped) = pidfd::reap(&fd) {
            return reaped.code;
        }
        if !is_our_child(&fd) {
            tracing::warn!(pid_file = %pid_file.display(), "detached process is not our child; no exit status");
            return LOST_EXIT_CODE;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether waitid can still reach the process (ECHILD: someone else's child, or
/// already reaped).
fn is_our_child(fd: &OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: WNOWAIT leaves the child as it is; only `info` is written.
    let rc = unsafe {
        libc::waitid(
            3, // P_PIDFD
            fd.as_raw_fd() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    rc == 0
}

/// SIGKILLs a container's init (pid from the runtime's pid file) and waits up to
/// `INIT_EXIT_WAIT_MS` for it to exit. A pidfd pins the process, and it is only
/// signalled while it is still in the container's cgroup, so a recycled pid is never
/// hit. Best effort: whatever is left, `<runtime> delete -f` handles.
///
/// `adopted`: the init was started by this process while it was a subreaper, so it is
/// our child (once the runtime exited) and is reaped here, also when it had already
/// died on its own (a zombie is in no cgroup any more).
pub(crate) async fn kill_init(pid_file: &Path, cgroups_path: &str, adopted: bool) {
    let Some(pidfd) = read_pid(pid_file).and_then(pidfd::open) else {
        return;
    };
    if adopted && pidfd::reap(&pidfd).is_some() {
        return;
    }
    let pid = read_pid(pid_file).unwrap_or(0);
    let in_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map(|c| c.lines().any(|l| l.ends_with(cgroups_path)))
        .unwrap_or(false);
    if !in_cgroup || !pidfd::send_signal(&pidfd, libc::SIGKILL) {
        return;
    }
    // A pidfd becomes readable when its process exits.
    let limit = Duration::from_millis(INIT_EXIT_WAIT_MS);
    if let Some(pidfd) = pidfd::exited(pidfd, Some(limit)).await {
        if adopted {
            pidfd::reap(&pidfd);
        }
    }
}

/// After `crun run -d` as a subreaper: the process crun forked to start the container
/// (in a session of its own, see `pidfd::reap_strays`) is our child and the init's
/// parent until it exits, right after crun reported success. Wait for it (briefly),
/// then reap it and any such stray an earlier create left.
pub(crate) async fn reap_crun_intermediate(init_pid_file: &Path) {
    let me = std::process::id() as libc::pid_t;
    let parent = read_pid(init_pid_file)
        .and_then(pidfd::stat)
        .map(|(_, _, ppid, _)| ppid)
        .filter(|ppid| *ppid != me && *ppid > 1);
    if let Some(fd) = parent.and_then(pidfd::open) {
        let limit = Duration::from_millis(INIT_EXIT_WAIT_MS);
        let _ = pidfd::exited(fd, Some(limit)).await;
    }
    pidfd::reap_strays("crun");
}
