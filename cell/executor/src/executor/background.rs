//! Timers: reservation expiry and the container reaper.

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::Inner;
use crate::container::ContainerState;
use crate::ExecutorError;

pub(super) fn expire_later(inner: &Arc<Inner>, guid: String) {
    let weak = Arc::downgrade(inner);
    let after = Duration::from_millis(inner.cfg.reserved_expiration_ms);
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let Some(inner) = weak.upgrade() else { return };
        let still_reserved = inner
            .lock()
            .get(&guid)
            .is_some_and(|r| r.container.state == ContainerState::Reserved);
        if still_reserved {
            inner.complete(&guid, true, "expired container".to_string(), false);
        }
    });
}

pub(super) fn start_reaper(inner: &Arc<Inner>) {
    if tokio::runtime::Handle::try_current().is_err() {
        tracing::warn!("executor created outside a tokio runtime: reaper not started");
        return;
    }
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let every = Duration::from_millis(inner.cfg.reap_interval_ms.max(1));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            // The loop ends with the executor.
            let Some(inner) = weak.upgrade() else { return };
            if let Err(e) = reap_once(&inner).await {
                tracing::warn!(error = %e, "container reaper pass failed");
            }
        }
    });
}

pub(super) async fn reap_once(inner: &Inner) -> Result<(), ExecutorError> {
    let present: HashSet<String> = inner.backend.list().await?.into_iter().collect();
    let (missing, known): (Vec<String>, HashSet<String>) = {
        let records = inner.lock();
        let missing = records
            .values()
            .filter(|r| {
                matches!(
                    r.container.state,
                    ContainerState::Created | ContainerState::Running
                )
            })
            .filter(|r| !present.contains(&r.container.guid))
            .map(|r| r.container.guid.clone())
            .collect();
        (missing, records.keys().cloned().collect())
    };
    for guid in missing {
        if let Some(cancel) = inner.lock().get(&guid).and_then(|r| r.cancel.clone()) {
            cancel.cancel();
        }
        inner.complete(&guid, true, "missing garden container".to_string(), false);
    }
    for orphan in present.difference(&known) {
        tracing::info!(guid = %orphan, "destroying container unknown to the executor");
        inner.backend.destroy(orphan).await?;
    }
    Ok(())
}
