//! Keeps `subscribe()` current with commits of every writer (other
//! processes too) by watching the counter key; reconnects with backoff.

use std::sync::Arc;

use etcd_client::WatchOptions;

use crate::layout::decode_rev;
use crate::read::current;
use crate::retry::Backoff;
use crate::Shared;

pub(crate) async fn follow(shared: Arc<Shared>) {
    let mut backoff = Backoff::new();
    loop {
        match follow_once(&shared, &mut backoff).await {
            Ok(()) => tracing::debug!("etcd revision watch ended; reconnecting"),
            Err(e) => tracing::warn!(error = %e, "etcd revision watch failed; reconnecting"),
        }
        backoff.wait().await;
    }
}

/// One watch session: read the counter, then watch it from just after that
/// read so no commit falls in the gap.
async fn follow_once(shared: &Shared, backoff: &mut Backoff) -> Result<(), String> {
    let at = current(shared).await.map_err(|e| e.to_string())?;
    shared.publish(at.revision);
    let options = WatchOptions::new().with_start_revision(at.etcd_revision + 1);
    let (_watcher, mut stream) = shared
        .client
        .clone()
        .watch(shared.layout.rev(), Some(options))
        .await
        .map_err(|e| e.to_string())?;
    while let Some(resp) = stream.message().await.map_err(|e| e.to_string())? {
        if resp.canceled() {
            return Err(format!("watch canceled: {}", resp.cancel_reason()));
        }
        // a healthy stream resets the backoff for the next failure
        *backoff = Backoff::new();
        for event in resp.events() {
            if let Some(kv) = event.kv() {
                if let Ok((revision, _)) = decode_rev(kv.value()) {
                    shared.publish(revision);
                }
            }
        }
    }
    Ok(())
}
