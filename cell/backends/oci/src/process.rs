//! Run actions as `runc exec`: output piped line by line, signals sent to the
//! process's host pid, OOM kills read from the container's memory cgroup.

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

/// How long `signal` waits for runc to write the pid file of a just-spawned process.
const PID_FILE_WAIT_MS: u64 = 2000;
/// How long destroy waits for a SIGKILLed container init to exit.
const INIT_EXIT_WAIT_MS: u64 = 2000;

pub(crate) struct OciProcess {
    pid_file: PathBuf,
    exit: watch::Receiver<Option<ExitStatus>>,
}

impl OciProcess {
    async fn pid(&self) -> Option<i32> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(PID_FILE_WAIT_MS);
        loop {
            if let Some(pid) = std::fs::read_to_string(&self.pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                return Some(pid);
            }
            if self.exit.borrow().is_some() || tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[async_trait]
impl ProcessHandle for OciProcess {
    async fn wait(&self) -> std::result::Result<ExitStatus, ExecutorError> {
        let mut rx = self.exit.clone();
        let status = rx
            .wait_for(|s| s.is_some())
            .await
            .map_err(|_| ExecutorError::backend("runc exec vanished"))?;
        Ok(status.expect("waited for some"))
    }

    async fn signal(&self, signal: Signal) -> std::result::Result<(), ExecutorError> {
        if self.exit.borrow().is_some() {
            return Ok(());
        }
        let Some(pid) = self.pid().await else {
            return Ok(());
        };
        let sig = match signal {
            Signal::Terminate => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
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
    pub runc_root: &'a str,
    pub id: &'a str,
    pub process_file: PathBuf,
    pub pid_file: PathBuf,
    pub cgroups_path: String,
}

pub(crate) fn spawn(req: ExecRequest) -> Result<(Arc<OciProcess>, mpsc::Receiver<OutputLine>)> {
    let mut child = Command::new("runc")
        .args(["--root", req.runc_root, "exec", "--process"])
        .arg(&req.process_file)
        .arg("--pid-file")
        .arg(&req.pid_file)
        .arg(req.id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(OciError::io("spawn runc exec"))?;
    let (tx, rx) = mpsc::channel(256);
    pump(
        child.stdout.take().expect("piped"),
        Stream::Stdout,
        tx.clone(),
    );
    pump(child.stderr.take().expect("piped"), Stream::Stderr, tx);
    let (exit_tx, exit_rx) = watch::channel(None);
    let oom_before = oom_kills(&req.cgroups_path);
    let (cgroups_path, process_file) = (req.cgroups_path, req.process_file);
    tokio::spawn(async move {
        let code = match child.wait().await {
            Ok(status) => status.code().unwrap_or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                128 + status.signal().unwrap_or(0)
            }),
            Err(_) => 255,
        };
        let oom_killed = code != 0 && oom_kills(&cgroups_path) > oom_before;
        let _ = std::fs::remove_file(&process_file);
        let _ = exit_tx.send(Some(ExitStatus { code, oom_killed }));
    });
    Ok((
        Arc::new(OciProcess {
            pid_file: req.pid_file,
            exit: exit_rx,
        }),
        rx,
    ))
}

/// SIGKILLs a container's init (pid from runc's pid file) and waits up to
/// `INIT_EXIT_WAIT_MS` for it to exit. A pidfd pins the process, and it is only
/// signalled while it is still in the container's cgroup, so a recycled pid is never
/// hit. Best effort: whatever is left, `runc delete -f` handles.
pub(crate) async fn kill_init(pid_file: &Path, cgroups_path: &str) {
    let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<libc::pid_t>().ok())
    else {
        return;
    };
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return;
    }
    // SAFETY: the fd was just returned to us and is owned by nobody else.
    let pidfd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    let in_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map(|c| c.lines().any(|l| l.ends_with(cgroups_path)))
        .unwrap_or(false);
    if !in_cgroup {
        return;
    }
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal on our pidfd with no siginfo.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if sent != 0 {
        return;
    }
    // A pidfd becomes readable when its process exits.
    use tokio::io::{unix::AsyncFd, Interest};
    // SAFETY: an OwnedFd stays open and unchanged for the AsyncFd's lifetime.
    if let Ok(afd) = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) } {
        let _ =
            tokio::time::timeout(Duration::from_millis(INIT_EXIT_WAIT_MS), afd.readable()).await;
    }
}
