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

struct ContainerLog {
    lines: VecDeque<LogLine>,
    tail: broadcast::Sender<LogLine>,
    window_start: Instant,
    lines_in_window: u32,
    dropped: u64,
}

impl ContainerLog {
    fn new() -> Self {
        Self {
            lines: VecDeque::new(),
            tail: broadcast::channel(TAIL_CAPACITY).0,
            window_start: Instant::now(),
            lines_in_window: 0,
            dropped: 0,
        }
    }
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

    pub(crate) fn record(&self, guid: &str, source: &str, stream: Stream, line: &str) {
        let mut logs = self.logs.lock().expect("log store poisoned");
        let log = logs
            .entry(guid.to_string())
            .or_insert_with(ContainerLog::new);
        if self.max_lines_per_second > 0 {
            // A one-second fixed window is enough to keep a chatty app from flooding the buffer.
            if log.window_start.elapsed().as_millis() >= 1000 {
                log.window_start = Instant::now();
                log.lines_in_window = 0;
            }
            if log.lines_in_window >= self.max_lines_per_second {
                log.dropped += 1;
                return;
            }
            log.lines_in_window += 1;
        }
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
