//! Per-container log lines: a bounded ring buffer for `logs()` and a broadcast for tailing.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;

use crate::backend::Stream;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub guid: String,
    /// e.g. "APP", "HEALTH", or the action's log_source
    pub source: String,
    pub stream: Stream,
    pub line: String,
    pub timestamp_ms: u64,
}

const TAIL_CAPACITY: usize = 1024;

/// What an app is told when its lines are dropped for its log rate limit
/// (Diego's executor says the same, at most once a second).
pub const LOG_RATE_EXCEEDED: &str = "app instance exceeded log rate limit";

struct ContainerLog {
    lines: VecDeque<LogLine>,
    tail: broadcast::Sender<LogLine>,
    window_start: Instant,
    lines_in_window: u32,
    /// The work's own limit (`log_rate_limit`); None = unlimited.
    bytes_per_second: Option<u64>,
    bytes_in_window: u64,
    told_in_window: bool,
    dropped: u64,
}

impl ContainerLog {
    fn new() -> Self {
        Self {
            lines: VecDeque::new(),
            tail: broadcast::channel(TAIL_CAPACITY).0,
            window_start: Instant::now(),
            lines_in_window: 0,
            bytes_per_second: None,
            bytes_in_window: 0,
            told_in_window: false,
            dropped: 0,
        }
    }

    /// Whether `line` fits this second's budgets; counts it if so. A line
    /// over the byte budget leaves the notice to send, once per window.
    fn admit(&mut self, line: &str, max_lines_per_second: u32) -> Admit {
        // A one-second fixed window is enough to keep a chatty app from flooding the buffer.
        if self.window_start.elapsed().as_millis() >= 1000 {
            self.window_start = Instant::now();
            self.lines_in_window = 0;
            self.bytes_in_window = 0;
            self.told_in_window = false;
        }
        if max_lines_per_second > 0 && self.lines_in_window >= max_lines_per_second {
            self.dropped += 1;
            return Admit::Drop;
        }
        if let Some(limit) = self.bytes_per_second {
            // the line and its newline, as the app wrote them
            let size = line.len() as u64 + 1;
            if self.bytes_in_window + size > limit {
                self.dropped += 1;
                if self.told_in_window {
                    return Admit::Drop;
                }
                self.told_in_window = true;
                return Admit::DropAndTell(limit);
            }
            self.bytes_in_window += size;
        }
        self.lines_in_window += 1;
        Admit::Keep
    }
}

enum Admit {
    Keep,
    Drop,
    /// Dropped for the byte limit (bytes per second): say so once.
    DropAndTell(u64),
}

pub(crate) struct LogStore {
    capacity_lines: usize,
    max_lines_per_second: u32,
    logs: Mutex<HashMap<String, ContainerLog>>,
}

impl LogStore {
    pub(crate) fn new(capacity_lines: usize, max_lines_per_second: u32) -> Self {
        Self {
            capacity_lines,
            max_lines_per_second,
            logs: Mutex::new(HashMap::new()),
        }
    }

    /// Sets a container's own byte rate limit (None = unlimited).
    pub(crate) fn set_byte_limit(&self, guid: &str, bytes_per_second: Option<u64>) {
        let mut logs = self.logs.lock().expect("log store poisoned");
        logs.entry(guid.to_string())
            .or_insert_with(ContainerLog::new)
            .bytes_per_second = bytes_per_second;
    }

    pub(crate) fn record(&self, guid: &str, source: &str, stream: Stream, line: &str) {
        let mut logs = self.logs.lock().expect("log store poisoned");
        let log = logs
            .entry(guid.to_string())
            .or_insert_with(ContainerLog::new);
        match log.admit(line, self.max_lines_per_second) {
            Admit::Keep => self.push(log, guid, source, stream, line),
            Admit::Drop => {}
            Admit::DropAndTell(limit) => {
                let notice = format!("{LOG_RATE_EXCEEDED} ({limit} bytes/sec)");
                self.push(log, guid, source, Stream::Stderr, &notice)
            }
        }
    }

    fn push(&self, log: &mut ContainerLog, guid: &str, source: &str, stream: Stream, line: &str) {
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let entry = LogLine {
            guid: guid.to_string(),
            source: source.to_string(),
            stream,
            line: line.to_string(),
            timestamp_ms,
        };
        if log.lines.len() >= self.capacity_lines.max(1) {
            log.lines.pop_front();
        }
        log.lines.push_back(entry.clone());
        // No receivers is the normal case when nobody tails.
        let _ = log.tail.send(entry);
    }

    pub(crate) fn lines(&self, guid: &str) -> Vec<LogLine> {
        let logs = self.logs.lock().expect("log store poisoned");
        logs.get(guid)
            .map(|l| l.lines.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn dropped(&self, guid: &str) -> u64 {
        let logs = self.logs.lock().expect("log store poisoned");
        logs.get(guid).map(|l| l.dropped).unwrap_or(0)
    }

    pub(crate) fn tail(&self, guid: &str) -> broadcast::Receiver<LogLine> {
        let mut logs = self.logs.lock().expect("log store poisoned");
        logs.entry(guid.to_string())
            .or_insert_with(ContainerLog::new)
            .tail
            .subscribe()
    }

    pub(crate) fn remove(&self, guid: &str) {
        self.logs.lock().expect("log store poisoned").remove(guid);
    }
}
