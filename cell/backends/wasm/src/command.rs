//! A `wasi:cli/run` command: instantiated once, its exit code is the process's exit status.

use std::sync::atomic::Ordering;

use diego_executor::{ExitStatus, OutputLine, Signal, Stream};
use tokio::sync::mpsc;
use wasmtime::Store;
use wasmtime_wasi::p2::bindings::CommandPre;

use crate::process::{stopped_status, Runner, EXIT_KILLED, EXIT_TRAPPED};
use crate::state::{arm_epoch, InstanceState};

/// Runs the command to its end or until stopped; the store (and with it the guest's pipes)
/// is dropped before the exit is reported.
pub(crate) fn spawn(
    pre: CommandPre<InstanceState>,
    mut store: Store<InstanceState>,
    mut runner: Runner,
    host_log: mpsc::Sender<OutputLine>,
) {
    arm_epoch(&mut store, runner.flags.clone());
    tokio::spawn(async move {
        let outcome = {
            let run = async {
                let command = pre.instantiate_async(&mut store).await?;
                command.wasi_cli_run().call_run(&mut store).await
            };
            tokio::select! {
                outcome = run => Ok(outcome),
                signal = runner.stopped() => Err(signal),
            }
        };
        drop(store);
        let status = match outcome {
            Err(signal) => stopped_status(signal),
            Ok(Ok(Ok(()))) => ExitStatus {
                code: 0,
                oom_killed: false,
            },
            Ok(Ok(Err(()))) => ExitStatus {
                code: 1,
                oom_killed: false,
            },
            Ok(Err(error)) => {
                let out_of_memory = runner.flags.out_of_memory.load(Ordering::SeqCst);
                let cancelled = runner.flags.cancelled.load(Ordering::SeqCst);
                let signal = *runner.stop.borrow();
                let (status, message) =
                    classify(&error, out_of_memory, cancelled.then_some(signal).flatten());
                if let Some(message) = message {
                    let line = OutputLine {
                        stream: Stream::Stderr,
                        line: message,
                    };
                    let _ = host_log.send(line).await;
                }
                status
            }
        };
        drop(host_log);
        runner.finish(status);
    });
}

/// A failed call: the guest's own `exit(n)`, a refused memory grow, a stop that landed as an
/// epoch trap, or a trap of the guest's own.
/// `stopped` is the signal when the instance was told to stop.
pub(crate) fn classify(
    error: &wasmtime::Error,
    out_of_memory: bool,
    stopped: Option<Signal>,
) -> (ExitStatus, Option<String>) {
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return (
            ExitStatus {
                code: exit.0,
                oom_killed: false,
            },
            None,
        );
    }
    if out_of_memory {
        return (
            ExitStatus {
                code: EXIT_KILLED,
                oom_killed: true,
            },
            Some("wasm instance exceeded its memory limit".to_string()),
        );
    }
    if let Some(signal) = stopped {
        return (stopped_status(signal), None);
    }
    (
        ExitStatus {
            code: EXIT_TRAPPED,
            oom_killed: false,
        },
        Some(format!("wasm trap: {error:#}")),
    )
}
