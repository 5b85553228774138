//! Guest stdout/stderr become the process's log lines: the guest writes into an in-memory
//! pipe that a task reads line by line into the `Spawned::output` channel.

use std::sync::Arc;

use diego_executor::{OutputLine, Stream};
use tokio::io::{AsyncBufReadExt, AsyncWrite, BufReader};
use tokio::sync::mpsc;
use wasmtime_wasi::cli::{AsyncStdoutStream, IsTerminal, StdoutStream};
use wasmtime_wasi::p2::OutputStream;

/// Bytes the pipe holds before the guest's writes wait for the reader.
const PIPE_BYTES: usize = 64 * 1024;

/// One guest stream, shared by every store of the instance (an http component gets a store
/// per request); the pipe closes when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct GuestOut(Arc<AsyncStdoutStream>);

impl IsTerminal for GuestOut {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOut {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        self.0.p2_stream()
    }
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        self.0.async_stream()
    }
}

/// The line channel of one process: the guest's pipes and the host's own messages (a trap,
/// an out-of-memory stop) feed it; it closes when all of them are gone.
pub(crate) struct Output {
    tx: mpsc::Sender<OutputLine>,
    rx: mpsc::Receiver<OutputLine>,
}

impl Output {
    pub(crate) fn sender(&self) -> mpsc::Sender<OutputLine> {
        self.tx.clone()
    }

    pub(crate) fn into_receiver(self) -> mpsc::Receiver<OutputLine> {
        self.rx
    }
}

/// Stdout and stderr of one process, and the channel of their lines.
pub(crate) fn pipes() -> (GuestOut, GuestOut, Output) {
    let (tx, rx) = mpsc::channel(256);
    let out = pipe(Stream::Stdout, tx.clone());
    let err = pipe(Stream::Stderr, tx.clone());
    (out, err, Output { tx, rx })
}

fn pipe(stream: Stream, tx: mpsc::Sender<OutputLine>) -> GuestOut {
    // A duplex end closes the pipe when dropped (a `simplex` write half would not).
    let (reader, writer) = tokio::io::duplex(PIPE_BYTES);
    tokio::spawn(async move {
        // Bytes, not `lines()`: invalid UTF-8 must not stop the reader (the guest would then
        // block on a full pipe).
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&buf);
            let line = text.trim_end_matches(['\n', '\r']).to_string();
            // Nobody listens any more: keep draining, since a guest whose stdout fails
            // traps on its next `println!`.
            let _ = tx.send(OutputLine { stream, line }).await;
        }
    });
    GuestOut(Arc::new(AsyncStdoutStream::new(PIPE_BYTES, writer)))
}
