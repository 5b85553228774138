//! Pipelined durability of the write-ahead log (ADR 0033).
//!
//! The writer thread appends a group's frame with a plain write and hands
//! the group here; it goes on applying the next group while the log is
//! fdatasynced. A few sync threads keep up to `sync_threads` fdatasyncs in
//! flight: one starts whenever bytes were written that no running sync
//! covers. A sync that returns makes every byte written before it started
//! durable, so the groups ending at or below that offset are published (the
//! readers' snapshot and the revision) and answered, strictly in log order.
//!
//! Several syncs in flight matter on a virtual disk that completes a lone
//! flush only on a ~4 ms host tick but completes queued requests as they
//! arrive (measured in ADR 0033), and on any disk they overlap the CPU of
//! the next group with the sync of the previous one.

use std::collections::VecDeque;
use std::fs::File;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;

use redb::ReadTransaction;
use tokio::sync::watch;

use super::tables::EngineError;
use super::writer::Answer;
use crate::Revision;

/// The snapshot readers use: the redb state after the newest group that is
/// durable. redb itself may already hold later groups (committed without a
/// sync), which no reader may see before their frame is on disk.
pub(crate) struct Published {
    snapshot: RwLock<Arc<ReadTransaction>>,
}

impl Published {
    pub(crate) fn new(snapshot: ReadTransaction) -> Self {
        Self {
            snapshot: RwLock::new(Arc::new(snapshot)),
        }
    }

    pub(crate) fn get(&self) -> Arc<ReadTransaction> {
        // a poisoned lock only means a panic elsewhere; the Arc is intact
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set(&self, snapshot: Arc<ReadTransaction>) {
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = snapshot;
    }
}

/// A group whose frame is written but maybe not yet durable.
pub(crate) struct PendingGroup {
    /// Log offset just past the group's frame.
    pub(crate) end_bytes: u64,
    pub(crate) current: Revision,
    pub(crate) snapshot: Arc<ReadTransaction>,
    pub(crate) answers: Vec<Answer>,
}

struct State {
    /// Bytes written to the log (by the writer thread).
    written_bytes: u64,
    /// The highest offset an in-flight or finished sync covers.
    requested_bytes: u64,
    durable_bytes: u64,
    in_flight: usize,
    pending: VecDeque<PendingGroup>,
    failed: Option<String>,
    closing: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes sync threads (new bytes, closing) and the writer (drained).
    changed: Condvar,
    file: Arc<File>,
    published: Arc<Published>,
    revision_tx: Arc<watch::Sender<Revision>>,
    max_in_flight: usize,
}

pub(crate) struct Pipeline {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Pipeline {
    pub(crate) fn start(
        file: Arc<File>,
        written_bytes: u64,
        sync_threads: usize,
        published: Arc<Published>,
        revision_tx: Arc<watch::Sender<Revision>>,
    ) -> Result<Self, EngineError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                written_bytes,
                requested_bytes: written_bytes,
                durable_bytes: written_bytes,
                in_flight: 0,
                pending: VecDeque::new(),
                failed: None,
                closing: false,
            }),
            changed: Condvar::new(),
            file,
            published,
            revision_tx,
            max_in_flight: sync_threads.max(1),
        });
        let mut threads = Vec::new();
        for n in 0..shared.max_in_flight {
            let shared = shared.clone();
            let thread = std::thread::Builder::new()
                .name(format!("diego-store-sync-{n}"))
                .spawn(move || shared.run_syncs())
                .map_err(|e| EngineError::Wal(format!("cannot start wal sync thread: {e}")))?;
            threads.push(thread);
        }
        Ok(Self { shared, threads })
    }

    /// Hands over a group whose frame was just written (the log is now
    /// `group.end_bytes` long); it is answered once that is durable.
    pub(crate) fn submit(&self, group: PendingGroup) {
        let mut state = self.shared.lock();
        state.written_bytes = group.end_bytes;
        if let Some(reason) = state.failed.clone() {
            drop(state);
            fail_all(vec![group], &reason);
            return;
        }
        state.pending.push_back(group);
        // a group without a frame (all its checks failed, say) is durable
        // as soon as everything before it is
        let done = self.shared.take_durable(&mut state);
        drop(state);
        self.shared.changed.notify_all();
        for group in done {
            for answer in group.answers {
                answer.send();
            }
        }
    }

    /// The reason the log could not be synced, once that happened; the
    /// writer stops then (memory may hold groups the disk does not).
    pub(crate) fn failure(&self) -> Option<String> {
        self.shared.lock().failed.clone()
    }

    /// Waits until every submitted group is durable and answered (before a
    /// checkpoint empties the log, and on close). Returns the sync failure
    /// if there was one.
    pub(crate) fn drain(&self) -> Result<(), String> {
        let mut state = self.shared.lock();
        while !state.pending.is_empty() && state.failed.is_none() {
            state = self
                .shared
                .changed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        match &state.failed {
            Some(reason) => Err(reason.clone()),
            None => Ok(()),
        }
    }

    /// The log was emptied (by a checkpoint, after `drain`).
    pub(crate) fn reset(&self, len_bytes: u64) {
        let mut state = self.shared.lock();
        state.written_bytes = len_bytes;
        state.requested_bytes = len_bytes;
        state.durable_bytes = len_bytes;
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.changed.notify_all();
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                tracing::error!("store wal sync thread panicked");
            }
        }
        // only after a sync failure can groups be left; they were never
        // made durable
        let left: Vec<_> = self.shared.lock().pending.drain(..).collect();
        fail_all(left, "store closed before the commit was durable");
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run_syncs(&self) {
        let mut state = self.lock();
        loop {
            let startable = state.failed.is_none()
                && state.written_bytes > state.requested_bytes
                && state.in_flight < self.max_in_flight;
            if startable {
                let target = state.written_bytes;
                state.requested_bytes = target;
                state.in_flight += 1;
                drop(state);
                let synced = self.file.sync_data();
                state = self.lock();
                state.in_flight -= 1;
                let done = match synced {
                    Ok(()) => {
                        state.durable_bytes = state.durable_bytes.max(target);
                        self.take_durable(&mut state)
                    }
                    Err(err) => {
                        let reason = format!("cannot sync wal: {err}");
                        tracing::error!(error = %reason, "store wal sync failed");
                        state.failed = Some(reason.clone());
                        let left: Vec<_> = state.pending.drain(..).collect();
                        drop(state);
                        fail_all(left, &reason);
                        self.changed.notify_all();
                        state = self.lock();
                        continue;
                    }
                };
                if !done.is_empty() {
                    // answered outside the lock; they are already published
                    drop(state);
                    for group in done {
                        for answer in group.answers {
                            answer.send();
                        }
                    }
                    self.changed.notify_all();
                    state = self.lock();
                }
                continue;
            }
            // the writer drained before closing; nothing is left to sync
            if state.closing {
                return;
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Pops the groups that are durable now and publishes the newest of
    /// them, under the lock so publication never goes backwards.
    fn take_durable(&self, state: &mut State) -> Vec<PendingGroup> {
        let mut done = Vec::new();
        while state
            .pending
            .front()
            .is_some_and(|g| g.end_bytes <= state.durable_bytes)
        {
            done.extend(state.pending.pop_front());
        }
        if let Some(newest) = done.last() {
            // snapshot first, then the revision: a caller woken by the
            // revision reads at least that state
            self.published.set(newest.snapshot.clone());
            let current = newest.current;
            self.revision_tx.send_if_modified(|seen| {
                let changed = *seen != current;
                *seen = current;
                changed
            });
        }
        done
    }
}

fn fail_all(groups: Vec<PendingGroup>, reason: &str) {
    for group in groups {
        for answer in group.answers {
            answer.fail(reason);
        }
    }
}
