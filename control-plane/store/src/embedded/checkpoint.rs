//! When to checkpoint: a durable redb commit, after which the write-ahead
//! log can be emptied.
//!
//! The durable commit fsyncs every page written since the last one. Done
//! straight on the writer thread, that would stall every writer for as long
//! (hundreds of milliseconds after a busy second). So a checkpoint has two
//! steps: a helper thread first fsyncs the redb file while the writer goes
//! on committing to the log, then the writer does the durable commit, which
//! only has the pages written meanwhile left to flush, and empties the log.

use std::fs::File;
use std::path::Path;
use std::sync::mpsc::{self, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::tables::EngineError;

/// How often the writer looks whether the helper's fsync finished.
const FLUSH_POLL: Duration = Duration::from_millis(2);

pub(crate) struct Checkpoints {
    interval: Duration,
    max_wal_bytes: u64,
    last: Instant,
    flushing: bool,
    flush_requests: Option<mpsc::Sender<()>>,
    flushed: mpsc::Receiver<std::io::Result<()>>,
    flusher: Option<JoinHandle<()>>,
}

impl Checkpoints {
    /// Starts the helper that fsyncs the redb file at `db_path`.
    pub(crate) fn start(
        db_path: &Path,
        interval: Duration,
        max_wal_bytes: u64,
    ) -> Result<Self, EngineError> {
        // fsync flushes the file's pages whichever descriptor asks
        let file = File::open(db_path).map_err(|e| {
            EngineError::Wal(format!(
                "cannot open {} for flushing: {e}",
                db_path.display()
            ))
        })?;
        let (flush_requests, requests) = mpsc::channel::<()>();
        let (done, flushed) = mpsc::channel();
        let flusher = std::thread::Builder::new()
            .name("diego-store-flush".to_string())
            .spawn(move || {
                for () in requests {
                    if done.send(file.sync_data()).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| EngineError::Wal(format!("cannot start flush thread: {e}")))?;
        Ok(Self {
            interval,
            max_wal_bytes,
            last: Instant::now(),
            flushing: false,
            flush_requests: Some(flush_requests),
            flushed,
            flusher: Some(flusher),
        })
    }

    /// How long the writer may wait for requests before calling `poll`;
    /// `None` when nothing is pending.
    pub(crate) fn wait_limit(&self, wal_bytes: u64) -> Option<Duration> {
        if self.flushing {
            Some(FLUSH_POLL)
        } else if wal_bytes == 0 {
            None
        } else {
            Some(self.interval.saturating_sub(self.last.elapsed()))
        }
    }

    /// Called by the writer between groups: starts the helper's fsync when
    /// a checkpoint is due, and says `true` once it finished, i.e. when the
    /// writer should do the durable commit now.
    pub(crate) fn poll(&mut self, wal_bytes: u64) -> bool {
        if self.flushing {
            return match self.flushed.try_recv() {
                Err(TryRecvError::Empty) => false,
                Ok(result) => {
                    self.flushing = false;
                    if let Err(e) = result {
                        // the durable commit fsyncs again and reports for real
                        tracing::warn!(error = %e, "store flush before checkpoint failed");
                    }
                    true
                }
                Err(TryRecvError::Disconnected) => {
                    self.flushing = false;
                    true
                }
            };
        }
        let due = wal_bytes >= self.max_wal_bytes || self.last.elapsed() >= self.interval;
        if wal_bytes == 0 || !due {
            return false;
        }
        match &self.flush_requests {
            Some(requests) if requests.send(()).is_ok() => {
                self.flushing = true;
                false
            }
            // no helper: checkpoint the slow way rather than never
            _ => true,
        }
    }

    /// Records a finished (or failed) checkpoint; the next is one interval away.
    pub(crate) fn done(&mut self) {
        self.last = Instant::now();
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.flush_requests.take();
        if let Some(flusher) = self.flusher.take() {
            if flusher.join().is_err() {
                tracing::error!("store flush thread panicked");
            }
        }
    }
}
