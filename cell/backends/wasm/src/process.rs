//! The process handle of a running component: `signal` cancels it (a guest cannot catch
//! signals, so Terminate and Kill both stop it, within one epoch tick), `wait` gives its exit.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use diego_executor::{ExecutorError, ExitStatus, ProcessHandle, Signal};
use tokio::sync::watch;

use crate::state::StopFlags;

/// Exit codes of a stopped component, as a shell reports a process killed by the signal.
pub const EXIT_TERMINATED: i32 = 128 + 15;
pub const EXIT_KILLED: i32 = 128 + 9;
/// A guest that trapped (unreachable, out-of-bounds access, stack overflow): like SIGABRT.
pub const EXIT_TRAPPED: i32 = 128 + 6;

pub(crate) struct WasmProcess {
    pub(crate) flags: Arc<StopFlags>,
    pub(crate) stop: watch::Sender<Option<Signal>>,
    pub(crate) exit: watch::Receiver<Option<ExitStatus>>,
}

/// The runner's half: learns of a stop, reports the exit.
pub(crate) struct Runner {
    pub(crate) flags: Arc<StopFlags>,
    pub(crate) stop: watch::Receiver<Option<Signal>>,
    pub(crate) exit: watch::Sender<Option<ExitStatus>>,
}

impl Runner {
    /// Resolves with the signal once the process is told to stop.
    pub(crate) async fn stopped(&mut self) -> Signal {
        match self.stop.wait_for(|s| s.is_some()).await {
            Ok(signal) => signal.unwrap_or(Signal::Kill),
            // The handle is gone: nobody can wait for us, stop.
            Err(_) => Signal::Kill,
        }
    }

    pub(crate) fn finish(self, status: ExitStatus) {
        let _ = self.exit.send(Some(status));
    }
}

pub(crate) fn stopped_status(signal: Signal) -> ExitStatus {
    ExitStatus {
        code: match signal {
            Signal::Terminate => EXIT_TERMINATED,
            Signal::Kill => EXIT_KILLED,
        },
        oom_killed: false,
    }
}

pub(crate) fn new_process() -> (Arc<WasmProcess>, Runner) {
    let flags = Arc::new(StopFlags::default());
    let (stop_tx, stop_rx) = watch::channel(None);
    let (exit_tx, exit_rx) = watch::channel(None);
    let process = Arc::new(WasmProcess {
        flags: flags.clone(),
        stop: stop_tx,
        exit: exit_rx,
    });
    let runner = Runner {
        flags,
        stop: stop_rx,
        exit: exit_tx,
    };
    (process, runner)
}

impl WasmProcess {
    pub(crate) fn exited(&self) -> bool {
        self.exit.borrow().is_some()
    }
}

#[async_trait]
impl ProcessHandle for WasmProcess {
    async fn wait(&self) -> Result<ExitStatus, ExecutorError> {
        let mut rx = self.exit.clone();
        let status = rx
            .wait_for(|s| s.is_some())
            .await
            .map_err(|_| ExecutorError::backend("wasm instance runner vanished"))?;
        Ok(status.expect("waited for some"))
    }

    async fn signal(&self, signal: Signal) -> Result<(), ExecutorError> {
        if self.exited() {
            return Ok(());
        }
        self.flags.cancelled.store(true, Ordering::SeqCst);
        // The first signal decides the exit code; a Kill after a Terminate changes nothing.
        self.stop.send_if_modified(|s| {
            if s.is_none() {
                *s = Some(signal);
                true
            } else {
                false
            }
        });
        Ok(())
    }
}
