//! The event hub: watches read the store's change log from a revision and
//! then follow new commits, so a client that reconnects with its last
//! revision gets exactly the events after it.

use diego_model::Event;
use diego_store::Revision;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::codec;
use crate::error::{BbsError, Result};
use crate::Bbs;

/// How many log entries one read takes.
const LOG_PAGE: usize = 512;
/// Buffered events per watcher before the reader waits for the client.
const WATCH_BUFFER: usize = 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchFilter {
    /// Kinds to include: "task", "desired_lrp", "actual_lrp"; empty = all.
    pub kinds: Vec<String>,
    pub process_guid: String,
    pub cell_id: String,
}

impl WatchFilter {
    pub fn matches(&self, e: &Event) -> bool {
        let kind = if e.is_task() {
            "task"
        } else if e.is_desired() {
            "desired_lrp"
        } else {
            "actual_lrp"
        };
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k == kind) {
            return false;
        }
        if !self.process_guid.is_empty() && e.process_guid() != Some(self.process_guid.as_str()) {
            return false;
        }
        if !self.cell_id.is_empty() && !e.cell_ids().contains(&self.cell_id.as_str()) {
            return false;
        }
        true
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WatchItem {
    pub revision: Revision,
    /// The event's place among its revision's events (a transaction, such
    /// as a batch of convergence changes, can hold many).
    pub position: u32,
    pub event: Event,
    /// The request id of the call that caused the event (empty for the
    /// BBS's own changes); see `trace`.
    pub trace_id: String,
}

impl Bbs {
    pub async fn current_revision(&self) -> Result<Revision> {
        Ok(self.store.current_revision().await?)
    }

    /// Events after `since` (or from now, when `None`) that match the filter;
    /// with `since_position`, `since` was seen only up to that position and
    /// its later events come first. The stream ends with an error if `since`
    /// was compacted away.
    pub async fn watch(
        &self,
        filter: WatchFilter,
        since: Option<Revision>,
        since_position: Option<u32>,
    ) -> Result<ReceiverStream<Result<WatchItem>>> {
        // resuming inside a revision: read it again, skipping what was seen
        let (mut cursor, seen) = match (since, since_position) {
            (Some(r), Some(p)) if r > 0 => (r - 1, Some((r, p))),
            (Some(r), _) => (r, None),
            (None, _) => (self.store.current_revision().await?, None),
        };
        // Surface a compacted revision as an error of the call, not the stream.
        self.store.log_since(cursor, 1).await?;
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let store = self.store.clone();
        let mut notify = store.subscribe();
        tokio::spawn(async move {
            loop {
                let page = match store.log_since(cursor, LOG_PAGE).await {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send(Err(BbsError::Store(e))).await;
                        return;
                    }
                };
                for entry in &page {
                    for (position, raw) in entry.entries.iter().enumerate() {
                        // positions count every event of the revision, so
                        // they mean the same whatever the filter
                        let position = position as u32;
                        if seen.is_some_and(|(r, p)| entry.revision == r && position <= p) {
                            continue;
                        }
                        let (event, trace_id) = match codec::decode_event("log", raw) {
                            Ok(e) => e,
                            Err(e) => {
                                tracing::warn!(error = %e, revision = entry.revision, "undecodable event");
                                continue;
                            }
                        };
                        if filter.matches(&event)
                            && tx
                                .send(Ok(WatchItem {
                                    revision: entry.revision,
                                    position,
                                    event,
                                    trace_id,
                                }))
                                .await
                                .is_err()
                        {
                            return;
                        }
                    }
                    cursor = entry.revision;
                }
                if page.len() < LOG_PAGE {
                    // Caught up: wait for the next commit or for the client to go.
                    tokio::select! {
                        changed = notify.changed() => if changed.is_err() { return },
                        _ = tx.closed() => return,
                    }
                }
            }
        });
        Ok(ReceiverStream::new(rx))
    }
}
