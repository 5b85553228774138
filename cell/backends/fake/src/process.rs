//! A fake process: interprets its commands on a tokio task, answers signals.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use diego_executor::{
    ExecutorError, ExitStatus, OutputLine, ProcessHandle, ProcessSpec, Signal, Stream,
};
use tokio::sync::{mpsc, watch};

use crate::script::{Command, Redirect};
use crate::Files;

pub(crate) struct FakeProcess {
    exit: watch::Receiver<Option<ExitStatus>>,
    signals: mpsc::UnboundedSender<Signal>,
}

#[async_trait]
impl ProcessHandle for FakeProcess {
    async fn wait(&self) -> Result<ExitStatus, ExecutorError> {
        let mut rx = self.exit.clone();
        let status = rx
            .wait_for(|s| s.is_some())
            .await
            .map_err(|_| ExecutorError::backend("fake process vanished"))?;
        Ok(status.expect("waited for some"))
    }

    async fn signal(&self, signal: Signal) -> Result<(), ExecutorError> {
        // A process that already exited ignores signals, as kill(2) on a zombie would.
        let _ = self.signals.send(signal);
        Ok(())
    }
}

pub(crate) struct Running {
    pub handle: Arc<FakeProcess>,
    pub output: mpsc::Receiver<OutputLine>,
    /// Lets the backend kill the process when the container is destroyed.
    pub killer: mpsc::UnboundedSender<Signal>,
}

pub(crate) fn start(
    spec: ProcessSpec,
    commands: Vec<Command>,
    files: Files,
    live: Arc<Mutex<usize>>,
) -> Running {
    let (exit_tx, exit_rx) = watch::channel(None);
    let (sig_tx, sig_rx) = mpsc::unbounded_channel();
    let (out_tx, out_rx) = mpsc::channel(256);
    *live.lock().expect("live count poisoned") += 1;
    tokio::spawn(async move {
        let status = interpret(&spec, commands, &files, out_tx, sig_rx).await;
        *live.lock().expect("live count poisoned") -= 1;
        let _ = exit_tx.send(Some(status));
    });
    let handle = Arc::new(FakeProcess {
        exit: exit_rx,
        signals: sig_tx.clone(),
    });
    Running {
        handle,
        output: out_rx,
        killer: sig_tx,
    }
}

fn status(code: i32) -> ExitStatus {
    ExitStatus {
        code,
        oom_killed: false,
    }
}

/// Waits `dur` (forever when None) unless a signal ends the process first.
async fn idle(
    dur: Option<Duration>,
    signals: &mut mpsc::UnboundedReceiver<Signal>,
    ignore_term: bool,
) -> Option<ExitStatus> {
    let sleep = async {
        match dur {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return None,
            sig = signals.recv() => match sig {
                Some(Signal::Kill) => return Some(status(137)),
                Some(Signal::Terminate) if !ignore_term => return Some(status(143)),
                Some(Signal::Terminate) => {}
                // Every sender is gone: nobody can signal, so just finish the wait.
                None => {
                    sleep.as_mut().await;
                    return None;
                }
            },
        }
    }
}

async fn interpret(
    spec: &ProcessSpec,
    commands: Vec<Command>,
    files: &Files,
    out: mpsc::Sender<OutputLine>,
    mut signals: mpsc::UnboundedReceiver<Signal>,
) -> ExitStatus {
    let mut ignore_term = false;
    let say = |stream, line: String| {
        let out = out.clone();
        async move {
            let _ = out.send(OutputLine { stream, line }).await;
        }
    };
    for command in commands {
        // A signal sent between commands still counts.
        if let Some(s) = idle(Some(Duration::ZERO), &mut signals, ignore_term).await {
            return s;
        }
        match command {
            Command::Echo {
                text,
                to: Redirect::Stdout,
            } => say(Stream::Stdout, text).await,
            Command::Echo {
                text,
                to: Redirect::Stderr,
            } => say(Stream::Stderr, text).await,
            Command::Echo {
                text,
                to: Redirect::File { path, append },
            } => {
                let mut files = files.lock().expect("files poisoned");
                let entry = files.entry(path).or_default();
                if !append {
                    entry.clear();
                }
                entry.extend_from_slice(text.as_bytes());
                entry.push(b'\n');
            }
            Command::Cat(path) => {
                let content = files.lock().expect("files poisoned").get(&path).cloned();
                match content {
                    Some(bytes) => {
                        for line in String::from_utf8_lossy(&bytes).lines() {
                            say(Stream::Stdout, line.to_string()).await;
                        }
                    }
                    None => {
                        say(
                            Stream::Stderr,
                            format!("cat: can't open '{path}': No such file or directory"),
                        )
                        .await;
                        return status(1);
                    }
                }
            }
            Command::Sleep(secs) => {
                let dur = Duration::from_secs_f64(secs.max(0.0));
                if let Some(s) = idle(Some(dur), &mut signals, ignore_term).await {
                    return s;
                }
            }
            Command::Exit(code) => return status(code),
            Command::IgnoreTerm => ignore_term = true,
            Command::Oom => {
                return ExitStatus {
                    code: 137,
                    oom_killed: true,
                }
            }
            Command::Env => {
                for var in &spec.env {
                    say(Stream::Stdout, format!("{}={}", var.name, var.value)).await;
                }
            }
            Command::WhoAmI => say(Stream::Stdout, spec.user.clone()).await,
            Command::Serve => {
                if let Some(s) = idle(None, &mut signals, ignore_term).await {
                    return s;
                }
            }
        }
    }
    status(0)
}
